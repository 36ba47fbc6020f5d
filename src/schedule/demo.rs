//! Demo schedules: synthetic charts have none, so the demo practice gets realistic ones. Each
//! practitioner works weekdays (some have a day off), with a lunch break, in 15- or 20-minute
//! slots; part of the slots are already booked (more in the next days than weeks out). A fixed seed
//! gives the same pattern relative to the week it starts in.

use chrono::{Datelike, Days, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

use super::Slot;

/// A practitioner at the location they work at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    pub practitioner_id: String,
    pub practitioner_name: String,
    pub location_id: String,
    pub location_name: String,
}

/// A generated slot and whether it is already booked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSlot {
    pub slot: Slot,
    pub busy: bool,
}

/// A small deterministic generator (SplitMix64): the pattern must not change with a crate version.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, key: &str) -> Self {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
        for b in key.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        Rng(h)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True with probability `percent`/100.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// The Monday of the week holding `date`: generated weeks start there.
pub fn week_start(date: NaiveDate) -> NaiveDate {
    date - Days::new(u64::from(date.weekday().num_days_from_monday()))
}

/// One practitioner's working pattern, drawn from the seed.
struct Pattern {
    slot_minutes: i64,
    start: NaiveTime,
    lunch: NaiveTime,
    end: NaiveTime,
    day_off: Option<Weekday>,
}

fn pattern(rng: &mut Rng) -> Pattern {
    let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
    let slot_minutes = [15, 15, 20][rng.below(3) as usize];
    let start = [t(8, 0), t(8, 30), t(9, 0)][rng.below(3) as usize];
    let lunch = [t(12, 0), t(12, 30)][rng.below(2) as usize];
    let end = [t(16, 0), t(16, 30), t(17, 0)][rng.below(3) as usize];
    let day_off = rng.chance(35).then(|| [Weekday::Mon, Weekday::Wed, Weekday::Fri][rng.below(3) as usize]);
    Pattern { slot_minutes, start, lunch, end, day_off }
}

/// Slots for each provider from `first_day` for `days` days (weekdays only), local times in `tz`.
/// The same seed and `first_day` give the same slots, ids and bookings.
pub fn generate(providers: &[Provider], first_day: NaiveDate, days: u32, tz: Tz, seed: u64) -> Vec<DemoSlot> {
    let mut out = Vec::new();
    for provider in providers {
        let mut rng = Rng::new(seed, &provider.practitioner_id);
        let p = pattern(&mut rng);
        for offset in 0..days {
            let date = first_day + Days::new(u64::from(offset));
            if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) || Some(date.weekday()) == p.day_off {
                continue;
            }
            // Busier soon: about 60% booked in the first week, falling to 20% from the fourth on.
            let booked_percent = 60u64.saturating_sub(u64::from(offset / 7) * 13).max(20);
            let mut time = p.start;
            while time + Duration::minutes(p.slot_minutes) <= p.end {
                let lunch_end = p.lunch + Duration::hours(1);
                if time >= p.lunch && time < lunch_end || time < p.lunch && time + Duration::minutes(p.slot_minutes) > p.lunch {
                    time = lunch_end;
                    continue;
                }
                let busy = rng.chance(booked_percent);
                if let Some(start) = tz.from_local_datetime(&date.and_time(time)).earliest() {
                    let start = start.with_timezone(&Utc);
                    out.push(DemoSlot {
                        slot: Slot {
                            id: format!("{}-{}", provider.practitioner_id, date.and_time(time).format("%Y%m%d%H%M")),
                            start,
                            end: start + Duration::minutes(p.slot_minutes),
                            practitioner_id: provider.practitioner_id.clone(),
                            practitioner_name: provider.practitioner_name.clone(),
                            location_id: provider.location_id.clone(),
                            location_name: provider.location_name.clone(),
                        },
                        busy,
                    });
                }
                time += Duration::minutes(p.slot_minutes);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Timelike;

    const TZ: Tz = chrono_tz::America::Chicago;

    fn providers(n: usize) -> Vec<Provider> {
        (0..n).map(|i| Provider { practitioner_id: format!("p{i}"), practitioner_name: format!("Dr {i}"), location_id: "l".into(), location_name: "Clinic".into() }).collect()
    }

    #[test]
    fn same_seed_same_slots_other_seed_other_bookings() {
        let monday = NaiveDate::from_ymd_opt(2027, 1, 4).unwrap();
        let a = generate(&providers(4), monday, 28, TZ, 7);
        assert_eq!(a, generate(&providers(4), monday, 28, TZ, 7));
        let b = generate(&providers(4), monday, 28, TZ, 8);
        assert_ne!(a.iter().map(|s| s.busy).collect::<Vec<_>>(), b.iter().map(|s| s.busy).collect::<Vec<_>>());
    }

    #[test]
    fn weekdays_working_hours_lunch_and_some_booked() {
        let monday = NaiveDate::from_ymd_opt(2027, 1, 4).unwrap();
        let slots = generate(&providers(10), monday, 56, TZ, 7);
        assert!(slots.len() > 10 * 30 * 20, "{} slots", slots.len());
        let mut ids: Vec<&str> = slots.iter().map(|s| s.slot.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), slots.len(), "slot ids are unique");
        for s in &slots {
            let local = s.slot.start.with_timezone(&TZ);
            let end = s.slot.end.with_timezone(&TZ);
            assert!(!matches!(local.weekday(), Weekday::Sat | Weekday::Sun));
            assert!(local.hour() >= 8 && (end.hour() < 17 || end.hour() == 17 && end.minute() == 0), "{local}..{end}");
            assert!(matches!((s.slot.end - s.slot.start).num_minutes(), 15 | 20));
            // Lunch starts at 12:00 or 12:30: 12:30-13:00 is always free of slots.
            let (start_min, end_min) = (local.hour() * 60 + local.minute(), end.hour() * 60 + end.minute());
            assert!(!(start_min < 13 * 60 && end_min > 12 * 60 + 30), "{local}..{end} overlaps lunch");
        }
        let booked = slots.iter().filter(|s| s.busy).count() as f64 / slots.len() as f64;
        assert!((0.2..0.5).contains(&booked), "booked share {booked}");
        let first_week = slots.iter().filter(|s| s.slot.start < "2027-01-09T00:00:00Z".parse::<chrono::DateTime<Utc>>().unwrap());
        let (n, b) = first_week.fold((0, 0), |(n, b), s| (n + 1, b + s.busy as usize));
        assert!(b as f64 / n as f64 > 0.45, "the first week is busier: {b}/{n}");
        // Slot lengths differ between practitioners (15 or 20 minutes).
        let lengths: std::collections::HashSet<i64> = slots.iter().map(|s| (s.slot.end - s.slot.start).num_minutes()).collect();
        assert_eq!(lengths.len(), 2);
    }

    #[test]
    fn weeks_start_on_monday() {
        assert_eq!(week_start(NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()), NaiveDate::from_ymd_opt(2026, 11, 23).unwrap());
        assert_eq!(week_start(NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()), NaiveDate::from_ymd_opt(2026, 11, 23).unwrap());
    }
}
