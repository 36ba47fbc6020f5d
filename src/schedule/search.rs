//! Slot search: from the free slots a chart returns, the offers for one query. Filters by
//! practitioner, location, horizon and the caller's constraint (read in the practice's time zone),
//! joins consecutive free slots of one practitioner when the visit is longer than one slot, drops
//! what was declined, and keeps the earliest `limit`.
//!
//! A joined offer's id is the slot ids joined with [`JOIN`] (`a+b`); `book` books all of them or none.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use super::{Slot, SlotQuery, TimeConstraint};

/// Separator of the slot ids in a joined offer (not a character FHIR ids may hold).
pub const JOIN: char = '+';

/// The slot ids of an offer (one, or several joined).
pub fn slot_ids(offer_id: &str) -> Vec<&str> {
    offer_id.split(JOIN).filter(|s| !s.is_empty()).collect()
}

/// Whether a start instant satisfies the constraint in the practice's time zone.
pub fn matches(constraint: &TimeConstraint, start: DateTime<Utc>, tz: Tz) -> bool {
    let local = start.with_timezone(&tz);
    let date = local.date_naive();
    let time = local.time();
    (constraint.weekdays.is_empty() || constraint.weekdays.contains(&date.weekday()))
        && constraint.from_date.is_none_or(|d| date >= d)
        && constraint.to_date.is_none_or(|d| date <= d)
        && constraint.after.is_none_or(|t| time >= t)
        && constraint.before.is_none_or(|t| time < t)
}

/// The UTC window worth asking a chart for: the query's `from..until` narrowed by the
/// constraint's dates (local midnight to local midnight). None when the window is empty.
pub fn window(query: &SlotQuery, tz: Tz) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let midnight = |d: NaiveDate| tz.from_local_datetime(&d.and_hms_opt(0, 0, 0)?).earliest().map(|t| t.with_timezone(&Utc));
    let mut from = query.from;
    let mut until = query.until;
    if let Some(start) = query.constraint.from_date.and_then(midnight) {
        from = from.max(start);
    }
    if let Some(end) = query.constraint.to_date.and_then(|d| d.succ_opt()).and_then(midnight) {
        until = until.min(end);
    }
    (from < until).then_some((from, until))
}

/// The offers for `query` from `free` (any order, any practitioner): earliest first, at most
/// `query.limit`, each long enough for `query.minutes`.
pub fn find_offers(free: &[Slot], query: &SlotQuery, tz: Tz) -> Vec<Slot> {
    let mut pool: Vec<&Slot> = free
        .iter()
        .filter(|s| query.practitioner_id.as_ref().is_none_or(|p| &s.practitioner_id == p))
        .filter(|s| query.location_id.as_ref().is_none_or(|l| &s.location_id == l))
        .filter(|s| s.end > s.start)
        .collect();
    pool.sort_by(|a, b| (&a.practitioner_id, &a.location_id, a.start).cmp(&(&b.practitioner_id, &b.location_id, b.start)));
    pool.dedup_by(|a, b| a.id == b.id);
    let needed = Duration::minutes(i64::from(query.minutes.max(1)));
    let declined: Vec<&str> = query.exclude.iter().map(String::as_str).collect();
    let mut offers = Vec::new();
    for (i, first) in pool.iter().enumerate() {
        if first.start < query.from || first.start > query.until || !matches(&query.constraint, first.start, tz) {
            continue;
        }
        let Some(run) = consecutive_run(&pool[i..], needed) else { continue };
        let offer = joined(run);
        let parts = slot_ids(&offer.id);
        if declined.contains(&offer.id.as_str()) || parts.iter().any(|p| declined.contains(p)) {
            continue;
        }
        offers.push(offer);
    }
    offers.sort_by(|a, b| (a.start, &a.practitioner_name, &a.id).cmp(&(b.start, &b.practitioner_name, &b.id)));
    offers.truncate(query.limit);
    offers
}

/// The shortest run of back-to-back slots (same practitioner and location) from the first that
/// lasts at least `needed`.
fn consecutive_run<'a>(slots: &[&'a Slot], needed: Duration) -> Option<Vec<&'a Slot>> {
    let first = *slots.first()?;
    let mut run = vec![first];
    while run.last()?.end - first.start < needed {
        let last = *run.last()?;
        let next = slots.get(run.len()).copied()?;
        if next.practitioner_id != first.practitioner_id || next.location_id != first.location_id || next.start != last.end {
            return None;
        }
        run.push(next);
    }
    Some(run)
}

fn joined(run: Vec<&Slot>) -> Slot {
    let first = run[0];
    let mut slot = first.clone();
    slot.end = run[run.len() - 1].end;
    slot.id = run.iter().map(|s| s.id.as_str()).collect::<Vec<_>>().join(&JOIN.to_string());
    slot
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveTime, Weekday};

    const TZ: Tz = chrono_tz::America::Chicago;

    /// Slots of 15 minutes for `who`, local times on 2027-01-04 (a Monday) + `day` days.
    fn day_slots(who: &str, day: u64, times: &[&str]) -> Vec<Slot> {
        let date = NaiveDate::from_ymd_opt(2027, 1, 4).unwrap() + chrono::Days::new(day);
        times
            .iter()
            .map(|t| {
                let local = date.and_time(NaiveTime::parse_from_str(t, "%H:%M").unwrap());
                let start = TZ.from_local_datetime(&local).unwrap().with_timezone(&Utc);
                Slot {
                    id: format!("{who}-{}-{}", date.format("%d"), t.replace(':', "")),
                    start,
                    end: start + Duration::minutes(15),
                    practitioner_id: who.into(),
                    practitioner_name: format!("Dr {who}"),
                    location_id: "loc".into(),
                    location_name: "Clinic".into(),
                }
            })
            .collect()
    }

    fn query(minutes: u32) -> SlotQuery {
        SlotQuery {
            practitioner_id: None,
            location_id: None,
            from: "2027-01-04T00:00:00Z".parse().unwrap(),
            until: "2027-03-01T00:00:00Z".parse().unwrap(),
            minutes,
            constraint: TimeConstraint::default(),
            exclude: vec![],
            limit: 3,
        }
    }

    fn ids(offers: &[Slot]) -> Vec<&str> {
        offers.iter().map(|s| s.id.as_str()).collect()
    }

    #[test]
    fn earliest_first_across_practitioners_with_limit() {
        let mut free = day_slots("a", 0, &["10:00", "09:00"]);
        free.extend(day_slots("b", 0, &["09:15", "08:30"]));
        let offers = find_offers(&free, &query(15), TZ);
        assert_eq!(ids(&offers), ["b-04-0830", "a-04-0900", "b-04-0915"]);
    }

    #[test]
    fn longer_visits_join_back_to_back_slots_of_one_practitioner() {
        let mut free = day_slots("a", 0, &["09:00", "09:30", "09:45", "11:00"]);
        free.extend(day_slots("b", 0, &["09:15"]));
        let offers = find_offers(&free, &query(30), TZ);
        // 09:00 has no 09:15 of its own; b's 09:15 does not join a's 09:30.
        assert_eq!(ids(&offers), ["a-04-0930+a-04-0945"]);
        assert_eq!(offers[0].end - offers[0].start, Duration::minutes(30));
        assert_eq!(slot_ids(&offers[0].id), ["a-04-0930", "a-04-0945"]);
        // A 20-minute visit also needs two 15-minute slots.
        assert_eq!(ids(&find_offers(&free, &query(20), TZ)), ["a-04-0930+a-04-0945"]);
    }

    #[test]
    fn constraint_is_read_in_local_time() {
        // 2027-01-05 is a Tuesday; 08:30 Chicago is 14:30 UTC.
        let mut free = day_slots("a", 1, &["08:30", "11:45", "12:00", "15:00"]);
        free.extend(day_slots("a", 0, &["08:30"]));
        let mut q = query(15);
        q.constraint = TimeConstraint { weekdays: vec![Weekday::Tue], before: NaiveTime::from_hms_opt(12, 0, 0), ..Default::default() };
        assert_eq!(ids(&find_offers(&free, &q, TZ)), ["a-05-0830", "a-05-1145"]);
        q.constraint = TimeConstraint { after: NaiveTime::from_hms_opt(15, 0, 0), ..Default::default() };
        assert_eq!(ids(&find_offers(&free, &q, TZ)), ["a-05-1500"]);
        q.constraint = TimeConstraint { from_date: NaiveDate::from_ymd_opt(2027, 1, 4), to_date: NaiveDate::from_ymd_opt(2027, 1, 4), ..Default::default() };
        assert_eq!(ids(&find_offers(&free, &q, TZ)), ["a-04-0830"]);
    }

    #[test]
    fn declined_and_filtered_offers_are_left_out() {
        let mut free = day_slots("a", 0, &["09:00", "09:15", "09:30"]);
        free.extend(day_slots("b", 0, &["08:00"]));
        let mut q = query(15);
        q.exclude = vec!["a-04-0900".into()];
        q.practitioner_id = Some("a".into());
        assert_eq!(ids(&find_offers(&free, &q, TZ)), ["a-04-0915", "a-04-0930"]);
        // A declined slot is not offered again inside a longer visit either.
        q.minutes = 30;
        assert_eq!(ids(&find_offers(&free, &q, TZ)), ["a-04-0915+a-04-0930"]);
        q.exclude = vec!["a-04-0915+a-04-0930".into()];
        assert_eq!(ids(&find_offers(&free, &q, TZ)), ["a-04-0900+a-04-0915"]);
        q.location_id = Some("elsewhere".into());
        assert!(find_offers(&free, &q, TZ).is_empty());
    }

    #[test]
    fn horizon_bounds_the_start() {
        let free = day_slots("a", 0, &["09:00", "10:00"]);
        let mut q = query(15);
        q.from = free[1].start;
        assert_eq!(ids(&find_offers(&free, &q, TZ)), ["a-04-1000"]);
        q.until = free[0].start;
        assert!(find_offers(&free, &q, TZ).is_empty());
    }

    #[test]
    fn window_narrows_to_the_constraint_dates() {
        let mut q = query(15);
        q.constraint.from_date = NaiveDate::from_ymd_opt(2027, 1, 11);
        q.constraint.to_date = NaiveDate::from_ymd_opt(2027, 1, 15);
        let (from, until) = window(&q, TZ).unwrap();
        assert_eq!(from, "2027-01-11T06:00:00Z".parse::<DateTime<Utc>>().unwrap());
        assert_eq!(until, "2027-01-16T06:00:00Z".parse::<DateTime<Utc>>().unwrap());
        q.constraint.from_date = NaiveDate::from_ymd_opt(2028, 1, 1);
        assert_eq!(window(&q, TZ), None);
    }
}
