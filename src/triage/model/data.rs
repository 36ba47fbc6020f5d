//! Labelled utterances (`config/triage-train.tsv`, the test fixtures): one a line,
//! `type <TAB> severity <TAB> text`, where severity is `emergency`, `urgent` or `-`, and type is a
//! request type or `-` for an answer that names no request (a date, "yes", a name: the severity
//! head learns from it, the type head does not); `#` starts a comment line.

use super::ModelError;
use crate::triage::{RequestType, Severity};

#[derive(Debug, Clone, PartialEq)]
pub struct Labelled {
    /// 1-based line in the file.
    pub line: usize,
    /// `None`: the text names no request (a dialog answer).
    pub kind: Option<RequestType>,
    pub severity: Option<Severity>,
    pub text: String,
}

impl Labelled {
    /// Index of the severity head's class (see [`super::SEVERITIES`]).
    pub fn severity_class(&self) -> usize {
        match self.severity {
            None => 0,
            Some(Severity::Urgent) => 1,
            Some(Severity::Emergency) => 2,
        }
    }

    pub fn type_class(&self) -> Option<usize> {
        RequestType::ALL.iter().position(|t| Some(*t) == self.kind)
    }
}

/// Parses a labelled file; `origin` names it in errors.
pub fn parse(text: &str, origin: &str) -> Result<Vec<Labelled>, ModelError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let fail = |problem: String| ModelError::Data { origin: origin.to_string(), line: i + 1, problem };
        let cols: Vec<&str> = line.split('\t').collect();
        let [kind, severity, text] = cols.as_slice() else {
            return Err(fail(format!("{} columns, want type<TAB>severity<TAB>text", cols.len())));
        };
        let kind = match *kind {
            "-" => None,
            name => Some(RequestType::from_name(name).ok_or_else(|| fail(format!("unknown request type {name:?}")))?),
        };
        let severity = match *severity {
            "emergency" => Some(Severity::Emergency),
            "urgent" => Some(Severity::Urgent),
            "-" => None,
            other => return Err(fail(format!("severity {other:?}: want emergency, urgent or -"))),
        };
        out.push(Labelled { line: i + 1, kind, severity, text: text.to_string() });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rows_and_names_the_bad_line() {
        let rows = parse("# comment\nrefill\t-\ti need my pills\n\nurgent\temergency\ti can't breathe\n-\t-\tyes\n", "t.tsv").unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!((rows[1].line, rows[1].severity_class(), rows[1].kind), (4, 2, Some(RequestType::Urgent)));
        assert_eq!((rows[2].kind, rows[2].type_class()), (None, None));
        let err = parse("refill\t-\tok\nrefil\t-\ttypo\n", "t.tsv").unwrap_err().to_string();
        assert!(err.contains("t.tsv line 2") && err.contains("refil"), "{err}");
        assert!(parse("refill\tsevere\tx\n", "t.tsv").unwrap_err().to_string().contains("severity"));
        assert!(parse("refill only two\tcols\n", "t.tsv").unwrap_err().to_string().contains("2 columns"));
    }
}
