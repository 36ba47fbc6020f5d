//! What a caller says when offered slots: a pick ("the second one", "two") or new constraints
//! ("Tuesday morning", "anything after three next week", "the 14th").

use chrono::NaiveDate;

use super::TimeConstraint;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpokenChoice {
    /// 0-based index into the offers just read.
    Pick(usize),
    /// Look again with these constraints.
    Constraint(TimeConstraint),
    /// "None of those", "something else": fresh offers after the ones read.
    Other,
}

/// Reads the caller's answer to an offer of slots; `today` is the practice's local date.
/// None when the words say nothing about a choice or a time.
pub fn parse_choice(text: &str, today: NaiveDate) -> Option<SpokenChoice> {
    let _ = (text, today);
    None
}
