//! How the rules' classification and the model's scores make one decision. Pure.
//!
//! - **Emergency** (the first objective): the rules' affirmed emergency flags always stand — the
//!   model can add an emergency the rules missed, never remove one they found. The model's
//!   emergency probability at or above the threshold makes the call an emergency with the flag
//!   `model_emergency`, for a text of at least [`MIN_WORDS`] words: one- and two-word answers
//!   ("no", "hello?") say too little for the model, and the short emergencies ("chest pain",
//!   "he collapsed") are the rules' job.
//! - **Urgent** (same-day): likewise, the model adds `model_urgent` when its urgent probability
//!   reaches its threshold and the rules found no flag.
//! - **Type**: the model's likeliest type when it is confident (probability ≥ 0.5); otherwise the
//!   rules' type when they found one; otherwise the model's likeliest type. Below [`MIN_WORDS`]
//!   the rules decide the type alone. The emergency policy
//!   of [`crate::triage::classify`] then applies as before (an emergency files as `urgent`).

use serde::Serialize;

use super::{ModelScores, Thresholds};
use crate::triage::{Classification, RedFlag, RequestType, Severity};

/// Which part decided that the call is an emergency (or, when it is not one, its type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DecidedBy {
    Rules,
    Model,
    Both,
}

/// Fewest words for which the model may raise a flag on its own.
pub const MIN_WORDS: usize = 3;

/// Model probability at or above which its type wins over the rules'.
const CONFIDENT_TYPE: f32 = 0.5;

fn flag(id: &str, severity: Severity, what: &str, p: f32) -> RedFlag {
    RedFlag { id: id.into(), severity, label: format!("{what} (learned model, p={p:.2})"), matched: Vec::new() }
}

/// Merges `scores` into the rules' classification `c`.
pub fn combine(mut c: Classification, scores: ModelScores, thresholds: Thresholds) -> Classification {
    let rules_emergency = c.is_emergency();
    let says_enough = scores.words >= MIN_WORDS;
    let model_emergency = says_enough && scores.emergency >= thresholds.emergency;
    if model_emergency && !rules_emergency {
        c.red_flags.push(flag("model_emergency", Severity::Emergency, "emergency", scores.emergency));
    } else if says_enough && !model_emergency && c.red_flags.is_empty() && scores.urgent >= thresholds.urgent {
        c.red_flags.push(flag("model_urgent", Severity::Urgent, "urgent same-day problem", scores.urgent));
    }
    c.severity = c.red_flags.iter().map(|f| f.severity).max();
    let model_type = scores.top_type().filter(|_| says_enough);
    let rules_type = c.detected;
    let (kind, type_by) = match (model_type, rules_type) {
        (Some((t, p)), Some(r)) if p < CONFIDENT_TYPE => (r, if r == t { DecidedBy::Both } else { DecidedBy::Rules }),
        (Some((t, _)), r) => (t, if r == Some(t) { DecidedBy::Both } else { DecidedBy::Model }),
        (None, Some(r)) => (r, DecidedBy::Rules),
        (None, None) => (c.request, DecidedBy::Rules),
    };
    let emergency = c.is_emergency();
    c.decided_by = Some(match (emergency, rules_emergency, model_emergency) {
        (true, true, true) => DecidedBy::Both,
        (true, true, false) => DecidedBy::Rules,
        (true, false, _) => DecidedBy::Model,
        (false, ..) => type_by,
    });
    c.detected = Some(kind);
    c.request = if emergency { RequestType::Urgent } else { kind };
    c.urgent = emergency || c.request == RequestType::Urgent;
    c.model = Some(scores);
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::triage::Triage;

    const T: Thresholds = Thresholds { emergency: 0.4, urgent: 0.6 };

    fn scores(emergency: f32, urgent: f32, top: RequestType, p: f32) -> ModelScores {
        ModelScores { emergency, urgent, types: vec![(top, p), (RequestType::Provider, (1.0 - p) / 2.0)], words: 5 }
    }

    fn rules(text: &str) -> Classification {
        Triage::embedded().unwrap().classify_rules(text)
    }

    #[test]
    fn the_model_adds_an_emergency_the_rules_missed() {
        let c = combine(rules("i feel odd"), scores(0.9, 0.05, RequestType::Urgent, 0.8), T);
        assert!(c.is_emergency() && c.urgent);
        assert_eq!(c.request, RequestType::Urgent);
        assert_eq!(c.red_flag_ids(), vec!["model_emergency".to_string()]);
        assert_eq!(c.decided_by, Some(DecidedBy::Model));
    }

    #[test]
    fn the_model_never_removes_an_emergency_the_rules_found() {
        let base = rules("i have crushing chest pain going down my left arm");
        assert!(base.is_emergency(), "the rules find this one");
        let c = combine(base, scores(0.01, 0.01, RequestType::Refill, 0.99), T);
        assert!(c.is_emergency());
        assert_eq!(c.request, RequestType::Urgent);
        assert_eq!(c.decided_by, Some(DecidedBy::Rules));
        let both = combine(rules("i have crushing chest pain going down my left arm"), scores(0.95, 0.0, RequestType::Urgent, 0.9), T);
        assert_eq!(both.decided_by, Some(DecidedBy::Both));
    }

    #[test]
    fn types_come_from_a_confident_model_else_from_the_rules() {
        let refill = rules("i need a refill of my lisinopril");
        assert_eq!(refill.request, RequestType::Refill);
        let unsure = combine(refill.clone(), scores(0.0, 0.0, RequestType::Appointment, 0.4), T);
        assert_eq!((unsure.request, unsure.decided_by), (RequestType::Refill, Some(DecidedBy::Rules)));
        let sure = combine(refill, scores(0.0, 0.0, RequestType::PriorAuth, 0.8), T);
        assert_eq!((sure.request, sure.decided_by), (RequestType::PriorAuth, Some(DecidedBy::Model)));
        let agree = combine(rules("i need a refill of my lisinopril"), scores(0.0, 0.0, RequestType::Refill, 0.9), T);
        assert_eq!(agree.decided_by, Some(DecidedBy::Both));
        assert!(!agree.urgent && agree.red_flags.is_empty());
    }

    #[test]
    fn a_one_or_two_word_answer_raises_no_model_flag() {
        let short = ModelScores { words: 2, ..scores(0.99, 0.99, RequestType::Urgent, 0.9) };
        let c = combine(rules("hello there"), short, T);
        assert!(!c.is_emergency() && c.red_flags.is_empty());
    }

    #[test]
    fn an_urgent_probability_adds_an_urgent_flag_without_the_911_path() {
        let c = combine(rules("my cut looks worse"), scores(0.1, 0.8, RequestType::Symptom, 0.9), T);
        assert_eq!(c.severity, Some(Severity::Urgent));
        assert!(!c.is_emergency() && !c.urgent);
        assert_eq!(c.request, RequestType::Symptom);
        assert_eq!(c.red_flag_ids(), vec!["model_urgent".to_string()]);
    }
}
