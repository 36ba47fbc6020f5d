//! Phrase patterns over normalised tokens, with NegEx-style negation.
//!
//! Pattern syntax (one phrase, words separated by spaces):
//! - `word` matches that token; a word of 7+ letters also matches a close mis-spelling
//!   (one or two edits, as speech recognisers produce: "perscription");
//! - `refill*` matches tokens starting with `refill`; `*ologist` tokens ending with `ologist`;
//! - `a|b|c` matches any of the alternatives (each may carry `*`);
//! - `...` skips up to three tokens (`...5` up to five);
//! - `{med}` / `{test}` (any class name from the vocabulary) matches one entry of that vocabulary.
//!
//! A match is negated when a negation cue ("no", "not", "never", "without", …) stands at most
//! `window` tokens before it in the same clause with no terminator ("but", "however", …) between,
//! unless the cue is part of a pseudo-negation ("not stop", "not sure", "no i").

use std::collections::HashMap;

use super::medication::{MATCH_THRESHOLD, similar_at_least, similarity, sounds_like};
use super::text::Token;

#[derive(Debug, Clone, PartialEq)]
enum Word {
    Exact(String),
    Prefix(String),
    Suffix(String),
    /// A vocabulary entry (`{med}`), possibly several tokens long.
    Class(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Element {
    /// One of the alternatives.
    Word(Vec<Word>),
    Gap(usize),
}

/// A compiled phrase pattern; `source` is the text it was written as.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    pub source: String,
    elements: Vec<Element>,
}

/// Vocabulary classes for `{name}` elements: each entry is a phrase as tokens.
pub type Classes = HashMap<String, Vec<Vec<String>>>;

/// Negation settings (from `[negation]` in triage.toml).
#[derive(Debug, Clone, Default)]
pub struct Negation {
    pub cues: Vec<String>,
    pub terminators: Vec<String>,
    pub pseudo: Vec<Vec<String>>,
    pub window: usize,
}

/// Where a pattern matched: token range and whether it is negated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    pub start: usize,
    pub end: usize,
    pub negated: bool,
}

impl Pattern {
    /// Compiles `source`; the error says what is wrong with it.
    pub fn parse(source: &str, classes: &Classes) -> Result<Pattern, String> {
        let mut elements = Vec::new();
        for part in source.split_whitespace() {
            let part = part.to_lowercase();
            if let Some(rest) = part.strip_prefix("...") {
                let max = if rest.is_empty() { 3 } else { rest.parse().map_err(|_| format!("bad gap {part:?}"))? };
                if elements.is_empty() {
                    return Err("a pattern cannot start with a gap".into());
                }
                elements.push(Element::Gap(max));
            } else {
                let mut alternatives = Vec::new();
                for alt in part.split('|') {
                    if let Some(name) = alt.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                        if !classes.contains_key(name) {
                            return Err(format!("unknown vocabulary {{{name}}}"));
                        }
                        alternatives.push(Word::Class(name.to_string()));
                        continue;
                    }
                    let word = if let Some(stem) = alt.strip_suffix('*') {
                        Word::Prefix(stem.to_string())
                    } else if let Some(tail) = alt.strip_prefix('*') {
                        Word::Suffix(tail.to_string())
                    } else {
                        Word::Exact(alt.to_string())
                    };
                    let inner = match &word {
                        Word::Exact(s) | Word::Prefix(s) | Word::Suffix(s) | Word::Class(s) => s,
                    };
                    if inner.is_empty() || !inner.chars().all(|c| c.is_alphanumeric() || c == '.') {
                        return Err(format!("bad word {alt:?} (letters, digits, one leading or trailing *)"));
                    }
                    alternatives.push(word);
                }
                elements.push(Element::Word(alternatives));
            }
        }
        if matches!(elements.last(), None | Some(Element::Gap(_))) {
            return Err("a pattern needs at least one word and cannot end with a gap".into());
        }
        Ok(Pattern { source: source.to_string(), elements })
    }

    /// The first match not negated, else the first negated one, else `None`.
    pub fn find(&self, tokens: &[Token], classes: &Classes, negation: &Negation) -> Option<Match> {
        let mut negated = None;
        for start in 0..tokens.len() {
            if let Some(end) = self.match_at(tokens, start, 0, classes) {
                let m = Match { start, end, negated: is_negated(tokens, start, negation) };
                if !m.negated {
                    return Some(m);
                }
                negated.get_or_insert(m);
            }
        }
        negated
    }

    fn match_at(&self, tokens: &[Token], pos: usize, element: usize, classes: &Classes) -> Option<usize> {
        let Some(el) = self.elements.get(element) else { return Some(pos) };
        match el {
            Element::Word(alternatives) => {
                let token = tokens.get(pos)?;
                let mut ends = Vec::new();
                for word in alternatives {
                    match word {
                        Word::Class(name) => ends.extend(class_match_ends(tokens, pos, &classes[name])),
                        _ if word_matches(word, &token.text) => ends.push(pos + 1),
                        _ => {}
                    }
                }
                ends.into_iter().find_map(|end| self.match_at(tokens, end, element + 1, classes))
            }
            Element::Gap(max) => (0..=*max).filter(|skip| pos + skip <= tokens.len()).find_map(|skip| self.match_at(tokens, pos + skip, element + 1, classes)),
        }
    }
}

fn word_matches(word: &Word, token: &str) -> bool {
    match word {
        Word::Exact(w) => w == token || (w.len() >= 7 && token.len() >= 6 && similar_at_least(w, token, 0.86)),
        Word::Prefix(p) => {
            token.starts_with(p.as_str())
                || (p.len() >= 7 && token.len() >= p.len() && {
                    let head: String = token.chars().take(p.chars().count()).collect();
                    similarity(p, &head) >= 0.86
                })
        }
        Word::Suffix(s) => token.ends_with(s.as_str()),
        Word::Class(_) => false,
    }
}

/// End positions of vocabulary entries matching at `pos`: exact phrases, and for one-word entries
/// of 6+ letters also one to three tokens run together that sound alike ("lysin oh pril").
fn class_match_ends(tokens: &[Token], pos: usize, entries: &[Vec<String>]) -> Vec<usize> {
    let mut ends = Vec::new();
    for entry in entries {
        let n = entry.len();
        if pos + n <= tokens.len() && tokens[pos..pos + n].iter().zip(entry).all(|(t, e)| &t.text == e) {
            ends.push(pos + n);
        }
    }
    if ends.is_empty() {
        for take in 1..=3usize.min(tokens.len().saturating_sub(pos)) {
            let joined: String = tokens[pos..pos + take].iter().map(|t| t.text.as_str()).collect();
            if joined.len() < 6 {
                continue;
            }
            // A single recognised word is a real word ("january" is not "januvia"): only a near
            // spelling counts; run-together pieces may sound alike.
            let close = entries.iter().any(|e| {
                e.len() == 1
                    && e[0].len() >= 6
                    && joined.chars().next() == e[0].chars().next()
                    && if take == 1 { similar_at_least(&joined, &e[0], 0.86) } else { sounds_like(&joined, &e[0]) >= MATCH_THRESHOLD }
            });
            if close {
                ends.push(pos + take);
            }
        }
    }
    ends
}

fn is_negated(tokens: &[Token], start: usize, negation: &Negation) -> bool {
    let clause = tokens[start].clause;
    let from = start.saturating_sub(negation.window);
    for i in (from..start).rev() {
        let token = &tokens[i];
        if token.clause != clause || negation.terminators.contains(&token.text) {
            return false;
        }
        if negation.cues.contains(&token.text) && !is_pseudo(tokens, i, start, negation) {
            return true;
        }
    }
    false
}

/// Whether the cue at `cue` is part of a pseudo-negation phrase that ends before `start`
/// or overlaps the match.
fn is_pseudo(tokens: &[Token], cue: usize, start: usize, negation: &Negation) -> bool {
    negation.pseudo.iter().any(|phrase| {
        phrase.iter().enumerate().any(|(offset, word)| {
            word == &tokens[cue].text
                && cue >= offset
                && cue - offset + phrase.len() <= tokens.len()
                && tokens[cue - offset..cue - offset + phrase.len()].iter().zip(phrase).all(|(t, p)| &t.text == p)
                && cue - offset < start
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::triage::text::tokens;

    fn negation() -> Negation {
        Negation {
            cues: ["no", "not", "never", "without"].map(String::from).to_vec(),
            terminators: ["but", "however"].map(String::from).to_vec(),
            pseudo: vec![vec!["not".into(), "stop".into()], vec!["no".into(), "i".into()]],
            window: 5,
        }
    }

    fn classes() -> Classes {
        let mut c = Classes::new();
        c.insert("med".into(), vec![vec!["lisinopril".into()], vec!["birth".into(), "control".into()]]);
        c
    }

    fn find(pattern: &str, text: &str) -> Option<Match> {
        Pattern::parse(pattern, &classes()).unwrap().find(&tokens(text), &classes(), &negation())
    }

    #[test]
    fn words_prefixes_alternatives_and_gaps() {
        assert!(find("refill*", "I need it refilled").is_some());
        assert!(find("*ologist", "see a dermatologist").is_some());
        assert!(find("run|ran out", "i ran out today").is_some());
        assert!(find("out of ... pills", "out of my old blood pressure pills").is_none(), "gap of 3 only");
        assert!(find("out of ...4 pills", "out of my old blood pressure pills").is_some());
        assert!(find("prescription", "my perscription").is_some(), "near spelling");
    }

    #[test]
    fn vocabulary_classes_match_phrases_and_run_together_words() {
        assert!(find("{med}", "refill my birth control").is_some());
        assert!(find("{med}|pills filled", "get my birth control filled").is_some(), "class among alternatives");
        let m = find("{med}", "my lysin oh pril please").unwrap();
        assert_eq!((m.start, m.end), (1, 4));
    }

    #[test]
    fn negation_scope() {
        assert!(find("chest pain", "I have no chest pain").unwrap().negated);
        assert!(find("fever", "I don't have a fever").unwrap().negated);
        assert!(find("bleeding", "I'm not bleeding").unwrap().negated);
        assert!(!find("fever", "no cough but a fever").unwrap().negated, "terminator ends the scope");
        assert!(!find("fever", "not today. fever since monday").unwrap().negated, "clause break ends it");
        assert!(!find("bleeding", "it will not stop bleeding").unwrap().negated, "pseudo-negation");
        assert!(!find("chest pain", "no i have chest pain").unwrap().negated, "answer 'no' is not a negation");
        assert!(!find("fever", "not one two three four five six fever").unwrap().negated, "outside the window");
        assert!(!find("can not breathe", "i can't breathe").unwrap().negated, "the cue inside the match");
    }

    #[test]
    fn a_negated_match_does_not_hide_a_later_affirmed_one() {
        let m = find("pain", "no pain yesterday, but today the pain is bad").unwrap();
        assert!(!m.negated);
    }

    #[test]
    fn bad_patterns_are_rejected() {
        assert!(Pattern::parse("... pain", &classes()).is_err());
        assert!(Pattern::parse("pain ...", &classes()).is_err());
        assert!(Pattern::parse("{drugs}", &classes()).is_err());
        assert!(Pattern::parse("pa$n", &classes()).is_err());
        assert!(Pattern::parse("", &classes()).is_err());
    }
}
