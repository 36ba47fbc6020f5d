//! The rule file (`config/triage.toml`): its serde schema, validation with the offending key and
//! line, and compilation into patterns. The file is embedded as the default; `[triage] rules` in
//! chartline.toml can point at a practice's own copy.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::RequestType;
use super::pattern::{Classes, Negation, Pattern};
use super::text::tokens;

/// The rules compiled into the binary.
pub const EMBEDDED_RULES: &str = include_str!("../../config/triage.toml");

/// A rules file is a TOML file like the main configuration, and fails the same ways.
pub type RulesError = crate::toml_file::TomlFileError;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    /// Request type when no rule reaches `min_score`.
    fallback: String,
    min_score: f64,
    negation: NegationDef,
    /// Speech-recogniser mishearings rewritten before matching ("re fill" → "refill").
    #[serde(default)]
    aliases: BTreeMap<String, String>,
    /// Vocabularies usable in patterns as `{name}`; `a|b` lists spellings of one entry.
    vocabulary: BTreeMap<String, Vec<String>>,
    #[serde(default, rename = "type_rule")]
    type_rules: Vec<TypeRuleDef>,
    #[serde(default, rename = "red_flag")]
    red_flags: Vec<RedFlagDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NegationDef {
    cues: Vec<String>,
    terminators: Vec<String>,
    #[serde(default)]
    pseudo: Vec<String>,
    window: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TypeRuleDef {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    weight: f64,
    #[serde(default)]
    any: Vec<String>,
    #[serde(default)]
    all: Vec<Vec<String>>,
    /// Patterns that stop the rule (history, not the present: "had a stroke two years ago").
    #[serde(default)]
    unless: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RedFlagDef {
    id: String,
    severity: Severity,
    label: String,
    #[serde(default)]
    any: Vec<String>,
    #[serde(default)]
    all: Vec<Vec<String>>,
    /// Patterns that stop the rule (history, not the present: "had a stroke two years ago").
    #[serde(default)]
    unless: Vec<String>,
}

/// How soon a red flag needs a human.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Same-day clinical review (high fever, worsening symptoms, a medication reaction).
    Urgent,
    /// Call 911 / immediate transfer (chest pain, can't breathe, stroke signs, …).
    Emergency,
}

/// What a rule votes for.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Type { kind: RequestType, weight: f64 },
    Flag { severity: Severity, label: String },
}

/// A compiled rule: it fires when one `any` pattern (or none are given) and one pattern of every
/// `all` group match without negation, and no `unless` pattern matches.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub target: Target,
    pub any: Vec<Pattern>,
    pub all: Vec<Vec<Pattern>>,
    pub unless: Vec<Pattern>,
}

/// Everything the classifier needs.
#[derive(Debug, Clone)]
pub struct RuleSet {
    pub fallback: RequestType,
    pub min_score: f64,
    pub negation: Negation,
    /// Alias phrases as tokens, longest first, with their replacement tokens.
    pub aliases: Vec<(Vec<String>, Vec<String>)>,
    pub classes: Classes,
    /// Vocabulary entries with their spellings kept together (`metformin|glucophage`).
    pub entries: BTreeMap<String, Vec<Vec<String>>>,
    pub rules: Vec<Rule>,
}

impl RuleSet {
    pub fn embedded() -> Result<Self, RulesError> {
        Self::parse(EMBEDDED_RULES, "embedded config/triage.toml")
    }

    pub fn load(path: &Path) -> Result<Self, RulesError> {
        let text = crate::toml_file::read(path)?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and compiles; `origin` names the source in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, RulesError> {
        let file: RulesFile = crate::toml_file::parse(text, origin)?;
        compile(file).map_err(|(key, anchor, problem)| RulesError::Invalid { origin: origin.into(), line: line_of(text, &anchor), key, problem })
    }
}

fn words(phrase: &str) -> Vec<String> {
    tokens(phrase).into_iter().map(|t| t.text).collect()
}

/// Compiles the file; an error is (key, text to find its line by, problem).
fn compile(file: RulesFile) -> Result<RuleSet, (String, String, String)> {
    let fallback = RequestType::from_name(&file.fallback).ok_or_else(|| ("fallback".to_string(), "fallback =".to_string(), format!("is not a request type: {:?}", file.fallback)))?;
    if file.negation.window == 0 {
        return Err(("negation.window".into(), "window =".into(), "must be at least 1".into()));
    }
    let mut classes = Classes::new();
    let mut grouped = BTreeMap::new();
    for (name, entries) in &file.vocabulary {
        let spellings = entries.iter().map(|e| e.split('|').map(|s| words(s).join(" ")).filter(|s| !s.is_empty()).collect());
        grouped.insert(name.clone(), spellings.collect());
        let phrases: Vec<Vec<String>> = entries.iter().flat_map(|e| e.split('|')).map(words).filter(|w| !w.is_empty()).collect();
        if phrases.is_empty() {
            return Err((format!("vocabulary.{name}"), format!("{name} ="), "is empty".into()));
        }
        classes.insert(name.clone(), phrases);
    }
    let mut aliases: Vec<(Vec<String>, Vec<String>)> = file.aliases.iter().map(|(from, to)| (words(from), words(to))).filter(|(f, _)| !f.is_empty()).collect();
    aliases.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
    let negation = Negation {
        cues: file.negation.cues.iter().map(|c| c.to_lowercase()).collect(),
        terminators: file.negation.terminators.iter().map(|c| c.to_lowercase()).collect(),
        pseudo: file.negation.pseudo.iter().map(|p| words(p)).collect(),
        window: file.negation.window,
    };
    let mut seen = HashMap::new();
    let mut rules = Vec::new();
    let type_rules = file.type_rules.into_iter().map(|r| {
        let kind = RequestType::from_name(&r.kind);
        (r.id, kind.ok_or(r.kind).map(|kind| Target::Type { kind, weight: r.weight }), r.any, r.all, r.unless, "type_rule")
    });
    let flags = file.red_flags.into_iter().map(|r| (r.id, Ok(Target::Flag { severity: r.severity, label: r.label }), r.any, r.all, r.unless, "red_flag"));
    for (id, target, any, all, unless, table) in type_rules.chain(flags) {
        let anchor = format!("\"{id}\"");
        let bad = |key: &str, problem: String| (format!("{table}.{key} (id {id})"), anchor.clone(), problem);
        if seen.insert(id.clone(), ()).is_some() {
            return Err(bad("id", "is used twice".into()));
        }
        let target = target.map_err(|kind| bad("type", format!("is not a request type: {kind:?}")))?;
        if let Target::Type { weight, .. } = target
            && !(weight.is_finite() && weight > 0.0)
        {
            return Err(bad("weight", "must be a positive number".into()));
        }
        if any.is_empty() && all.is_empty() {
            return Err(bad("any", "and `all` are both empty: the rule could never fire".into()));
        }
        let compile_list = |list: &[String], key: &str| -> Result<Vec<Pattern>, (String, String, String)> {
            list.iter().map(|p| Pattern::parse(p, &classes).map_err(|e| bad(key, format!("pattern {p:?}: {e}")))).collect()
        };
        let any = compile_list(&any, "any")?;
        let all = all.iter().map(|group| compile_list(group, "all")).collect::<Result<Vec<_>, _>>()?;
        if all.iter().any(Vec::is_empty) {
            return Err(bad("all", "has an empty group".into()));
        }
        let unless = compile_list(&unless, "unless")?;
        rules.push(Rule { id, target, any, all, unless });
    }
    Ok(RuleSet { fallback, min_score: file.min_score, negation, aliases, classes, entries: grouped, rules })
}

/// First line containing `needle` (1-based).
fn line_of(text: &str, needle: &str) -> Option<usize> {
    text.lines().position(|l| l.contains(needle)).map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
fallback = "provider"
min_score = 1.0
[negation]
cues = ["no"]
terminators = ["but"]
window = 4
[vocabulary]
med = ["lisinopril", "metformin|glucophage"]
[[type_rule]]
id = "refill.word"
type = "refill"
weight = 3.0
any = ["refill*", "{med}"]
"#;

    #[test]
    fn embedded_rules_compile() {
        let rules = RuleSet::embedded().expect("embedded triage.toml compiles");
        assert!(rules.rules.len() > 40);
        for kind in RequestType::ALL {
            assert!(rules.rules.iter().any(|r| matches!(r.target, Target::Type { kind: k, .. } if k == kind)), "no rule for {kind:?}");
        }
    }

    #[test]
    fn minimal_file_compiles_with_synonyms() {
        let rules = RuleSet::parse(MINIMAL, "t").unwrap();
        assert_eq!(rules.classes["med"].len(), 3);
    }

    #[test]
    fn errors_name_the_key_and_line() {
        let bad_type = MINIMAL.replace("type = \"refill\"", "type = \"refil\"");
        let err = RuleSet::parse(&bad_type, "t.toml").unwrap_err().to_string();
        assert!(err.contains("type_rule.type (id refill.word)") && err.contains("line 11"), "{err}");

        let bad_pattern = MINIMAL.replace("{med}", "{drug}");
        let err = RuleSet::parse(&bad_pattern, "t.toml").unwrap_err().to_string();
        assert!(err.contains("type_rule.any") && err.contains("unknown vocabulary"), "{err}");

        let unknown_key = MINIMAL.replace("weight = 3.0", "weight = 3.0\nwieght = 1.0");
        let err = RuleSet::parse(&unknown_key, "t.toml").unwrap_err().to_string();
        assert!(err.contains("wieght"), "{err}");

        let bad_fallback = MINIMAL.replace("\"provider\"", "\"nobody\"");
        let err = RuleSet::parse(&bad_fallback, "t.toml").unwrap_err().to_string();
        assert!(err.contains("`fallback`") && err.contains("line 2"), "{err}");
    }
}
