//! What a caller's request already says about the appointment, so the dialog need not ask it
//! again: "I need a follow-up appointment" names the visit type (and means a new one), "I have to
//! cancel my appointment" the intent. Only an unambiguous mention counts; anything else leaves the
//! question to be asked.

use crate::schedule::VisitType;

/// Words (after lower-casing, hyphens as spaces) that name a visit type. Two-word forms first.
const VISIT_NAMES: [(VisitType, &[&str]); 4] = [
    (VisitType::NewPatient, &["new patient"]),
    (VisitType::FollowUp, &["follow up", "followup", "recheck"]),
    (VisitType::SickVisit, &["sick", "ill", "unwell"]),
    (VisitType::AnnualPhysical, &["physical", "annual", "yearly", "checkup", "check up", "wellness"]),
];

/// Words that say the caller wants to move or drop an existing appointment.
const CHANGE_WORDS: [&str; 5] = ["change", "reschedule", "move", "different", "switch"];
const CANCEL_WORDS: [&str; 3] = ["cancel", "cancellation", "cancelled"];
const NEW_WORDS: [&str; 4] = ["new", "book", "schedule", "make"];

fn normalised(text: &str) -> String {
    let words: Vec<String> = text.to_lowercase().split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_string).collect();
    format!(" {} ", words.join(" "))
}

fn has(text: &str, phrase: &str) -> bool {
    text.contains(&format!(" {phrase} "))
}

/// The one visit type the words name, if exactly one is named.
pub(in crate::ivr::dialog) fn named_visit(text: &str) -> Option<VisitType> {
    let text = normalised(text);
    let mut named = VISIT_NAMES.iter().filter(|(_, words)| words.iter().any(|w| has(&text, w))).map(|(v, _)| *v);
    let first = named.next()?;
    named.next().is_none().then_some(first)
}

/// "new", "change" or "cancel" when the words say it unambiguously; a named visit type without
/// change or cancel words means a new appointment ("I need a physical").
pub(in crate::ivr::dialog) fn named_intent(text: &str) -> Option<&'static str> {
    let text = normalised(text);
    let any = |words: &[&str]| words.iter().any(|w| has(&text, w));
    let (change, cancel) = (any(&CHANGE_WORDS), any(&CANCEL_WORDS));
    // "new patient" names a visit type, not the intent on its own.
    let new = any(&NEW_WORDS) && !has(&text, "new patient");
    let visit = named_visit(&text).is_some();
    match (new, change, cancel) {
        (_, true, false) => Some("change"),
        (false, false, true) => Some("cancel"),
        (false, false, false) if visit => Some("new"),
        (true, false, false) => Some("new"),
        // Cancel and new together ("cancel it and book a new one"), or nothing: ask.
        _ => None,
    }
}

/// The caller asks to hear the confirmation number again.
pub(in crate::ivr::dialog) fn wants_repeat(text: &str) -> bool {
    let text = normalised(text);
    ["repeat", "again", "what", "sorry", "pardon", "yes"].iter().any(|w| has(&text, w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visit_types_named_in_a_request() {
        assert_eq!(named_visit("I need a follow-up appointment."), Some(VisitType::FollowUp));
        assert_eq!(named_visit("A new follow up appointment, please"), Some(VisitType::FollowUp));
        assert_eq!(named_visit("I'd like to book a physical"), Some(VisitType::AnnualPhysical));
        assert_eq!(named_visit("my yearly check-up"), Some(VisitType::AnnualPhysical));
        assert_eq!(named_visit("I'm sick and need to see the doctor"), Some(VisitType::SickVisit));
        assert_eq!(named_visit("I'm a new patient"), Some(VisitType::NewPatient));
        assert_eq!(named_visit("A new appointment, please."), None);
        assert_eq!(named_visit("I will call about my bill"), None, "\"will\" is not \"ill\"");
        assert_eq!(named_visit("a follow up or a physical"), None, "two types named: ask");
    }

    #[test]
    fn intents_named_in_a_request() {
        assert_eq!(named_intent("A new appointment, please."), Some("new"));
        assert_eq!(named_intent("I need a follow-up appointment"), Some("new"));
        assert_eq!(named_intent("I need to cancel my appointment."), Some("cancel"));
        assert_eq!(named_intent("I'd like to reschedule my physical"), Some("change"));
        assert_eq!(named_intent("I need an appointment"), None);
        assert_eq!(named_intent("I'm a new patient"), Some("new"), "a visit type named: a new one");
        assert_eq!(named_intent("cancel and book a new one"), None, "both: ask");
        assert_eq!(named_intent("I need to cancel my physical"), Some("cancel"));
    }

    #[test]
    fn repeat_requests() {
        assert!(wants_repeat("Can you repeat that?"));
        assert!(wants_repeat("Say it again"));
        assert!(!wants_repeat("No, thank you."));
        assert!(!wants_repeat(""));
    }
}
