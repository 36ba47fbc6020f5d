//! Spoken dates of birth: "March fifth nineteen eighty two", "the fifth of March 82",
//! "oh three oh five eighty two", "3/5/1982" → 1982-03-05, and what Whisper writes for them on a
//! phone line: "0305 82", "74201", "06 15 19 55", a date repeated by a decoder loop.
//!
//! The text is cut into atoms (month names, digit words, teens, tens, ordinals, "hundred",
//! "thousand", written numbers; a written number of three or more digits is tried both as written
//! and as its digits); every way of grouping the atoms into numbers is tried, and each grouping
//! that reads as month-day-year (numbers in US order), day-month-year or month-day-year with a
//! month name, or year first, gives a candidate. [`parse_dates`] returns every distinct valid
//! candidate (readings with a year said as one four-digit number go first) for the chart to
//! decide between; [`parse_date`] wants exactly one and calls two or more
//! [`DateError::Ambiguous`], never a guess. Words that are neither numbers nor months ("my",
//! "birthday", "is") are ignored, so the text must hold one date only.
//! Two-digit years resolve to the most recent date that is not in the future.

use chrono::{Datelike, NaiveDate};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("no date of birth understood (expected month, day and year)")]
    NotUnderstood,
    #[error("{month}/{day}/{year} is not a calendar date")]
    Impossible { month: u32, day: u32, year: i32 },
    #[error("a date of birth cannot be in the future")]
    Future,
    #[error("the year is before 1900")]
    TooOld,
    #[error("ambiguous: could be {}", .0.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(" or "))]
    Ambiguous(Vec<NaiveDate>),
}

/// The recognizer's hints on a date-of-birth turn: with these hints the recognizer decodes for a
/// date (`asr`: [`DOB_PROMPT`] alone as the initial prompt).
pub const DOB_HINTS: &[&str] = &["date of birth", "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December", "nineteen", "two thousand"];

/// The initial prompt of a date-of-birth turn: the question the caller just heard. Neither the
/// practice vocabulary (medications) nor a list of month names, which a small model repeats
/// ("my May, October, in January").
pub const DOB_PROMPT: &str = "Please say your date of birth.";

/// Parses one spoken or written date of birth relative to `today`: the single plausible reading,
/// or [`DateError::Ambiguous`] with all of them.
pub fn parse_date(text: &str, today: NaiveDate) -> Result<NaiveDate, DateError> {
    match parse_dates(text, today)?.as_slice() {
        [date] => Ok(*date),
        several => Err(DateError::Ambiguous(several.to_vec())),
    }
}

/// Every plausible reading of one spoken or written date of birth, oldest first (never empty):
/// "11970" is January 19 or November 9, 1970, and the caller's chart decides, not this parser.
/// A recognizer loop ("12 25 1975 12 25 1975 12 25") is read as the block it repeats, and a second
/// year written after a whole date ("May 31, 1989, 1889") is dropped when the whole reads as none.
pub fn parse_dates(text: &str, today: NaiveDate) -> Result<Vec<NaiveDate>, DateError> {
    if cut_year(text) {
        return Err(DateError::NotUnderstood);
    }
    let atoms = atoms(text);
    if atoms.is_empty() {
        return Err(DateError::NotUnderstood);
    }
    let mut rejection: Option<DateError> = None;
    let mut found = read_atoms(&atoms, today, &mut rejection);
    if found.is_empty()
        && let Some(block) = repeated_block(&atoms)
    {
        found = read_atoms(block, today, &mut rejection);
    }
    // A loop that rewrote the year ("May 31, 1989, 1889."): either year may be the one said.
    if found.is_empty()
        && let [rest @ .., year @ Atom::Written { width: 4, .. }] = atoms.as_slice()
        && rest.len() >= 3
    {
        let mut other = rest[..rest.len() - 1].to_vec();
        other.push(*year);
        found = read_atoms(rest, today, &mut rejection);
        found.extend(read_atoms(&other, today, &mut rejection));
        found.sort();
        found.dedup();
    }
    if !found.is_empty() {
        return Ok(found);
    }
    Err(rejection.unwrap_or(DateError::NotUnderstood))
}

/// The distinct valid dates the atoms read as; the first rejection is kept for the error.
fn read_atoms(atoms: &[Atom], today: NaiveDate, rejection: &mut Option<DateError>) -> Vec<NaiveDate> {
    let mut found: Vec<(NaiveDate, bool)> = Vec::new();
    for atoms in written_alternatives(atoms) {
        let mut groupings = Vec::new();
        group(&atoms, 0, &mut Vec::new(), &mut groupings);
        for items in &groupings {
            for (month, day, year) in readings(items) {
                match resolve(month, day, year, today) {
                    Ok(date) => found.push((date, year.whole)),
                    Err(e) => {
                        rejection.get_or_insert(e);
                    }
                }
            }
        }
    }
    // A year said in full wins over a reading that breaks it up: "one two nineteen forty seven"
    // is 1/2/1947, not 12/19/47.
    let whole_year = found.iter().any(|(_, whole)| *whole);
    let mut found: Vec<NaiveDate> = found.into_iter().filter(|(_, whole)| !whole_year || *whole).map(|(date, _)| date).collect();
    found.sort();
    found.dedup();
    found
}

/// Most written numbers that may be a digit string are: each as written and each as its digits
/// ("0305 82" is 03 05 82; "305" may be "three oh five"). Both ways, for at most four of them.
/// With a month name said, a written year stays a year: "December 2012" (the day lost) is no
/// date, not December 20, 2012.
fn written_alternatives(atoms: &[Atom]) -> Vec<Vec<Atom>> {
    let month = atoms.iter().any(|a| matches!(a, Atom::Month(_)));
    let year = |a: &Atom| matches!(a, Atom::Written { width: 4, value: 1900..=2099, .. });
    let splittable: Vec<usize> = (0..atoms.len()).filter(|&i| matches!(atoms[i], Atom::Written { width: 3.., ordinal: false, .. }) && !(month && year(&atoms[i]))).take(4).collect();
    (0..1u32 << splittable.len())
        .map(|mask| {
            let mut out = Vec::new();
            for (i, atom) in atoms.iter().enumerate() {
                match (atom, splittable.iter().position(|&s| s == i)) {
                    (Atom::Written { value, width, .. }, Some(bit)) if mask & (1 << bit) != 0 => {
                        let digits = format!("{value:0width$}", width = *width as usize);
                        out.extend(digits.chars().filter_map(|c| c.to_digit(10)).map(Atom::Digit));
                    }
                    _ => out.push(*atom),
                }
            }
            out
        })
        .collect()
}

/// The block a recognizer loop repeats: the atoms are that block twice or more, the last copy
/// possibly cut short ("0 6 1 5 1 9 5 5 0 6 1 5 1 9 5 5 0 6").
fn repeated_block(atoms: &[Atom]) -> Option<&[Atom]> {
    let n = atoms.len();
    (2..=n / 2).find(|&p| (p..n).all(|i| atoms[i] == atoms[i - p]) && n - p >= 3.min(p)).map(|p| &atoms[..p])
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Atom {
    Month(u32),
    /// zero/oh/o … nine, and each digit of a long written number.
    Digit(u32),
    /// ten … nineteen
    Teen(u32),
    /// twenty … ninety
    Tens(u32),
    Hundred,
    Thousand,
    /// first … nineteenth, twentieth, thirtieth
    Ordinal(u32),
    /// A written number of at most four digits ("1982", "05", "5th").
    Written {
        value: u32,
        width: u8,
        ordinal: bool,
    },
}

/// A number as grouped from atoms. `width` is how many digits it has as said ("oh five" 2,
/// "five" 1, "eighty two" 2, "nineteen eighty two" 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    Month(u32),
    /// `run`: cut from a run of digits said one by one.
    Num {
        value: u32,
        width: u8,
        ordinal: bool,
        run: bool,
    },
}

const MONTHS: [&str; 12] = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"];
const UNITS: [&str; 10] = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];
const TEENS: [&str; 10] = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"];
const TENS: [&str; 8] = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];
/// "first" to "nineteenth" (the schedule's spoken days read them too).
pub(crate) const ORDINALS: [&str; 19] = [
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
];

fn word_atom(word: &str) -> Option<Atom> {
    if let Some(i) = MONTHS.iter().position(|m| *m == word) {
        return Some(Atom::Month(i as u32 + 1));
    }
    let short = ["jan", "feb", "mar", "apr", "", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    if let Some(i) = short.iter().position(|m| !m.is_empty() && *m == word) {
        return Some(Atom::Month(i as u32 + 1));
    }
    if word == "sept" {
        return Some(Atom::Month(9));
    }
    if let Some(i) = UNITS.iter().position(|u| *u == word) {
        return Some(Atom::Digit(i as u32));
    }
    if matches!(word, "oh" | "o" | "nought") {
        return Some(Atom::Digit(0));
    }
    if let Some(i) = TEENS.iter().position(|t| *t == word) {
        return Some(Atom::Teen(10 + i as u32));
    }
    if let Some(i) = TENS.iter().position(|t| *t == word) {
        return Some(Atom::Tens(20 + 10 * i as u32));
    }
    if word == "fourty" {
        return Some(Atom::Tens(40));
    }
    if let Some(i) = ORDINALS.iter().position(|o| *o == word) {
        return Some(Atom::Ordinal(i as u32 + 1));
    }
    match word {
        "twentieth" => Some(Atom::Ordinal(20)),
        "thirtieth" => Some(Atom::Ordinal(30)),
        "hundred" => Some(Atom::Hundred),
        "thousand" => Some(Atom::Thousand),
        _ => None,
    }
}

/// Lower-cases, splits on spaces and punctuation, and keeps only atoms.
fn atoms(text: &str) -> Vec<Atom> {
    let cleaned: String = text.chars().map(|c| if c.is_alphanumeric() { c.to_ascii_lowercase() } else { ' ' }).collect();
    let words: Vec<&str> = cleaned.split_whitespace().collect();
    let mut out = Vec::new();
    for (i, &word) in words.iter().enumerate() {
        // "11 for 1961", "oh to oh seven": a digit the recognizer wrote as a word that sounds
        // the same, between two numbers.
        let between_numbers = || i > 0 && words.get(i + 1).is_some_and(|next| is_number(next)) && is_number(words[i - 1]);
        if let Some(digit) = homophone(word) {
            if between_numbers() {
                out.push(Atom::Digit(digit));
            }
            continue;
        }
        let digits_end = word.find(|c: char| !c.is_ascii_digit()).unwrap_or(word.len());
        if digits_end > 0 {
            let (digits, suffix) = word.split_at(digits_end);
            let ordinal = matches!(suffix, "st" | "nd" | "rd" | "th");
            if !(suffix.is_empty() || ordinal) {
                continue;
            }
            if digits.len() == 1 && !ordinal {
                // "0 3 0 5 …" written digit by digit is a digit run like "oh three oh five".
                out.push(Atom::Digit(digits.parse().unwrap_or(0)));
            } else if digits.len() <= 4 {
                out.push(Atom::Written { value: digits.parse().unwrap_or(0), width: digits.len() as u8, ordinal });
            } else if !ordinal {
                // "03051982": a digit string like the spoken "zero three zero five …".
                out.extend(digits.chars().filter_map(|c| c.to_digit(10)).map(Atom::Digit));
            }
        } else if let Some(atom) = word_atom(word) {
            out.push(atom);
        }
    }
    // A recognizer caught in a short loop writes the year twice ("August 9, 1945, 1945"): a
    // written four-digit number repeated at once is one year, not two numbers.
    out.dedup_by(|next, prev| matches!(prev, Atom::Written { width: 4, .. }) && next == prev);
    out
}

/// Words around a date of birth that hide no number.
const FILLERS: &[&str] =
    &["my", "date", "of", "birth", "birthday", "is", "it", "its", "s", "it's", "born", "on", "in", "the", "i", "was", "and", "uh", "um", "er", "that", "be", "would", "year", "so", "well"];

/// "Two thousand nineteen" heard as "2000, I'm the": a year ending in 00 followed by a word that is
/// neither a number, a month nor a filler lost its last part; the text gives no date.
fn cut_year(text: &str) -> bool {
    let cleaned: String = text.chars().map(|c| if c.is_alphanumeric() || c == '\'' { c.to_ascii_lowercase() } else { ' ' }).collect();
    let words: Vec<&str> = cleaned.split_whitespace().collect();
    words.iter().enumerate().any(|(i, w)| matches!(*w, "1900" | "2000") && words[i + 1..].iter().find(|next| !FILLERS.contains(next)).is_some_and(|next| !is_number(next) && word_atom(next).is_none()))
}

/// A word that sounds like a digit ("for", "to"): a digit only between two numbers.
fn homophone(word: &str) -> Option<u32> {
    match word {
        "to" | "too" => Some(2),
        "for" => Some(4),
        _ => None,
    }
}

/// A number written or said (not a month name).
fn is_number(word: &str) -> bool {
    word.starts_with(|c: char| c.is_ascii_digit()) || word_atom(word).is_some_and(|a| !matches!(a, Atom::Month(_)))
}

/// A cardinal below 100 said in words starting at `i`: (value, atoms used).
fn below_hundred(atoms: &[Atom], i: usize) -> Vec<(u32, usize)> {
    match atoms.get(i) {
        Some(Atom::Digit(d)) => vec![(*d, 1)],
        Some(Atom::Teen(t)) => vec![(*t, 1)],
        Some(Atom::Tens(t)) => match atoms.get(i + 1) {
            Some(Atom::Digit(d)) if *d > 0 => vec![(*t, 1), (t + d, 2)],
            _ => vec![(*t, 1)],
        },
        _ => vec![],
    }
}

/// Every way to read one item starting at atom `i`: (item, next atom).
fn items_at(atoms: &[Atom], i: usize) -> Vec<(Item, usize)> {
    let num = |value, width, ordinal| Item::Num { value, width, ordinal, run: false };
    let mut out = Vec::new();
    match atoms[i] {
        Atom::Month(m) => out.push((Item::Month(m), i + 1)),
        Atom::Written { value, width, ordinal } => out.push((num(value, width, ordinal), i + 1)),
        Atom::Ordinal(o) => out.push((num(o, if o < 10 { 1 } else { 2 }, true), i + 1)),
        Atom::Hundred | Atom::Thousand => {}
        Atom::Digit(_) | Atom::Teen(_) | Atom::Tens(_) => {}
    }
    // A run of digit words, cut into chunks of 1, 2 or 4 digits ("oh three", "one nine eight two").
    let run = atoms[i..].iter().take_while(|a| matches!(a, Atom::Digit(_))).count();
    for width in [1usize, 2, 4] {
        if width <= run {
            let value = atoms[i..i + width].iter().fold(0, |acc, a| if let Atom::Digit(d) = a { acc * 10 + d } else { acc });
            out.push((Item::Num { value, width: width as u8, ordinal: false, run: true }, i + width));
        }
    }
    // "two thousand one" written as the digits "201" ("74201").
    if let [Atom::Digit(2), Atom::Digit(0), Atom::Digit(d)] = atoms[i..(i + 3).min(atoms.len())] {
        out.push((Item::Num { value: 2000 + d, width: 4, ordinal: false, run: true }, i + 3));
    }
    // A year written as two pairs: "06 15 19 55".
    if let [Atom::Written { value: high @ (19 | 20), width: 2, ordinal: false }, Atom::Written { value: low, width: 2, ordinal: false }] = atoms[i..(i + 2).min(atoms.len())] {
        out.push((Item::Num { value: high * 100 + low, width: 4, ordinal: false, run: false }, i + 2));
    }
    // Cardinals 10–99 and "twenty first"; years said in pairs; "two thousand (and) one".
    if matches!(atoms[i], Atom::Teen(_) | Atom::Tens(_)) {
        for (high, used) in below_hundred(atoms, i) {
            let j = i + used;
            out.push((num(high, 2, false), j));
            if let (Atom::Tens(t), Some(Atom::Ordinal(o))) = (atoms[i], atoms.get(j))
                && used == 1
                && *o < 10
            {
                out.push((num(t + o, 2, true), j + 1));
            }
            match atoms.get(j) {
                // "nineteen oh four"
                Some(Atom::Digit(0)) => {
                    if let Some(Atom::Digit(d)) = atoms.get(j + 1) {
                        out.push((num(high * 100 + d, 4, false), j + 2));
                    }
                }
                // "nineteen eighty two", "twenty fifteen"
                Some(Atom::Teen(_) | Atom::Tens(_)) => {
                    for (low, low_used) in below_hundred(atoms, j) {
                        out.push((num(high * 100 + low, 4, false), j + low_used));
                    }
                }
                // "nineteen hundred (and) four"
                Some(Atom::Hundred) => {
                    out.push((num(high * 100, 4, false), j + 1));
                    for (low, low_used) in below_hundred(atoms, j + 1) {
                        out.push((num(high * 100 + low, 4, false), j + 1 + low_used));
                    }
                }
                _ => {}
            }
        }
    }
    if let (Atom::Digit(d), Some(Atom::Thousand)) = (atoms[i], atoms.get(i + 1))
        && d > 0
    {
        let base = d * 1000;
        out.push((num(base, 4, false), i + 2));
        for (low, used) in below_hundred(atoms, i + 2) {
            out.push((num(base + low, 4, false), i + 2 + used));
        }
    }
    out
}

/// All groupings of the atoms into at most three items.
fn group(atoms: &[Atom], i: usize, current: &mut Vec<Item>, out: &mut Vec<Vec<Item>>) {
    if i == atoms.len() {
        out.push(current.clone());
        return;
    }
    if current.len() == 3 {
        return;
    }
    for (item, next) in items_at(atoms, i) {
        current.push(item);
        group(atoms, next, current, out);
        current.pop();
    }
}

/// A year as said: "82" (width 2), "1982" (width 4). `whole` when said as one number ("nineteen
/// eighty two", "1982"), not cut from a run of single digits.
#[derive(Debug, Clone, Copy)]
struct Year {
    value: u32,
    width: u8,
    whole: bool,
}

/// (month, day, year) for each pattern the items fit.
fn readings(items: &[Item]) -> Vec<(u32, u32, Year)> {
    let [a, b, c] = items else { return vec![] };
    let day = |item: &Item| match *item {
        Item::Num { value, width, .. } if width <= 2 && (1..=31).contains(&value) => Some(value),
        _ => None,
    };
    let month_number = |item: &Item| match *item {
        Item::Num { value, width, ordinal: false, .. } if width <= 2 && (1..=12).contains(&value) => Some(value),
        _ => None,
    };
    let year = |item: &Item| match *item {
        Item::Num { value, width: 2, ordinal: false, .. } => Some(Year { value, width: 2, whole: false }),
        Item::Num { value, width: 4, ordinal: false, run } if value >= 1000 => Some(Year { value, width: 4, whole: !run }),
        _ => None,
    };
    let mut out = Vec::new();
    let mut push = |m: Option<u32>, d: Option<u32>, y: Option<Year>| {
        if let (Some(m), Some(d), Some(y)) = (m, d, y) {
            out.push((m, d, y));
        }
    };
    let named = |item: &Item| if let Item::Month(m) = item { Some(*m) } else { None };
    push(named(a), day(b), year(c));
    push(named(b), day(a), year(c));
    push(month_number(a), day(b), year(c));
    if let Some(y) = year(a).filter(|y| y.width == 4) {
        push(month_number(b), day(c), Some(y));
        push(named(b), day(c), Some(y));
        push(named(c), day(b), Some(y));
    }
    out
}

fn resolve(month: u32, day: u32, Year { value: year, width, .. }: Year, today: NaiveDate) -> Result<NaiveDate, DateError> {
    let full = if width == 2 {
        // The most recent century that does not put the date in the future.
        let this_century = today.year() / 100 * 100;
        let recent = [this_century + year as i32, this_century - 100 + year as i32];
        let mut chosen = None;
        for y in recent {
            match NaiveDate::from_ymd_opt(y, month, day) {
                Some(date) if date <= today => {
                    chosen = Some(y);
                    break;
                }
                Some(_) => {}
                // February 29 of a year that is not leap: try the other century.
                None => {}
            }
        }
        chosen.unwrap_or(recent[1])
    } else {
        year as i32
    };
    let date = NaiveDate::from_ymd_opt(full, month, day).ok_or(DateError::Impossible { month, day, year: full })?;
    if date > today {
        return Err(DateError::Future);
    }
    if date.year() < 1900 {
        return Err(DateError::TooOld);
    }
    Ok(date)
}

#[cfg(test)]
#[path = "dates_tests.rs"]
mod tests;
