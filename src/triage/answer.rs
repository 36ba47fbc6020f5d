//! Spoken answers: yes/no for confirmations ("Did I get that right?") and a choice among a few
//! spoken menu options.

use super::text::tokens;

const YES: &[&str] = &["yes", "yeah", "yea", "yep", "yup", "ya", "yah", "sure", "correct", "right", "exactly", "absolutely", "affirmative", "definitely", "certainly", "true", "indeed", "yess"];
const NO: &[&str] = &["no", "nope", "nah", "wrong", "incorrect", "negative", "nay"];
const YES_PHRASES: &[&[&str]] = &[&["uh", "huh"], &["mm", "hmm"], &["mhm"], &["of", "course"], &["that", "is", "me"]];
const NO_PHRASES: &[&[&str]] = &[&["uh", "uh"], &["not", "really"], &["that", "is", "not", "me"]];
/// Words after "not" that turn a yes-word into a no ("not right", "not correct").
const NEGATABLE: &[&str] = &["right", "correct", "true", "it", "me", "exactly", "yes"];

fn starts_with(words: &[String], at: usize, phrase: &[&str]) -> bool {
    words.len() >= at + phrase.len() && words[at..at + phrase.len()].iter().zip(phrase).all(|(w, p)| w == p)
}

/// `Some(true)` for a yes ("yes", "yeah", "that's right", "correct"), `Some(false)` for a no
/// ("no", "nope", "that's wrong", "that's not right"), `None` when the answer is neither or both
/// ("I'm not sure", "yes no").
pub fn yes_no(text: &str) -> Option<bool> {
    let words: Vec<String> = tokens(text).into_iter().map(|t| t.text).collect();
    let (mut yes, mut no) = (false, false);
    let mut i = 0;
    while i < words.len() {
        if let Some(p) = NO_PHRASES.iter().find(|p| starts_with(&words, i, p)) {
            no = true;
            i += p.len();
        } else if let Some(p) = YES_PHRASES.iter().find(|p| starts_with(&words, i, p)) {
            yes = true;
            i += p.len();
        } else if words[i] == "not" {
            // "not right" is a no; "not sure" is neither.
            if words.get(i + 1).is_some_and(|w| NEGATABLE.contains(&w.as_str())) {
                no = true;
            }
            i += 2;
        } else {
            yes |= YES.contains(&words[i].as_str());
            no |= NO.contains(&words[i].as_str());
            i += 1;
        }
    }
    match (yes, no) {
        (true, false) => Some(true),
        (false, true) => Some(false),
        _ => None,
    }
}

const ORDINALS: &[&[&str]] = &[
    &["one", "first", "1", "1st", "won"],
    &["two", "second", "2", "2nd", "to", "too"],
    &["three", "third", "3", "3rd"],
    &["four", "fourth", "4", "4th", "for"],
    &["five", "fifth", "5", "5th"],
    &["six", "sixth", "6", "6th"],
    &["seven", "seventh", "7", "7th"],
    &["eight", "eighth", "8", "8th"],
    &["nine", "ninth", "9", "9th"],
];
/// Words that say "the next word is a number" (so "to"/"for" count only after them).
const NUMBER_LEADS: &[&str] = &["number", "option", "press", "choice", "the", "pick", "choose"];
const STOP: &[&str] = &["a", "an", "the", "my", "i", "to", "for", "of", "about", "with", "and", "or", "is", "it", "want", "need", "like", "would", "please", "um", "uh", "one", "some"];

/// Which of `options` (their spoken labels) the caller chose: by position ("number two", "the
/// first one", "the last one") or by the label's words ("the refill one"). `None` when unclear.
pub fn menu_choice(text: &str, options: &[&str]) -> Option<usize> {
    let words: Vec<String> = tokens(text).into_iter().map(|t| t.text).collect();
    if words.iter().any(|w| w == "last") && !options.is_empty() {
        return Some(options.len() - 1);
    }
    for (i, word) in words.iter().enumerate() {
        let led = i > 0 && NUMBER_LEADS.contains(&words[i - 1].as_str());
        let homophone = matches!(word.as_str(), "to" | "too" | "for" | "won");
        if homophone && !(led || words.len() == 1) {
            continue;
        }
        if let Some(n) = ORDINALS.iter().position(|forms| forms.contains(&word.as_str()))
            && n < options.len()
        {
            return Some(n);
        }
    }
    let content: Vec<&String> = words.iter().filter(|w| w.len() >= 3 && !STOP.contains(&w.as_str())).collect();
    let scores: Vec<usize> = options
        .iter()
        .map(|option| {
            let label: Vec<String> = tokens(option).into_iter().map(|t| t.text).filter(|w| !STOP.contains(&w.as_str())).collect();
            content.iter().filter(|w| label.iter().any(|l| same_word(l, w))).count()
        })
        .collect();
    let best = *scores.iter().max()?;
    (best > 0 && scores.iter().filter(|s| **s == best).count() == 1).then(|| scores.iter().position(|s| *s == best).unwrap())
}

/// Same word up to an ending ("refill" / "refills", "appointment" / "appointments").
fn same_word(a: &str, b: &str) -> bool {
    let common = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    a == b || (common >= 5 && common + 3 >= a.len().max(b.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yes_answers() {
        for text in ["yes", "Yeah.", "yep that's it", "that's right", "correct", "yes that is correct", "uh huh", "sure", "that's me", "Yes, it is."] {
            assert_eq!(yes_no(text), Some(true), "{text:?}");
        }
    }

    #[test]
    fn no_answers() {
        for text in ["no", "Nope.", "that's wrong", "no that's not right", "that's not correct", "nah", "incorrect", "uh uh", "not really", "No, it's not."] {
            assert_eq!(yes_no(text), Some(false), "{text:?}");
        }
    }

    #[test]
    fn unclear_answers() {
        for text in ["", "I'm not sure", "what", "yes no", "can you repeat that", "hello?"] {
            assert_eq!(yes_no(text), None, "{text:?}");
        }
    }

    #[test]
    fn menu_choices() {
        let options = ["a prescription refill", "an appointment", "test results", "billing"];
        assert_eq!(menu_choice("number two", &options), Some(1));
        assert_eq!(menu_choice("the first one", &options), Some(0));
        assert_eq!(menu_choice("3", &options), Some(2));
        assert_eq!(menu_choice("option for", &options), Some(3));
        assert_eq!(menu_choice("the last one please", &options), Some(3));
        assert_eq!(menu_choice("um refills I guess", &options), Some(0));
        assert_eq!(menu_choice("I'm calling about my results", &options), Some(2));
        assert_eq!(menu_choice("I want to talk to someone", &options), None);
        assert_eq!(menu_choice("number nine", &options), None);
    }
}
