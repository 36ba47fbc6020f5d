//! A date of birth typed on the keypad as MMDDYYYY.

use chrono::{Datelike, NaiveDate};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeypadDateError {
    #[error("expected 8 digits (MMDDYYYY), got {0}")]
    Length(usize),
    #[error("not a calendar date")]
    Impossible,
    #[error("a birth date cannot be in the future")]
    Future,
    #[error("year before 1900")]
    TooOld,
}

pub fn parse_keypad_date(digits: &str, today: NaiveDate) -> Result<NaiveDate, KeypadDateError> {
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(KeypadDateError::Length(digits.len()));
    }
    let number = |range: std::ops::Range<usize>| digits[range].parse::<u32>().unwrap_or(0);
    let (month, day, year) = (number(0..2), number(2..4), number(4..8) as i32);
    let date = NaiveDate::from_ymd_opt(year, month, day).ok_or(KeypadDateError::Impossible)?;
    if date > today {
        return Err(KeypadDateError::Future);
    }
    if date.year() < 1900 {
        return Err(KeypadDateError::TooOld);
    }
    Ok(date)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keypad_dates() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        assert_eq!(parse_keypad_date("03051982", today), Ok(NaiveDate::from_ymd_opt(1982, 3, 5).unwrap()));
        assert_eq!(parse_keypad_date("02291984", today), Ok(NaiveDate::from_ymd_opt(1984, 2, 29).unwrap()));
        assert_eq!(parse_keypad_date("02301982", today), Err(KeypadDateError::Impossible));
        assert_eq!(parse_keypad_date("13011982", today), Err(KeypadDateError::Impossible));
        assert_eq!(parse_keypad_date("01012030", today), Err(KeypadDateError::Future));
        assert_eq!(parse_keypad_date("01011850", today), Err(KeypadDateError::TooOld));
        assert_eq!(parse_keypad_date("0305198", today), Err(KeypadDateError::Length(7)));
    }
}
