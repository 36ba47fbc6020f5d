//! Practice hours: weekly opening times in the practice's time zone, plus holidays, decide whether
//! a moment is after hours. Pure: the caller passes the time.
//!
//! Configured in `[practice]` of chartline.toml:
//! ```toml
//! [practice]
//! time_zone = "America/Chicago"
//! holidays = ["2026-12-25", "2027-01-01"]
//! [practice.hours]
//! mon = ["08:00-12:00", "13:00-17:00"]
//! sat = []
//! ```

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;
use thiserror::Error;

/// `[practice]`: the practice's name, time zone, opening hours and holidays.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PracticeConfig {
    pub name: String,
    /// IANA time zone of the practice, e.g. `America/Chicago`.
    pub time_zone: String,
    /// Weekly opening hours in local time (`[practice.hours]`, `mon = ["08:00-17:00"]`).
    pub hours: WeeklyHours,
    /// Closed days, `"YYYY-MM-DD"`.
    pub holidays: Vec<String>,
}

impl Default for PracticeConfig {
    fn default() -> Self {
        Self { name: "Chartline Demo Practice".into(), time_zone: "America/Chicago".into(), hours: Default::default(), holidays: Vec::new() }
    }
}

impl PracticeConfig {
    /// The practice's time zone (validated with the configuration; Chicago if it somehow is not).
    pub fn tz(&self) -> Tz {
        self.time_zone.parse().unwrap_or(chrono_tz::America::Chicago)
    }
}

/// Opening intervals per weekday, `"HH:MM-HH:MM"` in local time; an empty list = closed all day.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WeeklyHours {
    pub mon: Vec<String>,
    pub tue: Vec<String>,
    pub wed: Vec<String>,
    pub thu: Vec<String>,
    pub fri: Vec<String>,
    pub sat: Vec<String>,
    pub sun: Vec<String>,
}

impl Default for WeeklyHours {
    fn default() -> Self {
        let day = || vec!["08:00-17:00".to_string()];
        Self { mon: day(), tue: day(), wed: day(), thu: day(), fri: day(), sat: vec![], sun: vec![] }
    }
}

/// A configuration problem: the key (relative to `[practice]`) and what is wrong.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("`{key}` {problem}")]
pub struct HoursError {
    pub key: String,
    pub problem: String,
}

/// Compiled practice hours.
#[derive(Debug, Clone)]
pub struct PracticeHours {
    tz: Tz,
    /// Monday first.
    week: [Vec<(NaiveTime, NaiveTime)>; 7],
    holidays: Vec<NaiveDate>,
}

/// Parses `"HH:MM"`.
pub fn parse_time(text: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(text.trim(), "%H:%M").ok()
}

fn parse_interval(text: &str) -> Option<(NaiveTime, NaiveTime)> {
    let (a, b) = text.split_once('-')?;
    let start = parse_time(a)?;
    // "24:00" closes at midnight.
    let end = if b.trim() == "24:00" { NaiveTime::from_hms_opt(23, 59, 59)? } else { parse_time(b)? };
    (start < end).then_some((start, end))
}

impl PracticeHours {
    pub fn new(time_zone: &str, hours: &WeeklyHours, holidays: &[String]) -> Result<Self, HoursError> {
        let bad = |key: &str, problem: String| HoursError { key: key.to_string(), problem };
        let tz: Tz = time_zone.parse().map_err(|_| bad("time_zone", format!("is not an IANA time zone: {time_zone:?}")))?;
        let days = [("mon", &hours.mon), ("tue", &hours.tue), ("wed", &hours.wed), ("thu", &hours.thu), ("fri", &hours.fri), ("sat", &hours.sat), ("sun", &hours.sun)];
        let mut week: [Vec<(NaiveTime, NaiveTime)>; 7] = Default::default();
        for (index, (name, intervals)) in days.into_iter().enumerate() {
            for text in intervals {
                let interval = parse_interval(text).ok_or_else(|| bad(&format!("hours.{name}"), format!("has {text:?}; expected \"HH:MM-HH:MM\" with start before end")))?;
                week[index].push(interval);
            }
        }
        let holidays =
            holidays.iter().map(|d| NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").map_err(|_| bad("holidays", format!("has {d:?}; expected a date \"YYYY-MM-DD\"")))).collect::<Result<_, _>>()?;
        Ok(Self { tz, week, holidays })
    }

    pub fn from_practice(practice: &PracticeConfig) -> Result<Self, HoursError> {
        Self::new(&practice.time_zone, &practice.hours, &practice.holidays)
    }

    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    pub fn is_holiday(&self, date: NaiveDate) -> bool {
        self.holidays.contains(&date)
    }

    /// Whether the practice is open at `at` (local wall-clock time, so DST is handled by the zone).
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&self.tz);
        if self.is_holiday(local.date_naive()) {
            return false;
        }
        let time = local.time();
        self.week[local.weekday().num_days_from_monday() as usize].iter().any(|(s, e)| *s <= time && time < *e)
    }

    pub fn is_after_hours(&self, at: DateTime<Utc>) -> bool {
        !self.is_open(at)
    }

    /// Opening intervals of a weekday.
    pub fn day(&self, weekday: Weekday) -> &[(NaiveTime, NaiveTime)] {
        &self.week[weekday.num_days_from_monday() as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    fn chicago() -> PracticeHours {
        let hours = WeeklyHours { mon: vec!["08:00-12:00".into(), "13:00-17:00".into()], sat: vec!["09:00-12:00".into()], ..WeeklyHours::default() };
        PracticeHours::new("America/Chicago", &hours, &["2026-12-25".into(), "2026-11-26".into()]).unwrap()
    }

    #[test]
    fn weekday_hours_lunch_and_weekend() {
        let h = chicago();
        // Monday 2026-11-30, Chicago is UTC-6 in winter.
        assert!(h.is_after_hours(utc(2026, 11, 30, 13, 59)), "07:59 local");
        assert!(h.is_open(utc(2026, 11, 30, 14, 0)), "08:00 local");
        assert!(h.is_after_hours(utc(2026, 11, 30, 18, 30)), "12:30 lunch");
        assert!(h.is_open(utc(2026, 11, 30, 22, 59)), "16:59 local");
        assert!(h.is_after_hours(utc(2026, 11, 30, 23, 0)), "17:00 closes");
        // Saturday 2026-12-05 morning only, Sunday closed.
        assert!(h.is_open(utc(2026, 12, 5, 16, 0)));
        assert!(h.is_after_hours(utc(2026, 12, 5, 19, 0)));
        assert!(h.is_after_hours(utc(2026, 12, 6, 16, 0)));
        // 23:30 UTC Monday is 17:30 local Monday, but 05:30 UTC Tuesday is still Monday night locally.
        assert!(h.is_after_hours(utc(2026, 12, 1, 5, 30)));
    }

    #[test]
    fn dst_changes_move_opening_in_utc() {
        let h = chicago();
        // 2026-03-08 is the spring-forward Sunday. Monday 2026-03-02 (CST, UTC-6): 08:00 = 14:00 UTC.
        assert!(h.is_after_hours(utc(2026, 3, 2, 13, 30)));
        assert!(h.is_open(utc(2026, 3, 2, 14, 0)));
        // Monday 2026-03-09 (CDT, UTC-5): 08:00 = 13:00 UTC, 17:00 = 22:00 UTC.
        assert!(h.is_open(utc(2026, 3, 9, 13, 30)));
        assert!(h.is_after_hours(utc(2026, 3, 9, 22, 30)));
        // Fall back on 2026-11-01: Monday 2026-11-02 is CST again; 13:30 UTC is 07:30 local.
        assert!(h.is_after_hours(utc(2026, 11, 2, 13, 30)));
        assert!(h.is_open(utc(2026, 11, 2, 14, 0)));
    }

    #[test]
    fn holidays_are_closed_all_day_in_local_time() {
        let h = chicago();
        // Friday 2026-12-25 10:00 local.
        assert!(h.is_after_hours(utc(2026, 12, 25, 16, 0)));
        // Thanksgiving Thursday 2026-11-26; the Friday after is open.
        assert!(h.is_after_hours(utc(2026, 11, 26, 16, 0)));
        assert!(h.is_open(utc(2026, 11, 27, 16, 0)));
        // 2026-12-26 02:00 UTC is still Christmas evening locally: closed; the 24th at 10:00 is open.
        assert!(h.is_after_hours(utc(2026, 12, 26, 2, 0)));
        assert!(h.is_open(utc(2026, 12, 24, 16, 0)));
    }

    #[test]
    fn bad_config_names_the_key() {
        let hours = WeeklyHours { tue: vec!["17:00-08:00".into()], ..WeeklyHours::default() };
        let err = PracticeHours::new("America/Chicago", &hours, &[]).unwrap_err();
        assert_eq!(err.key, "hours.tue");
        let err = PracticeHours::new("America/Chicago", &WeeklyHours::default(), &["25/12/2026".into()]).unwrap_err();
        assert_eq!(err.key, "holidays");
        let err = PracticeHours::new("Mars/Base", &WeeklyHours::default(), &[]).unwrap_err();
        assert_eq!(err.key, "time_zone");
    }
}
