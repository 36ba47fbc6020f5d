//! Pure helpers of the patient line: which chart a caller is (caller ID, spoken name among the
//! candidates of one date of birth) and which read-back clip names a medication.

use crate::triage::medication::{best_match, sounds_like};
use crate::triage::text::tokens;

/// The last ten digits of a phone number, `None` when it has fewer than seven digits (an
/// extension or a withheld number cannot identify anyone).
pub fn phone_key(number: &str) -> Option<String> {
    // A SIP URI's host is not part of the number.
    let user = number.split('@').next().unwrap_or_default();
    let digits: String = user.chars().filter(|c| c.is_ascii_digit()).collect();
    if digits.len() < 7 {
        return None;
    }
    Some(digits[digits.len().saturating_sub(10)..].to_string())
}

/// Same line: `+1 (555) 146-1616`, `555-146-1616` and `sip:15551461616@pbx` all agree.
pub fn same_phone(a: &str, b: &str) -> bool {
    matches!((phone_key(a), phone_key(b)), (Some(x), Some(y)) if x == y)
}

/// Words callers put around their name.
const NAME_FILLERS: &[&str] =
    &["my", "name", "is", "it", "its", "it's", "this", "the", "first", "last", "i", "am", "im", "i'm", "uh", "um", "er", "and", "s", "yes", "hi", "hello", "so"];

/// Minimum similarity of a spoken word to a name part.
pub const NAME_THRESHOLD: f64 = 0.84;

/// Letters of a chart name part, lowercased (synthetic charts append digits: `Maria123`).
fn name_parts(name: &str) -> Vec<String> {
    name.split(|c: char| c.is_whitespace() || c == '-')
        .map(|p| p.chars().filter(|c| c.is_alphabetic()).flat_map(char::to_lowercase).collect::<String>())
        .filter(|p| p.len() >= 2)
        .collect()
}

/// Which of `candidates` (given, family) the caller named: each name part the caller said counts
/// once (so "John Smith" beats "Jane Smith"), and only a single best candidate wins; a tie or no
/// word near any name gives `None`.
pub fn match_name(spoken: &str, candidates: &[(&str, &str)]) -> Option<usize> {
    let words: Vec<String> =
        tokens(spoken).into_iter().map(|t| t.text).filter(|w| w.len() >= 2 && !NAME_FILLERS.contains(&w.as_str())).collect();
    let mut forms = words.clone();
    forms.extend(words.windows(2).map(|w| w.concat())); // "mc donald", "van der"
    let scores: Vec<f64> = candidates
        .iter()
        .map(|(given, family)| {
            name_parts(given)
                .iter()
                .chain(name_parts(family).iter())
                .map(|part| forms.iter().map(|f| sounds_like(f, part)).fold(0.0, f64::max))
                .filter(|s| *s >= NAME_THRESHOLD)
                .sum()
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

    #[test]
    fn phones_compare_by_last_ten_digits() {
        assert!(same_phone("+1 (555) 146-1616", "555-146-1616"));
        assert!(same_phone("sip:15551461616@10.0.0.1", "5551461616"));
        assert!(!same_phone("555-146-1616", "555-146-1617"));
        assert!(!same_phone("101", "101"), "an extension identifies no one");
        assert_eq!(phone_key("anonymous"), None);
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
