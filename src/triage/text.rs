//! Text normalisation shared by every triage matcher: lower case, contractions expanded
//! ("don't" → "do not", "won't" → "will not"), possessive 's dropped, punctuation turned into
//! clause breaks, numbers kept whole ("103.5"). Speech-recogniser output and typed text both go
//! through here, so rules are written once against the normal form.

/// One token of normalised text. `clause` increases at every sentence or clause break
/// (`.`, `,`, `;`, `?`, `!`), so negation never reaches across a full stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    pub clause: u32,
}

/// Contractions as the recogniser writes them, with and without the apostrophe.
const CONTRACTIONS: &[(&str, &[&str])] = &[
    ("won't", &["will", "not"]),
    ("wont", &["will", "not"]),
    ("can't", &["can", "not"]),
    ("cant", &["can", "not"]),
    ("cannot", &["can", "not"]),
    ("shan't", &["shall", "not"]),
    ("ain't", &["is", "not"]),
    ("i'm", &["i", "am"]),
    ("im", &["i", "am"]),
    ("let's", &["let", "us"]),
];

fn expand(word: &str, out: &mut Vec<String>) {
    if let Some((_, parts)) = CONTRACTIONS.iter().find(|(w, _)| *w == word) {
        out.extend(parts.iter().map(|p| p.to_string()));
        return;
    }
    for (suffix, replacement) in [("n't", "not"), ("'ve", "have"), ("'re", "are"), ("'ll", "will"), ("'d", "would")] {
        if let Some(stem) = word.strip_suffix(suffix).filter(|s| !s.is_empty()) {
            out.push(stem.to_string());
            out.push(replacement.to_string());
            return;
        }
    }
    // "dont", "didnt", "isnt", "doesnt" without the apostrophe.
    for stem in ["do", "did", "does", "is", "was", "were", "are", "has", "have", "had", "could", "would", "should"] {
        if word.len() == stem.len() + 2 && word.starts_with(stem) && word.ends_with("nt") {
            out.push(stem.to_string());
            out.push("not".to_string());
            return;
        }
    }
    if let Some(stem) = word.strip_suffix("'s").filter(|s| !s.is_empty()) {
        // "it's" → "it is"; "mom's" → "mom" (possessive carries no meaning for triage).
        out.push(stem.to_string());
        if matches!(stem, "it" | "that" | "he" | "she" | "there" | "what" | "who") {
            out.push("is".to_string());
        }
        return;
    }
    let cleaned: String = word.chars().filter(|c| *c != '\'').collect();
    if !cleaned.is_empty() {
        out.push(cleaned);
    }
}

/// Splits text into normalised tokens.
pub fn tokens(text: &str) -> Vec<Token> {
    let lower = text.to_lowercase().replace(['’', '‘'], "'");
    let mut out = Vec::new();
    let mut clause = 0u32;
    let mut word = String::new();
    let chars: Vec<char> = lower.chars().collect();
    let flush = |word: &mut String, clause: u32, out: &mut Vec<Token>| {
        if word.is_empty() {
            return;
        }
        let mut parts = Vec::new();
        expand(word.trim_matches('\''), &mut parts);
        out.extend(parts.into_iter().map(|text| Token { text, clause }));
        word.clear();
    };
    for (i, &c) in chars.iter().enumerate() {
        let digit_around = |j: Option<usize>| j.and_then(|j| chars.get(j)).is_some_and(|c| c.is_ascii_digit());
        let decimal_point = c == '.' && digit_around(i.checked_sub(1)) && digit_around(Some(i + 1));
        if c.is_alphanumeric() || c == '\'' || decimal_point {
            word.push(c);
        } else {
            flush(&mut word, clause, &mut out);
            if matches!(c, '.' | ',' | ';' | '?' | '!' | ':') {
                clause += 1;
            }
        }
    }
    flush(&mut word, clause, &mut out);
    out
}

/// Normalised text as one space-separated string (for display and vocabulary look-ups).
pub fn normalise(text: &str) -> String {
    tokens(text).into_iter().map(|t| t.text).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contractions_and_possessives() {
        assert_eq!(normalise("I don't have a fever, it's fine"), "i do not have a fever it is fine");
        assert_eq!(normalise("It WON'T stop; I can't breathe"), "it will not stop i can not breathe");
        assert_eq!(normalise("my mom's face"), "my mom face");
        assert_eq!(normalise("I’ve been dizzy, dont know why"), "i have been dizzy do not know why");
    }

    #[test]
    fn numbers_stay_whole_and_clauses_split() {
        let t = tokens("Fever of 103.5. No cough");
        assert_eq!(t[2].text, "103.5");
        assert_eq!(t[2].clause, 0);
        assert_eq!(t[3].text, "no");
        assert_eq!(t[3].clause, 1);
    }
}
