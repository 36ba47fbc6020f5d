//! The classifier: transcript text in, request type, red flags and the rules that fired out.
//!
//! Every type rule that fires adds its weight to its type; the highest total wins (ties go to the
//! earlier type in seed order), and below `min_score` the file's `fallback` type is used.
//! Red-flag rules fire independently. **Policy:** an emergency flag makes the call `urgent: true`
//! and its type `urgent` (J) — the caller's own request is kept in `detected_type` — so that
//! routing and the IVR handle every emergency the same way. An urgent-level flag (high fever,
//! worsening, a medication reaction) keeps the caller's type, sets `urgent: false` and is listed in
//! `red_flags` with its severity for same-day review. A caller who asks for urgent help without a
//! recognised red flag gets type `urgent` and `urgent: true` too.

use serde::Serialize;

use super::RequestType;
use super::model::{DecidedBy, ModelScores};
use super::pattern::Pattern;
use super::rules::{RuleSet, Severity, Target};
use super::text::{Token, tokens};

/// A rule that fired (or was negated), with the words that matched.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleHit {
    pub id: String,
    /// Request type name for type rules, severity for red flags.
    pub target: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
    pub matched: Vec<String>,
}

/// A red flag found in the text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RedFlag {
    pub id: String,
    pub severity: Severity,
    pub label: String,
    pub matched: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Classification {
    /// The type to file the call under (after the emergency policy).
    pub request: RequestType,
    /// What the caller asked for according to the type rules; `None` when no rule reached
    /// `min_score` and the fallback was used.
    pub detected: Option<RequestType>,
    pub urgent: bool,
    /// Highest red-flag severity, if any.
    pub severity: Option<Severity>,
    pub red_flags: Vec<RedFlag>,
    /// Rules that fired (type rules and red flags), in file order.
    pub rules: Vec<RuleHit>,
    /// Rules that matched only negated ("no chest pain"): they did not fire.
    pub negated: Vec<RuleHit>,
    /// Score per type that had any.
    pub scores: Vec<(RequestType, f64)>,
    /// The learned model's reading, when the model is loaded ([`crate::triage::model`]).
    pub model: Option<ModelScores>,
    /// Which part decided: whether it is an emergency, else its type. `None` without the model
    /// (the rules alone decided).
    pub decided_by: Option<DecidedBy>,
}

impl Classification {
    pub fn is_emergency(&self) -> bool {
        self.severity == Some(Severity::Emergency)
    }

    /// Red-flag ids, as stored in the call record.
    pub fn red_flag_ids(&self) -> Vec<String> {
        self.red_flags.iter().map(|f| f.id.clone()).collect()
    }
}

enum Outcome {
    Fired(Vec<String>),
    Negated(Vec<String>),
    No,
}

fn span(tokens: &[Token], start: usize, end: usize) -> String {
    tokens[start..end].iter().map(|t| t.text.as_str()).collect::<Vec<_>>().join(" ")
}

/// Best match of a pattern list: the first affirmed one, else the first negated one.
fn first_match(patterns: &[Pattern], tokens: &[Token], rules: &RuleSet) -> Option<(String, bool)> {
    let mut negated = None;
    for pattern in patterns {
        if let Some(m) = pattern.find(tokens, &rules.classes, &rules.negation) {
            if !m.negated {
                return Some((span(tokens, m.start, m.end), false));
            }
            negated.get_or_insert((span(tokens, m.start, m.end), true));
        }
    }
    negated
}

fn evaluate(any: &[Pattern], all: &[Vec<Pattern>], tokens: &[Token], rules: &RuleSet) -> Outcome {
    let mut matched = Vec::new();
    let mut negated = false;
    for group in std::iter::once(any).filter(|a| !a.is_empty()).chain(all.iter().map(Vec::as_slice)) {
        match first_match(group, tokens, rules) {
            None => return Outcome::No,
            Some((text, neg)) => {
                negated |= neg;
                matched.push(text);
            }
        }
    }
    if negated { Outcome::Negated(matched) } else { Outcome::Fired(matched) }
}

/// Rewrites alias phrases (speech-recogniser mishearings) into their intended words.
fn apply_aliases(tokens: Vec<Token>, rules: &RuleSet) -> Vec<Token> {
    if rules.aliases.is_empty() {
        return tokens;
    }
    let mut out = Vec::with_capacity(tokens.len());
    let mut i = 0;
    'outer: while i < tokens.len() {
        for (from, to) in &rules.aliases {
            let n = from.len();
            if i + n <= tokens.len() && tokens[i..i + n].iter().zip(from).all(|(t, f)| &t.text == f) {
                let clause = tokens[i].clause;
                out.extend(to.iter().map(|text| Token { text: text.clone(), clause }));
                i += n;
                continue 'outer;
            }
        }
        out.push(tokens[i].clone());
        i += 1;
    }
    out
}

/// The tokens with every span matched by an `unless` pattern blanked out, so "had a stroke two
/// years ago" cannot fire the stroke rule but "and now her face is drooping" still can.
fn mask(tokens: &[Token], unless: &[Pattern], rules: &RuleSet) -> Vec<Token> {
    let mut masked = tokens.to_vec();
    for pattern in unless {
        while let Some(m) = pattern.find(&masked, &rules.classes, &rules.negation) {
            for token in &mut masked[m.start..m.end] {
                token.text = "_".into();
            }
        }
    }
    masked
}

/// Classifies one transcript.
pub fn classify(rules: &RuleSet, text: &str) -> Classification {
    let tokens = apply_aliases(tokens(text), rules);
    let mut scores = [0.0f64; 12];
    let mut fired = Vec::new();
    let mut negated = Vec::new();
    let mut red_flags = Vec::new();
    for rule in &rules.rules {
        let outcome = if rule.unless.is_empty() { evaluate(&rule.any, &rule.all, &tokens, rules) } else { evaluate(&rule.any, &rule.all, &mask(&tokens, &rule.unless, rules), rules) };
        let (target, weight) = match &rule.target {
            Target::Type { kind, weight } => (kind.name().to_string(), Some(*weight)),
            Target::Flag { severity, .. } => (format!("{severity:?}").to_lowercase(), None),
        };
        let hit = |matched| RuleHit { id: rule.id.clone(), target: target.clone(), weight, matched };
        match outcome {
            Outcome::No => {}
            Outcome::Negated(matched) => negated.push(hit(matched)),
            Outcome::Fired(matched) => {
                match &rule.target {
                    Target::Type { kind, weight } => {
                        let index = RequestType::ALL.iter().position(|t| t == kind).unwrap_or(0);
                        scores[index] += weight;
                    }
                    Target::Flag { severity, label } => red_flags.push(RedFlag { id: rule.id.clone(), severity: *severity, label: label.clone(), matched: matched.clone() }),
                }
                fired.push(hit(matched));
            }
        }
    }
    let (best, best_score) = scores.iter().enumerate().fold((0, 0.0), |(bi, bs), (i, &s)| if s > bs { (i, s) } else { (bi, bs) });
    let detected = (best_score >= rules.min_score).then(|| RequestType::ALL[best]);
    let severity = red_flags.iter().map(|f| f.severity).max();
    let emergency = severity == Some(Severity::Emergency);
    let request = if emergency { RequestType::Urgent } else { detected.unwrap_or(rules.fallback) };
    Classification {
        request,
        detected,
        urgent: emergency || request == RequestType::Urgent,
        severity,
        red_flags,
        rules: fired,
        negated,
        scores: RequestType::ALL.iter().zip(scores).filter(|(_, s)| *s > 0.0).map(|(t, s)| (*t, s)).collect(),
        model: None,
        decided_by: None,
    }
}
