//! Pure helpers of the patient line: which chart a caller is (the readings of a spoken date of
//! birth against the chart, caller ID, spoken name among the candidates of one date of birth) and
//! which read-back clip names a medication.

use chrono::{Datelike, NaiveDate};

use crate::triage::medication::{best_match, sounds_like};
use crate::triage::text::tokens;

/// Caller ID against a chart's phone: the same line (see `crate::phone::same`).
pub use crate::phone::same as same_phone;

/// What the chart makes of the readings of one spoken date of birth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BirthDateChoice {
    /// The one reading with charts, or the only reading when nothing matches (a new patient):
    /// read it back.
    ReadBack(NaiveDate),
    /// No reading has a chart, but this near miss of one (day and month swapped, one digit off)
    /// is exactly one patient's: offer it ("did you say …?").
    Offer(NaiveDate),
    /// Several readings have charts, or several readings and no chart: ask again, never guess.
    AskAgain,
}

/// The choice once each reading was looked up as (date, charts with it); `None` = no reading has
/// a chart and the near misses are to be looked up ([`near_misses`], then [`choose_near_miss`]).
pub fn choose_reading(found: &[(NaiveDate, usize)]) -> Option<BirthDateChoice> {
    match found.iter().filter(|(_, charts)| *charts > 0).collect::<Vec<_>>().as_slice() {
        [] => None,
        [(date, _)] => Some(BirthDateChoice::ReadBack(*date)),
        _ => Some(BirthDateChoice::AskAgain),
    }
}

/// The choice when no reading has a chart, from the near misses looked up as (date, charts).
pub fn choose_near_miss(readings: &[NaiveDate], near: &[(NaiveDate, usize)]) -> BirthDateChoice {
    match (near.iter().filter(|(_, charts)| *charts == 1).collect::<Vec<_>>().as_slice(), readings) {
        ([(date, _)], _) => BirthDateChoice::Offer(*date),
        (_, [only]) => BirthDateChoice::ReadBack(*only),
        _ => BirthDateChoice::AskAgain,
    }
}

/// Dates one slip away from the readings: day and month swapped, or one digit of MMDDYYYY
/// changed; valid birth dates only (1900 to `today`), none of the readings themselves.
pub fn near_misses(readings: &[NaiveDate], today: NaiveDate) -> Vec<NaiveDate> {
    let mut out = Vec::new();
    for date in readings {
        out.extend(NaiveDate::from_ymd_opt(date.year(), date.day(), date.month()));
        let digits: Vec<u32> = date.format("%m%d%Y").to_string().chars().filter_map(|c| c.to_digit(10)).collect();
        for position in 0..digits.len() {
            for digit in (0..10).filter(|d| *d != digits[position]) {
                let mut changed = digits.clone();
                changed[position] = digit;
                let number = |range: std::ops::Range<usize>| changed[range].iter().fold(0, |acc, d| acc * 10 + d);
                out.extend(NaiveDate::from_ymd_opt(number(4..8) as i32, number(0..2), number(2..4)));
            }
        }
    }
    out.retain(|d| *d <= today && d.year() >= 1900 && !readings.contains(d));
    out.sort();
    out.dedup();
    out
}

/// Words callers put around their name.
const NAME_FILLERS: &[&str] = &["my", "name", "is", "it", "its", "it's", "this", "the", "first", "last", "i", "am", "im", "i'm", "uh", "um", "er", "and", "s", "yes", "hi", "hello", "so"];

/// Minimum similarity of a spoken word to a name part.
pub const NAME_THRESHOLD: f64 = 0.84;

/// Letters of a chart name part, lowercased (synthetic charts append digits: `Maria123`).
fn name_parts(name: &str) -> Vec<String> {
    name.split(|c: char| c.is_whitespace() || c == '-').map(|p| p.chars().filter(|c| c.is_alphabetic()).flat_map(char::to_lowercase).collect::<String>()).filter(|p| p.len() >= 2).collect()
}

/// Which of `candidates` (given, family) the caller named: each name part the caller said counts
/// once (so "John Smith" beats "Jane Smith"), and only a single best candidate wins; a tie or no
/// word near any name gives `None`.
pub fn match_name(spoken: &str, candidates: &[(&str, &str)]) -> Option<usize> {
    let words: Vec<String> = tokens(spoken).into_iter().map(|t| t.text).filter(|w| w.len() >= 2 && !NAME_FILLERS.contains(&w.as_str())).collect();
    let mut forms = words.clone();
    forms.extend(words.windows(2).map(|w| w.concat())); // "mc donald", "van der"
    let scores: Vec<f64> = candidates
        .iter()
        .map(|(given, family)| {
            name_parts(given).iter().chain(name_parts(family).iter()).map(|part| forms.iter().map(|f| sounds_like(f, part)).fold(0.0, f64::max)).filter(|s| *s >= NAME_THRESHOLD).sum()
        })
        .collect();
    let best = scores.iter().copied().fold(0.0, f64::max);
    if best == 0.0 {
        return None;
    }
    let winners: Vec<usize> = (0..scores.len()).filter(|i| scores[*i] > best - 0.05).collect();
    (winners.len() == 1).then(|| winners[0])
}

/// Clip name of a spoken vocabulary word: `med-` and the words joined by `-`.
pub fn medication_clip_name(spelling: &str) -> String {
    let words: Vec<String> = tokens(spelling).into_iter().map(|t| t.text).collect();
    format!("med-{}", words.join("-"))
}

/// The read-back clip for a medication (a chart display text like "Lisinopril 10 MG Oral Tablet"
/// or a vocabulary spelling): the clip of the vocabulary spelling it matches, if any.
pub fn medication_clip(medication: &str, vocabulary: &[String]) -> Option<String> {
    best_match(medication, vocabulary).map(|(i, _)| medication_clip_name(&vocabulary[i]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn the_chart_chooses_between_readings() {
        let (a, b) = (ymd(1970, 1, 19), ymd(1970, 11, 9));
        assert_eq!(choose_reading(&[(a, 0), (b, 1)]), Some(BirthDateChoice::ReadBack(b)), "the one reading with a chart");
        assert_eq!(choose_reading(&[(a, 3)]), Some(BirthDateChoice::ReadBack(a)), "several charts: the name decides later");
        assert_eq!(choose_reading(&[(a, 1), (b, 1)]), Some(BirthDateChoice::AskAgain), "two patients: never guess");
        assert_eq!(choose_reading(&[(a, 0), (b, 0)]), None, "look at the near misses");
        let near = ymd(1970, 1, 18);
        assert_eq!(choose_near_miss(&[a, b], &[(near, 1)]), BirthDateChoice::Offer(near));
        assert_eq!(choose_near_miss(&[a, b], &[(near, 2)]), BirthDateChoice::AskAgain, "a near miss shared by two is no help");
        assert_eq!(choose_near_miss(&[a, b], &[(near, 1), (ymd(1971, 1, 19), 1)]), BirthDateChoice::AskAgain);
        assert_eq!(choose_near_miss(&[a], &[]), BirthDateChoice::ReadBack(a), "a new patient's date is read back");
        assert_eq!(choose_near_miss(&[a, b], &[]), BirthDateChoice::AskAgain);
    }

    #[test]
    fn near_misses_are_one_slip_away() {
        let today = ymd(2026, 11, 25);
        let near = near_misses(&[ymd(1982, 3, 5)], today);
        assert!(near.contains(&ymd(1982, 5, 3)), "day and month swapped");
        assert!(near.contains(&ymd(1983, 3, 5)) && near.contains(&ymd(1982, 3, 15)) && near.contains(&ymd(1982, 1, 5)));
        assert!(!near.contains(&ymd(1982, 3, 5)) && !near.contains(&ymd(1983, 3, 6)), "two slips are not near");
        assert!(near.iter().all(|d| d.year() >= 1900 && *d <= today));
        assert!(!near_misses(&[ymd(2026, 11, 20)], today).contains(&ymd(2026, 11, 29)), "not in the future");
    }

    #[test]
    fn names_among_candidates() {
        let twins = [("John123", "Smith456"), ("Jane789", "Smith456"), ("Maria", "Garcia-Lopez")];
        assert_eq!(match_name("my name is John Smith", &twins), Some(0));
        assert_eq!(match_name("jane", &twins), Some(1));
        assert_eq!(match_name("Smith", &twins), None, "both are Smiths");
        assert_eq!(match_name("it's Garsia", &twins), Some(2), "misheard family name");
        assert_eq!(match_name("lopez", &twins), Some(2));
        assert_eq!(match_name("I don't know", &twins), None);
        assert_eq!(match_name("", &twins), None);
    }

    #[test]
    fn medication_clips_come_from_the_vocabulary() {
        let vocabulary: Vec<String> = ["lisinopril", "metformin", "vitamin d"].map(String::from).to_vec();
        assert_eq!(medication_clip("Lisinopril 10 MG Oral Tablet", &vocabulary).as_deref(), Some("med-lisinopril"));
        assert_eq!(medication_clip("24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet", &vocabulary).as_deref(), Some("med-metformin"));
        assert_eq!(medication_clip("Vitamin D 1000 UNT", &vocabulary).as_deref(), Some("med-vitamin-d"));
        assert_eq!(medication_clip("Zyxoprazole 5 MG", &vocabulary), None);
    }

    /// Every medication spelling of the embedded triage vocabulary has a rendered read-back line.
    #[test]
    fn every_vocabulary_medication_has_a_prompt_line() {
        let catalogue = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/sounds/prompts.tsv")).unwrap();
        let names: std::collections::HashSet<&str> = catalogue.lines().filter_map(|l| l.split('\t').next()).collect();
        let triage = crate::triage::Triage::embedded().unwrap();
        let vocabulary = triage.vocabulary("med");
        assert!(vocabulary.len() > 100);
        for spelling in &vocabulary {
            assert!(names.contains(medication_clip_name(spelling).as_str()), "{spelling}");
        }
    }
}
