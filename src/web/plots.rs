//! The practice view's charts as inline SVG, computed from plain data (no JS, a few KB each):
//! calls per day stacked by request type, the after-hours share per day, and a histogram of the
//! time from call to first provider response.

use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;

use super::html::{esc, label};

/// One call as the charts see it.
#[derive(Debug, Clone)]
pub struct CallPoint {
    pub started_at: DateTime<Utc>,
    pub kind: String,
    pub after_hours: bool,
    /// Call end to first response, when there was one.
    pub response: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Day {
    pub date: NaiveDate,
    pub by_type: BTreeMap<String, usize>,
    pub after_hours: usize,
    pub total: usize,
}

/// The last `days` local days ending with `today`, oldest first, empty days included.
pub fn per_day(calls: &[CallPoint], tz: Tz, today: NaiveDate, days: usize) -> Vec<Day> {
    let first = today - Duration::days(days as i64 - 1);
    let mut out: Vec<Day> = (0..days).map(|i| Day { date: first + Duration::days(i as i64), ..Default::default() }).collect();
    for call in calls {
        let date = call.started_at.with_timezone(&tz).date_naive();
        if date < first || date > today {
            continue;
        }
        let day = &mut out[(date - first).num_days() as usize];
        *day.by_type.entry(call.kind.clone()).or_default() += 1;
        day.total += 1;
        day.after_hours += call.after_hours as usize;
    }
    out
}

const COLORS: [&str; 12] = ["#123c69", "#2e7d32", "#c62828", "#f9a825", "#6a1b9a", "#00838f", "#ef6c00", "#5d4037", "#546e7a", "#ad1457", "#9e9d24", "#283593"];

const W: f64 = 340.0;
const H: f64 = 180.0;
const LEFT: f64 = 28.0;
const BOTTOM: f64 = 22.0;

fn frame(out: &mut String, title: &str, max: f64, unit: &str) {
    let _ = write!(out, "<svg viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\" font-size=\"9\" font-family=\"sans-serif\">", esc(title));
    for step in 0..=2 {
        let value = max * step as f64 / 2.0;
        let y = H - BOTTOM - (H - BOTTOM - 8.0) * step as f64 / 2.0;
        let _ = write!(
            out,
            "<line x1=\"{LEFT}\" x2=\"{W}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#dde1e7\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}{unit}</text>",
            LEFT - 3.0,
            y + 3.0,
            value.round()
        );
    }
}

/// Stacked bars per day, one colour per request type, with a legend below.
pub fn calls_per_day_svg(days: &[Day]) -> String {
    let kinds: Vec<String> = days.iter().flat_map(|d| d.by_type.keys().cloned()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    let max = days.iter().map(|d| d.total).max().unwrap_or(0).max(1) as f64;
    let mut out = String::new();
    frame(&mut out, "Calls per day by request type", max, "");
    let slot = (W - LEFT) / days.len().max(1) as f64;
    let scale = (H - BOTTOM - 8.0) / max;
    for (i, day) in days.iter().enumerate() {
        let x = LEFT + i as f64 * slot + slot * 0.15;
        let mut y = H - BOTTOM;
        for (kind, count) in &day.by_type {
            let color = COLORS[kinds.iter().position(|k| k == kind).unwrap_or(0) % COLORS.len()];
            let h = *count as f64 * scale;
            y -= h;
            let _ = write!(
                out,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{color}\"><title>{} {}: {count}</title></rect>",
                slot * 0.7,
                day.date.format("%b %d"),
                esc(&label(kind))
            );
        }
        if i % 2 == (days.len() + 1) % 2 {
            let _ = write!(out, "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>", x + slot * 0.35, H - 8.0, day.date.format("%d"));
        }
    }
    out.push_str("</svg><div class=\"row\">");
    for (i, kind) in kinds.iter().enumerate() {
        let _ = write!(out, "<span class=\"badge\"><span style=\"color:{}\">■</span> {}</span>", COLORS[i % COLORS.len()], esc(&label(kind)));
    }
    out.push_str("</div>");
    out
}

/// Share of each day's calls that came after hours, as bars in percent.
pub fn after_hours_svg(days: &[Day]) -> String {
    let mut out = String::new();
    frame(&mut out, "After-hours share of calls per day", 100.0, "%");
    let slot = (W - LEFT) / days.len().max(1) as f64;
    let scale = (H - BOTTOM - 8.0) / 100.0;
    for (i, day) in days.iter().enumerate() {
        let x = LEFT + i as f64 * slot + slot * 0.15;
        if day.total > 0 {
            let share = 100.0 * day.after_hours as f64 / day.total as f64;
            let h = share * scale;
            let _ = write!(
                out,
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"#6a1b9a\"><title>{}: {share:.0}% of {}</title></rect>",
                H - BOTTOM - h,
                slot * 0.7,
                day.date.format("%b %d"),
                day.total
            );
        }
        if i % 2 == (days.len() + 1) % 2 {
            let _ = write!(out, "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>", x + slot * 0.35, H - 8.0, day.date.format("%d"));
        }
    }
    out.push_str("</svg>");
    out
}

/// Response-time buckets: under 1 h, 1-4 h, 4-12 h, 12-24 h, over a day.
pub const BUCKETS: [&str; 5] = ["<1 h", "1-4 h", "4-12 h", "12-24 h", ">1 d"];

pub fn response_buckets(responses: &[Duration]) -> [usize; 5] {
    let mut counts = [0; 5];
    for r in responses {
        let hours = r.num_minutes() as f64 / 60.0;
        let index = match hours {
            h if h < 1.0 => 0,
            h if h < 4.0 => 1,
            h if h < 12.0 => 2,
            h if h < 24.0 => 3,
            _ => 4,
        };
        counts[index] += 1;
    }
    counts
}

pub fn median(responses: &[Duration]) -> Option<Duration> {
    let mut sorted = responses.to_vec();
    sorted.sort();
    sorted.get(sorted.len() / 2).copied().filter(|_| !sorted.is_empty())
}

pub fn response_svg(responses: &[Duration]) -> String {
    let counts = response_buckets(responses);
    let max = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let mut out = String::new();
    frame(&mut out, "Time from call to provider response", max, "");
    let slot = (W - LEFT) / counts.len() as f64;
    let scale = (H - BOTTOM - 8.0) / max;
    for (i, count) in counts.iter().enumerate() {
        let x = LEFT + i as f64 * slot + slot * 0.15;
        let h = *count as f64 * scale;
        let _ = write!(
            out,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"#00838f\"><title>{}: {count}</title></rect><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            H - BOTTOM - h,
            slot * 0.7,
            BUCKETS[i],
            x + slot * 0.35,
            H - 8.0,
            BUCKETS[i]
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn days_are_local_and_complete() {
        let tz: Tz = "America/Chicago".parse().unwrap();
        let calls = vec![
            CallPoint { started_at: at("2026-11-25T03:00:00Z"), kind: "refill".into(), after_hours: true, response: None },
            CallPoint { started_at: at("2026-11-25T15:00:00Z"), kind: "refill".into(), after_hours: false, response: None },
            CallPoint { started_at: at("2026-11-25T16:00:00Z"), kind: "billing".into(), after_hours: false, response: None },
            CallPoint { started_at: at("2026-10-01T16:00:00Z"), kind: "billing".into(), after_hours: false, response: None },
        ];
        let days = per_day(&calls, tz, NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(), 7);
        assert_eq!(days.len(), 7);
        assert_eq!(days[5].date, NaiveDate::from_ymd_opt(2026, 11, 24).unwrap());
        assert_eq!(days[5].total, 1, "03:00 UTC is the evening before in Chicago");
        assert_eq!(days[5].after_hours, 1);
        assert_eq!(days[6].by_type.get("refill"), Some(&1));
        assert_eq!(days[6].total, 2);
        let svg = calls_per_day_svg(&days);
        assert_eq!(svg.matches("<rect").count(), 3, "one rect per (day, type)");
        assert!(svg.contains("Billing") && svg.contains("Refill"));
        assert_eq!(after_hours_svg(&days).matches("<rect").count(), 2, "days without calls have no bar");
    }

    #[test]
    fn response_buckets_and_median() {
        let r: Vec<Duration> = [10, 70, 300, 900, 2000].iter().map(|m| Duration::minutes(*m)).collect();
        assert_eq!(response_buckets(&r), [1, 1, 1, 1, 1]);
        assert_eq!(median(&r), Some(Duration::minutes(300)));
        assert_eq!(median(&[]), None);
        assert!(response_svg(&r).contains("12-24 h"));
    }
}
