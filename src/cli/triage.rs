//! `chartline triage`: classifying a transcript, or measuring on labelled files.

use std::path::PathBuf;
use std::process::ExitCode;

use super::error::Context;
use super::*;

/// `chartline triage`: one transcript classified, or labelled files measured (`--eval`).
pub(super) fn triage(text: Vec<String>, json: bool, eval: Vec<PathBuf>, config: Option<PathBuf>) -> Result<ExitCode, CliError> {
    let config = load_config(config.as_ref())?;
    let (triage, missing) = crate::triage::Triage::from_config(&config.triage)?;
    if let Some(missing) = missing {
        eprintln!("warning: rules only: {missing}");
    }
    if !eval.is_empty() {
        for file in eval {
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let cases = crate::triage::model::data::parse(&text, &file.display().to_string())?;
            println!("{}:\n{}", file.display(), crate::triage::evaluate::Evaluation::of(&cases, &triage));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let result = triage.classify(&text.join(" "));
    let report = crate::triage::TriageReport::from(&result);
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("{} ({}){}", report.kind, report.code, if report.urgent { "  URGENT" } else { "" });
        for flag in &result.red_flags {
            println!("red flag: {} [{:?}] ({})", flag.label, flag.severity, flag.matched.join(", "));
        }
        for rule in &result.rules {
            println!("rule: {} -> {} ({})", rule.id, rule.target, rule.matched.join(", "));
        }
        for rule in &result.negated {
            println!("negated: {} ({})", rule.id, rule.matched.join(", "));
        }
    }
    Ok(ExitCode::SUCCESS)
}
