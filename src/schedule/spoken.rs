//! What a caller says when offered slots: a pick ("the second one", "two") or new constraints
//! ("Tuesday morning", "anything after three next week", "the 14th").
//!
//! Clock times without am/pm are read as clinic hours: 1-7 are afternoon, 8-11 morning.
//! "Before" excludes the time itself (a start before 12:00), "after" includes it.

use chrono::{Datelike, Days, Months, NaiveDate, NaiveTime, Weekday};

use super::TimeConstraint;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpokenChoice {
    /// 0-based index into the offers just read.
    Pick(usize),
    /// Look again with these constraints.
    Constraint(TimeConstraint),
    /// "None of those", "something else": fresh offers after the ones read.
    Other,
}

/// Offers are read one per key: a pick is at most this.
const MAX_PICK: u32 = 9;

/// Reads the caller's answer to an offer of slots; `today` is the practice's local date.
/// None when the words say nothing about a choice or a time.
pub fn parse_choice(text: &str, today: NaiveDate) -> Option<SpokenChoice> {
    let words = tokens(text);
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    let mut c = TimeConstraint::default();
    let mut found = false;
    let mut pick = None;
    let mut i = 0;
    while i < w.len() {
        let word = w[i];
        let next = w.get(i + 1).copied();
        if let Some(day) = weekday(word) {
            if i > 0 && w[i - 1] == "next" {
                // "next Tuesday": the Tuesday of next week.
                let date = week_start(today) + Days::new(7 + u64::from(day.num_days_from_monday()));
                set_dates(&mut c, date, date);
            } else if !c.weekdays.contains(&day) {
                c.weekdays.push(day);
            }
            found = true;
        } else if word == "today" {
            set_dates(&mut c, today, today);
            found = true;
        } else if word == "tomorrow" {
            let d = today + Days::new(1);
            set_dates(&mut c, d, d);
            found = true;
        } else if word == "week" && i > 0 && matches!(w[i - 1], "next" | "this" | "following") {
            let monday = week_start(today);
            let (from, to) = if w[i - 1] == "this" { (today, monday + Days::new(6)) } else { (monday + Days::new(7), monday + Days::new(13)) };
            set_dates(&mut c, from, to);
            found = true;
        } else if word == "month" && i > 0 && w[i - 1] == "next" {
            let first = today.with_day(1)? + Months::new(1);
            set_dates(&mut c, first, first + Months::new(1) - Days::new(1));
            found = true;
        } else if word == "weeks" && i > 1 && w[i - 2] == "in" {
            if let Some(n) = number(w[i - 1]).filter(|n| (1..=8).contains(n)) {
                let monday = week_start(today) + Days::new(7 * u64::from(n));
                set_dates(&mut c, monday, monday + Days::new(6));
                found = true;
            }
        } else if matches!(word, "morning" | "mornings") {
            c.before = Some(hm(12, 0));
            if i > 0 && w[i - 1] == "early" {
                c.before = Some(hm(10, 0));
            }
            found = true;
        } else if matches!(word, "afternoon" | "afternoons") {
            c.after = Some(if i > 0 && w[i - 1] == "late" { hm(15, 0) } else { hm(12, 0) });
            found = true;
        } else if matches!(word, "evening" | "evenings") {
            c.after = Some(hm(16, 0));
            found = true;
        } else if matches!(word, "noon" | "lunchtime" | "midday") && !matches!(w.get(i.wrapping_sub(1)).copied(), Some("after" | "before")) {
            c.after = Some(hm(11, 30));
            c.before = Some(hm(13, 30));
            found = true;
        } else if word == "between" {
            // "between 9 and 11", "between two and four".
            if let Some((from, used)) = clock(&w[i + 1..])
                && w.get(i + 1 + used) == Some(&"and")
                && let Some((to, used_to)) = clock(&w[i + 2 + used..])
            {
                c.after = Some(from);
                c.before = Some(to);
                found = true;
                i += 2 + used + used_to;
                continue;
            }
        } else if matches!(word, "after" | "before" | "from" | "until" | "till" | "by" | "past") {
            if let Some((time, used)) = clock(&w[i + 1..]) {
                if matches!(word, "after" | "from" | "past") {
                    c.after = Some(time);
                } else {
                    c.before = Some(time);
                }
                found = true;
                i += 1 + used;
                continue;
            }
        } else if let Some(month) = month(word) {
            // "December 3rd", "December the 3rd", "the 3rd of December".
            let after = w.get(i + 1..).unwrap_or_default().iter().skip_while(|x| **x == "the").copied().next().and_then(ordinal_or_number);
            let before = (i >= 2 && w[i - 1] == "of").then(|| ordinal_or_number(w[i - 2])).flatten();
            if let Some(day) = after.or(before) {
                let date = month_day(today, Some(month), day)?;
                set_dates(&mut c, date, date);
                found = true;
            }
        } else if let Some(n) = ordinal(word) {
            let part_of_month_date =
                next.is_some_and(|x| x == "of" && w.get(i + 2).copied().and_then(month).is_some()) || (i > 0 && month(w[i - 1]).is_some()) || (i > 1 && w[i - 1] == "the" && month(w[i - 2]).is_some());
            let dated = (i > 0 && w[i - 1] == "on") || (i > 1 && w[i - 1] == "the" && w[i - 2] == "on");
            if part_of_month_date {
            } else if n <= MAX_PICK && !dated {
                pick.get_or_insert(n as usize - 1);
            } else if let Some(date) = month_day(today, None, n) {
                set_dates(&mut c, date, date);
                found = true;
            }
        }
        i += 1;
    }
    if found {
        return Some(SpokenChoice::Constraint(c));
    }
    if let Some(p) = pick {
        return Some(SpokenChoice::Pick(p));
    }
    if let Some(n) = bare_number(&w) {
        return Some(SpokenChoice::Pick(n as usize - 1));
    }
    let other = ["none", "neither", "else", "other", "different", "another", "nope"];
    if w.iter().any(|x| other.contains(x)) || text.to_lowercase().contains("don't work") || text.to_lowercase().contains("doesn't work") {
        return Some(SpokenChoice::Other);
    }
    None
}

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

fn week_start(date: NaiveDate) -> NaiveDate {
    super::demo::week_start(date)
}

fn set_dates(c: &mut TimeConstraint, from: NaiveDate, to: NaiveDate) {
    c.from_date = Some(from);
    c.to_date = Some(to);
}

/// Lower case words; `p.m.` → `pm`, `3pm` → `3 pm`, `twenty-first` → `twenty first`.
fn tokens(text: &str) -> Vec<String> {
    let lower = text.to_lowercase().replace("p.m.", " pm ").replace("a.m.", " am ").replace("o'clock", " ").replace("o’clock", " ");
    let cleaned: String = lower.chars().map(|ch| if ch.is_alphanumeric() || ch == ':' || ch == '\'' { ch } else { ' ' }).collect();
    let mut out = Vec::new();
    for word in cleaned.split_whitespace() {
        let word = word.trim_matches(|c| c == ':' || c == '\'');
        if let Some(stem) = word.strip_suffix("pm").or_else(|| word.strip_suffix("am")).filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || c == ':')) {
            out.push(stem.to_string());
            out.push(word[stem.len()..].to_string());
        } else if !word.is_empty() {
            out.push(word.to_string());
        }
    }
    out
}

fn weekday(word: &str) -> Option<Weekday> {
    Some(match word {
        "monday" | "mondays" => Weekday::Mon,
        "tuesday" | "tuesdays" | "tues" => Weekday::Tue,
        "wednesday" | "wednesdays" => Weekday::Wed,
        "thursday" | "thursdays" | "thurs" => Weekday::Thu,
        "friday" | "fridays" => Weekday::Fri,
        "saturday" | "saturdays" => Weekday::Sat,
        "sunday" | "sundays" => Weekday::Sun,
        _ => return None,
    })
}

fn month(word: &str) -> Option<u32> {
    const NAMES: [&str; 12] = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"];
    // "may" is also a verb: only the full names of the others, and "sept"/"jan"-style short forms.
    let short = ["jan", "feb", "mar", "apr", "", "jun", "jul", "aug", "sept", "oct", "nov", "dec"];
    NAMES.iter().position(|n| *n == word).or_else(|| short.iter().position(|s| !s.is_empty() && *s == word)).map(|i| i as u32 + 1)
}

const UNITS: [&str; 20] =
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"];

/// A cardinal: digits or a word up to fifty-nine ("forty five" is two tokens; see `clock`).
fn number(word: &str) -> Option<u32> {
    if let Ok(n) = word.parse() {
        return Some(n);
    }
    if let Some(n) = UNITS.iter().position(|u| *u == word) {
        return Some(n as u32);
    }
    match word {
        "twenty" => Some(20),
        "thirty" => Some(30),
        "forty" => Some(40),
        "fifty" => Some(50),
        "oh" => Some(0),
        _ => None,
    }
}

/// An ordinal: `1st`, `14th`, `first`, `fourteenth`, `twenty first` is read from its last word
/// only by `ordinal`; `ordinal_or_number` also takes plain numbers.
fn ordinal(word: &str) -> Option<u32> {
    for suffix in ["st", "nd", "rd", "th"] {
        if let Some(n) = word.strip_suffix(suffix).and_then(|d| d.parse::<u32>().ok()) {
            return (1..=31).contains(&n).then_some(n);
        }
    }
    match word {
        "twentieth" => Some(20),
        "thirtieth" => Some(30),
        _ => crate::speech::dates::ORDINALS.iter().position(|w| *w == word).map(|n| n as u32 + 1),
    }
}

fn ordinal_or_number(word: &str) -> Option<u32> {
    ordinal(word).or_else(|| number(word)).filter(|n| (1..=31).contains(n))
}

/// The next date (today or later) with this day of the month, in `month` when given.
fn month_day(today: NaiveDate, month: Option<u32>, day: u32) -> Option<NaiveDate> {
    match month {
        Some(m) => {
            let this_year = NaiveDate::from_ymd_opt(today.year(), m, day)?;
            if this_year >= today { Some(this_year) } else { NaiveDate::from_ymd_opt(today.year() + 1, m, day) }
        }
        None => (0..3).find_map(|ahead| {
            let first = today.with_day(1)? + Months::new(ahead);
            NaiveDate::from_ymd_opt(first.year(), first.month(), day).filter(|d| *d >= today)
        }),
    }
}

/// A clock time at the start of `w`: `3`, `3:30`, `three thirty`, `3 pm`, `noon`. Returns the
/// time and how many words it used.
fn clock(w: &[&str]) -> Option<(NaiveTime, usize)> {
    let first = *w.first()?;
    if matches!(first, "noon" | "midday" | "lunch" | "lunchtime") {
        return Some((hm(12, 0), 1));
    }
    let (hour, mut minute, mut used) = match first.split_once(':') {
        Some((h, m)) => (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?, 1),
        None => (number(first)?, 0, 1),
    };
    if !(1..=12).contains(&hour) || minute > 59 {
        return None;
    }
    if first.contains(':') {
    } else if let Some(m) = w.get(1).and_then(|x| number(x)).filter(|m| (10..60).contains(m) || *m == 0) {
        // "three thirty", "three forty five", "three oh five".
        minute = m;
        used = 2;
        if m >= 20 && m % 10 == 0 {
            if let Some(units) = w.get(2).and_then(|x| number(x)).filter(|u| (1..10).contains(u)) {
                minute += units;
                used = 3;
            }
        } else if m == 0 {
            minute = w.get(2).and_then(|x| number(x)).filter(|u| (1..10).contains(u))?;
            used = 3;
        }
    }
    let hour = match w.get(used).copied() {
        Some("pm") => {
            used += 1;
            if hour == 12 { 12 } else { hour + 12 }
        }
        Some("am") => {
            used += 1;
            if hour == 12 { 0 } else { hour }
        }
        _ if hour <= 7 => hour + 12,
        _ => hour,
    };
    Some((NaiveTime::from_hms_opt(hour, minute, 0)?, used))
}

/// "two", "number two", "option 2", "I'll take two please": a lone number names an offer.
fn bare_number(w: &[&str]) -> Option<u32> {
    const FILLER: [&str; 22] =
        ["the", "one", "number", "option", "please", "uh", "um", "i'll", "ill", "take", "i", "want", "like", "i'd", "id", "would", "let's", "do", "go", "with", "that", "choice"];
    let rest: Vec<&str> = w.iter().copied().filter(|x| !FILLER.contains(x)).collect();
    match rest.as_slice() {
        [n] => number(n).filter(|n| (1..=MAX_PICK).contains(n)),
        // "number one", "option one": the number is a filler word itself.
        [] if w.contains(&"one") && w.iter().any(|x| matches!(*x, "number" | "option")) => Some(1),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Wednesday 2026-11-25.
    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
    }

    fn d(m: u32, day: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(if m >= 11 { 2026 } else { 2027 }, m, day)
    }

    fn constraint(text: &str) -> TimeConstraint {
        match parse_choice(text, today()) {
            Some(SpokenChoice::Constraint(c)) => c,
            other => panic!("{text:?} gave {other:?}"),
        }
    }

    #[test]
    fn picks() {
        for (text, index) in [("the second one", 1), ("The first one, please.", 0), ("third", 2), ("I'll take the 2nd one", 1), ("two", 1), ("Number three.", 2), ("option 1", 0), ("number one", 0)] {
            assert_eq!(parse_choice(text, today()), Some(SpokenChoice::Pick(index)), "{text}");
        }
    }

    #[test]
    fn none_of_those() {
        for text in ["None of those.", "Something else", "neither of them work", "Do you have another time?", "those don't work for me"] {
            assert_eq!(parse_choice(text, today()), Some(SpokenChoice::Other), "{text}");
        }
        assert_eq!(parse_choice("hello?", today()), None);
        assert_eq!(parse_choice("", today()), None);
    }

    #[test]
    fn weekday_and_part_of_day() {
        let c = constraint("Tuesday morning");
        assert_eq!(c.weekdays, [Weekday::Tue]);
        assert_eq!(c.before, Some(hm(12, 0)));
        assert_eq!((c.after, c.from_date), (None, None));
        let c = constraint("how about a Thursday afternoon");
        assert_eq!((c.weekdays.as_slice(), c.after, c.before), ([Weekday::Thu].as_slice(), Some(hm(12, 0)), None));
        assert_eq!(constraint("Monday or Friday").weekdays, [Weekday::Mon, Weekday::Fri]);
    }

    #[test]
    fn clock_times() {
        assert_eq!(constraint("after 3").after, Some(hm(15, 0)));
        assert_eq!(constraint("anything after three").after, Some(hm(15, 0)));
        assert_eq!(constraint("after 3:30 p.m.").after, Some(hm(15, 30)));
        assert_eq!(constraint("after three thirty").after, Some(hm(15, 30)));
        assert_eq!(constraint("after 10am").after, Some(hm(10, 0)));
        assert_eq!(constraint("before nine").before, Some(hm(9, 0)));
        assert_eq!(constraint("before noon").before, Some(hm(12, 0)));
        assert_eq!(constraint("after four forty five").after, Some(hm(16, 45)));
        let c = constraint("between 9 and 11");
        assert_eq!((c.after, c.before), (Some(hm(9, 0)), Some(hm(11, 0))));
        let c = constraint("Friday between two and four thirty");
        assert_eq!((c.weekdays.as_slice(), c.after, c.before), ([Weekday::Fri].as_slice(), Some(hm(14, 0)), Some(hm(16, 30))));
    }

    #[test]
    fn weeks_and_days() {
        let c = constraint("next week");
        assert_eq!((c.from_date, c.to_date), (d(11, 30), d(12, 6)));
        let c = constraint("anything after three next week");
        assert_eq!((c.from_date, c.to_date, c.after), (d(11, 30), d(12, 6), Some(hm(15, 0))));
        let c = constraint("this week");
        assert_eq!((c.from_date, c.to_date), (d(11, 25), d(11, 29)));
        assert_eq!(constraint("tomorrow morning").from_date, d(11, 26));
        assert_eq!(constraint("tomorrow morning").before, Some(hm(12, 0)));
        let c = constraint("next Tuesday");
        assert_eq!((c.from_date, c.to_date, c.weekdays.len()), (d(12, 1), d(12, 1), 0));
        let c = constraint("in two weeks");
        assert_eq!((c.from_date, c.to_date), (d(12, 7), d(12, 13)));
        let c = constraint("next month");
        assert_eq!((c.from_date, c.to_date), (d(12, 1), d(12, 31)));
    }

    #[test]
    fn dates_of_the_month() {
        let c = constraint("the 14th");
        assert_eq!((c.from_date, c.to_date), (d(12, 14), d(12, 14)));
        assert_eq!(constraint("on the 28th").from_date, d(11, 28));
        assert_eq!(constraint("on the third").from_date, d(12, 3));
        assert_eq!(constraint("December 3rd").from_date, d(12, 3));
        assert_eq!(constraint("the second of January").from_date, d(1, 2));
        assert_eq!(constraint("January the 2nd in the morning").before, Some(hm(12, 0)));
        assert_eq!(constraint("the twentieth").from_date, d(12, 20));
        // Past dates this year roll over to next year.
        assert_eq!(constraint("March 5th").from_date, d(3, 5));
        assert_eq!(constraint("on the 26th").from_date, d(11, 26));
    }
}
