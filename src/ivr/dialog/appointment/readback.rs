//! How a slot or an appointment is read back: "Tuesday, December first, at nine thirty a m, with
//! Doctor Emily Smith, at Manhan Internal Medicine", built from word clips. Names are clips
//! rendered per practitioner and location id (`practitioner-<id>`, `location-<id>`); when one is
//! missing the read-back says "with your provider" / "with another provider" and leaves the place
//! out rather than play nothing where a name belongs.

use chrono::{DateTime, Datelike, Timelike, Utc, Weekday};
use chrono_tz::Tz;

use crate::media::PromptItem;
use crate::media::prompts::say_number;

/// Whether a prompt clip exists (the driver asks its prompt library).
pub type ClipCheck = std::sync::Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// What is read back of one time.
pub(super) struct Said<'a> {
    pub start: DateTime<Utc>,
    pub practitioner_id: Option<&'a str>,
    pub location_id: Option<&'a str>,
    /// The practitioner is the patient's own provider.
    pub own: bool,
    /// Say who and where (a list says them only when they change from the item before).
    pub names: bool,
}

fn clip(name: impl Into<String>) -> PromptItem {
    PromptItem::Clip(name.into())
}

pub(super) fn weekday_clip(day: Weekday) -> String {
    format!("weekday-{}", day.to_string().to_lowercase())
}

fn weekday_name(day: Weekday) -> &'static str {
    ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"][day.num_days_from_monday() as usize]
}

/// "nine thirty a m", "two oh five p m", "eleven a m".
pub(super) fn time_words(hour: u32, minute: u32) -> Vec<String> {
    let mut words = say_number(match hour % 12 {
        0 => 12,
        h => h,
    });
    match minute {
        0 => {}
        1..=9 => {
            words.push("oh".into());
            words.extend(say_number(minute));
        }
        _ => words.extend(say_number(minute)),
    }
    words.push(if hour < 12 { "time-am" } else { "time-pm" }.into());
    words
}

/// Day, date, time, provider and location, in the practice's time zone.
pub(super) fn read_back(said: &Said, tz: Tz, has_clip: &ClipCheck) -> Vec<PromptItem> {
    let local = said.start.with_timezone(&tz);
    let mut items = vec![clip(weekday_clip(local.weekday())), clip(format!("month-{:02}", local.month())), clip(format!("ordinal-{:02}", local.day())), clip("at")];
    items.extend(time_words(local.hour(), local.minute()).into_iter().map(PromptItem::Clip));
    if !said.names {
        return items;
    }
    let named = said.practitioner_id.map(|id| format!("practitioner-{id}")).filter(|name| has_clip(name));
    match named {
        Some(name) => items.extend([clip("with"), clip(name)]),
        None if said.own => items.push(clip("with-your-provider")),
        None => items.push(clip("with-another-provider")),
    }
    if let Some(place) = said.location_id.map(|id| format!("location-{id}")).filter(|name| has_clip(name)) {
        items.extend([clip("at"), clip(place)]);
    }
    items
}

/// A spoken label for picking by name ("the Tuesday one", "the afternoon one").
pub(super) fn label(start: DateTime<Utc>, tz: Tz) -> String {
    let local = start.with_timezone(&tz);
    let part = if local.hour() < 12 { "morning" } else { "afternoon" };
    format!("{} {part}", weekday_name(local.weekday()))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::TimeZone;

    use super::*;

    #[test]
    fn times_in_words() {
        assert_eq!(time_words(9, 30), ["number-9", "number-30", "time-am"]);
        assert_eq!(time_words(14, 5), ["number-2", "oh", "number-5", "time-pm"]);
        assert_eq!(time_words(12, 0), ["number-12", "time-pm"]);
        assert_eq!(time_words(0, 45), ["number-12", "number-40", "number-5", "time-am"]);
    }

    #[test]
    fn read_back_uses_local_time_and_falls_back_without_name_clips() {
        let tz: Tz = "America/Chicago".parse().unwrap();
        // 15:30 UTC on Tuesday 2026-12-01 is 9:30 in Chicago.
        let start = Utc.with_ymd_and_hms(2026, 12, 1, 15, 30, 0).unwrap();
        let known: ClipCheck = Arc::new(|name| name == "practitioner-p1" || name == "location-l1");
        let said = Said { start, practitioner_id: Some("p1"), location_id: Some("l1"), own: true, names: true };
        let names: Vec<String> = read_back(&said, tz, &known)
            .into_iter()
            .map(|p| match p {
                PromptItem::Clip(n) => n,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(names, ["weekday-tue", "month-12", "ordinal-01", "at", "number-9", "number-30", "time-am", "with", "practitioner-p1", "at", "location-l1"]);
        let none: ClipCheck = Arc::new(|_| false);
        let other = Said { start, practitioner_id: Some("p2"), location_id: Some("l2"), own: false, names: true };
        let items = read_back(&other, tz, &none);
        assert_eq!(items.last(), Some(&PromptItem::Clip("with-another-provider".into())));
        assert_eq!(label(start, tz), "Tuesday morning");
    }
}
