//! Triage measured on labelled utterances ([`model::data`](super::model::data)): type accuracy
//! with its confusion matrix, emergency recall, false emergencies and urgent-level flags found.
//! Used by the tests and by `chartline triage --eval FILE`.

use std::fmt;

use super::model::data::Labelled;
use super::{RequestType, Severity, Triage};

/// One utterance triage got wrong, and how.
#[derive(Debug, Clone)]
pub struct Miss {
    pub line: usize,
    pub text: String,
    pub problems: Vec<String>,
    pub red_flags: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Evaluation {
    pub cases: usize,
    /// Cases that name a request type, and how many got it.
    pub typed: usize,
    pub correct: usize,
    pub emergencies: usize,
    pub caught: usize,
    pub non_emergencies: usize,
    pub false_emergencies: usize,
    pub urgent_flags: usize,
    pub urgent_flagged: usize,
    /// `[expected][predicted]`, in [`RequestType::ALL`] order.
    pub matrix: [[usize; 12]; 12],
    pub misses: Vec<Miss>,
}

fn ratio(n: usize, d: usize) -> f64 {
    if d == 0 { 1.0 } else { n as f64 / d as f64 }
}

impl Evaluation {
    pub fn accuracy(&self) -> f64 {
        ratio(self.correct, self.typed)
    }

    pub fn recall(&self) -> f64 {
        ratio(self.caught, self.emergencies)
    }

    pub fn false_rate(&self) -> f64 {
        if self.non_emergencies == 0 { 0.0 } else { self.false_emergencies as f64 / self.non_emergencies as f64 }
    }

    /// Adds one utterance: what it should be, and the text triage read (the transcript, for audio).
    pub fn add(&mut self, case: &Labelled, heard: &str, triage: &Triage) {
        let c = triage.classify(heard);
        let index = |t: RequestType| RequestType::ALL.iter().position(|x| *x == t).unwrap_or(0);
        self.cases += 1;
        let mut problems = Vec::new();
        if let Some(kind) = case.kind {
            self.typed += 1;
            self.matrix[index(kind)][index(c.request)] += 1;
            if c.request == kind {
                self.correct += 1;
            } else {
                problems.push(format!("type {} (want {})", c.request.name(), kind.name()));
            }
        }
        if case.severity == Some(Severity::Emergency) {
            self.emergencies += 1;
            if c.is_emergency() && c.urgent {
                self.caught += 1;
            } else {
                problems.push("MISSED EMERGENCY".into());
            }
        } else {
            self.non_emergencies += 1;
            if c.is_emergency() {
                self.false_emergencies += 1;
                problems.push("false emergency".into());
            }
        }
        if case.severity == Some(Severity::Urgent) {
            self.urgent_flags += 1;
            if c.severity.is_some() {
                self.urgent_flagged += 1;
            } else {
                problems.push("urgent flag missed".into());
            }
        }
        if !problems.is_empty() {
            let text = if heard == case.text { case.text.clone() } else { format!("{} [heard: {heard}]", case.text) };
            self.misses.push(Miss { line: case.line, text, problems, red_flags: c.red_flag_ids() });
        }
    }

    pub fn of(cases: &[Labelled], triage: &Triage) -> Self {
        let mut e = Self::default();
        for case in cases {
            e.add(case, &case.text, triage);
        }
        e
    }

    /// The one-line summary.
    pub fn summary(&self) -> String {
        format!(
            "type accuracy {}/{} = {:.1}%; emergency recall {}/{} = {:.1}%; false emergencies {}/{} = {:.1}%; urgent-level flags found {}/{}",
            self.correct,
            self.typed,
            self.accuracy() * 100.0,
            self.caught,
            self.emergencies,
            self.recall() * 100.0,
            self.false_emergencies,
            self.non_emergencies,
            self.false_rate() * 100.0,
            self.urgent_flagged,
            self.urgent_flags
        )
    }
}

impl fmt::Display for Evaluation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "confusion matrix (rows = expected, columns = predicted):")?;
        write!(f, "{:>15}", "")?;
        for t in RequestType::ALL {
            write!(f, " {:>3}", t.code())?;
        }
        writeln!(f)?;
        for (i, row) in self.matrix.iter().enumerate() {
            write!(f, "{:>13} {}", RequestType::ALL[i].name(), RequestType::ALL[i].code())?;
            for n in row {
                write!(f, " {:>3}", if *n == 0 { ".".to_string() } else { n.to_string() })?;
            }
            writeln!(f)?;
        }
        writeln!(f, "{}", self.summary())?;
        for miss in &self.misses {
            writeln!(f, "  line {}: {} | {:?} | flags {:?}", miss.line, miss.problems.join(", "), miss.text, miss.red_flags)?;
        }
        Ok(())
    }
}
