use super::*;
use proptest::prelude::*;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn parse(text: &str) -> Result<NaiveDate, DateError> {
    parse_date(text, today())
}

#[test]
fn month_name_forms() {
    let want = Ok(ymd(1982, 3, 5));
    assert_eq!(parse("March fifth nineteen eighty two"), want);
    assert_eq!(parse("march 5th, 1982."), want);
    assert_eq!(parse("the fifth of March 82"), want);
    assert_eq!(parse("the 5th of March, nineteen eighty-two"), want);
    assert_eq!(parse("My date of birth is March 5, 1982."), want);
    assert_eq!(parse("March 5, 1982, 1982,"), want, "a year the recognizer wrote twice");
    assert_eq!(parse("Mar 5 82"), want);
}

#[test]
fn digit_by_digit_forms() {
    let want = Ok(ymd(1982, 3, 5));
    assert_eq!(parse("oh three oh five eighty two"), want);
    assert_eq!(parse("zero three zero five one nine eight two"), want);
    assert_eq!(parse("0 3 0 5 1 9 8 2"), want);
    assert_eq!(parse("03051982"), want);
    assert_eq!(parse("030582"), want);
}

#[test]
fn cardinal_forms() {
    assert_eq!(parse("three five eighty-two"), Ok(ymd(1982, 3, 5)));
    assert_eq!(parse("Three, five, eighty two."), Ok(ymd(1982, 3, 5)));
    assert_eq!(parse("seven four two thousand one"), Ok(ymd(2001, 7, 4)));
    assert_eq!(parse("seven four two thousand and one"), Ok(ymd(2001, 7, 4)));
    assert_eq!(parse("twelve twenty five nineteen sixty"), Ok(ymd(1960, 12, 25)));
    assert_eq!(parse("January twenty first twenty fifteen"), Ok(ymd(2015, 1, 21)));
    assert_eq!(parse("May thirtieth nineteen hundred"), Ok(ymd(1900, 5, 30)));
    assert_eq!(parse("June second nineteen hundred and four"), Ok(ymd(1904, 6, 2)));
}

#[test]
fn written_forms() {
    assert_eq!(parse("3/5/1982"), Ok(ymd(1982, 3, 5)));
    assert_eq!(parse("03/05/82"), Ok(ymd(1982, 3, 5)));
    assert_eq!(parse("3-5-82"), Ok(ymd(1982, 3, 5)));
    assert_eq!(parse("1982-03-05"), Ok(ymd(1982, 3, 5)));
}

#[test]
fn oh_years() {
    assert_eq!(parse("April first nineteen oh four"), Ok(ymd(1904, 4, 1)));
    assert_eq!(parse("four one oh four"), Ok(ymd(2004, 4, 1)));
    assert_eq!(parse("the ninth of October two thousand"), Ok(ymd(2000, 10, 9)));
}

#[test]
fn two_digit_years_resolve_to_the_past() {
    assert_eq!(parse("three five twenty six"), Ok(ymd(2026, 3, 5)));
    // December 2026 is still ahead of 2026-11-25: the caller means 1926.
    assert_eq!(parse("December first twenty six"), Ok(ymd(1926, 12, 1)));
    assert_eq!(parse("one two oh five"), Ok(ymd(2005, 1, 2)));
}

#[test]
fn impossible_and_future_dates_are_rejected() {
    assert_eq!(parse("February thirtieth nineteen eighty"), Err(DateError::Impossible { month: 2, day: 30, year: 1980 }));
    assert!(matches!(parse("February 29 1981"), Err(DateError::Impossible { .. })));
    assert_eq!(parse("February 29 1980"), Ok(ymd(1980, 2, 29)));
    assert_eq!(parse("March fifth twenty thirty"), Err(DateError::Future));
    assert_eq!(parse("March fifth eighteen ninety"), Err(DateError::TooOld));
    assert_eq!(parse("thirteen five eighty two"), Err(DateError::NotUnderstood));
}

#[test]
fn ambiguity_is_an_error_not_a_guess() {
    // 11/2/1980 or 1/12/1980.
    let err = parse("one one two eighty").unwrap_err();
    assert_eq!(err, DateError::Ambiguous(vec![ymd(1980, 1, 12), ymd(1980, 11, 2)]));
    assert!(err.to_string().contains("1980-01-12"), "{err}");
    // Digit by digit: 1/1/2007 or 11/20/07.
    assert_eq!(parse("one one two oh oh seven"), Err(DateError::Ambiguous(vec![ymd(2007, 1, 1), ymd(2007, 11, 20)])));
    // A year said as a year settles it.
    assert_eq!(parse("one two nineteen forty seven"), Ok(ymd(1947, 1, 2)));
}

/// What Whisper writes for spoken dates on a phone line.
#[test]
fn recognizer_digit_strings() {
    let all = |text: &str| parse_dates(text, today());
    assert_eq!(parse("0305 82,"), Ok(ymd(1982, 3, 5)), "oh three oh five eighty two");
    assert_eq!(parse("305 82"), Ok(ymd(1982, 3, 5)));
    assert_eq!(parse("74201"), Ok(ymd(2001, 7, 4)), "seven four two thousand one");
    assert_eq!(parse("06 15 19 55"), Ok(ymd(1955, 6, 15)));
    assert_eq!(parse("061555"), Ok(ymd(1955, 6, 15)));
    assert_eq!(parse("6 15 1955"), Ok(ymd(1955, 6, 15)));
    assert_eq!(parse("03/05/1982"), Ok(ymd(1982, 3, 5)));
    // "one one nineteen seventy" written "11970,": both readings, the chart decides.
    assert_eq!(all("11970,"), Ok(vec![ymd(1970, 1, 19), ymd(1970, 11, 9)]));
}

#[test]
fn a_year_or_a_day_lost_by_the_recognizer_gives_no_date() {
    assert_eq!(parse("I was born in 2000, I'm the August 3rd."), Err(DateError::NotUnderstood), "two thousand nineteen");
    assert_eq!(parse("I was born in 2000 and I'm Dean on August 3rd."), Err(DateError::NotUnderstood));
    assert_eq!(parse("I was born in 2000, on August 3rd."), Ok(ymd(2000, 8, 3)));
    assert_eq!(parse("August 3rd, 2000."), Ok(ymd(2000, 8, 3)));
    assert!(parse("This is on December 2012.").is_err(), "the fifth lost: not December 20, 2012");
    assert_eq!(parse("0305 82,"), Ok(ymd(1982, 3, 5)), "without a month name digit strings still split");
}

#[test]
fn digits_written_as_words_that_sound_alike() {
    assert_eq!(parse("11 for 1961"), Ok(ymd(1961, 11, 4)), "eleven four nineteen sixty one");
    assert_eq!(parse("oh to oh seven ninety two"), Ok(ymd(1992, 2, 7)));
    assert_eq!(parse("calling for my mother, March 5th 1950"), Ok(ymd(1950, 3, 5)), "only between two numbers");
}

#[test]
fn recognizer_loops_read_as_the_block() {
    assert_eq!(parse("0 6 1 5 1 9 5 5 0 6 1 5 1 9 5 5 0 6 1 5 1 9"), Ok(ymd(1955, 6, 15)));
    assert_eq!(parse("12 25 1975 12 25 1975 12 25 1975 12 25 1975"), Ok(ymd(1975, 12, 25)));
    assert_eq!(parse("May 31, 1989, 1889."), Ok(ymd(1989, 5, 31)));
    assert_eq!(parse("May 31, 1989, 1998."), Err(DateError::Ambiguous(vec![ymd(1989, 5, 31), ymd(1998, 5, 31)])), "two possible years: both");
}

#[test]
fn year_first_orders() {
    assert_eq!(parse("born in nineteen fifty eight, on May twentieth"), Ok(ymd(1958, 5, 20)));
    assert_eq!(parse("1958, the 20th of May"), Ok(ymd(1958, 5, 20)));
    assert_eq!(parse("nineteen fifty eight oh five twenty"), Ok(ymd(1958, 5, 20)));
}

#[test]
fn no_date_is_not_understood() {
    for text in ["", "I need a refill", "March", "March fifth", "three five", "twelve", "Thank you."] {
        assert_eq!(parse(text), Err(DateError::NotUnderstood), "{text:?}");
    }
    // Two dates in one answer are not one date.
    assert!(parse("March 5 1982 or March 6 1982").is_err());
}

// ---- property: a date printed in many spoken styles parses back ----

fn cardinal(n: u32) -> String {
    const UNITS_W: [&str; 10] = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];
    match n {
        0..=9 => UNITS_W[n as usize].into(),
        10..=19 => TEENS[(n - 10) as usize].into(),
        _ if n.is_multiple_of(10) => TENS[(n / 10 - 2) as usize].into(),
        _ => format!("{} {}", TENS[(n / 10 - 2) as usize], UNITS_W[(n % 10) as usize]),
    }
}

fn ordinal(n: u32) -> String {
    match n {
        1..=19 => ORDINALS[(n - 1) as usize].into(),
        20 => "twentieth".into(),
        30 => "thirtieth".into(),
        _ => format!("{} {}", TENS[(n / 10 - 2) as usize], ORDINALS[(n % 10 - 1) as usize]),
    }
}

/// Digit words with "oh" or "zero" for 0: "oh three".
fn digit_words(n: u32, width: usize, zero: &str) -> String {
    format!("{n:0width$}").chars().map(|c| if c == '0' { zero.to_string() } else { cardinal(c.to_digit(10).unwrap()) }).collect::<Vec<_>>().join(" ")
}

fn year_words(y: i32, style: u8) -> String {
    let (high, low) = ((y / 100) as u32, (y % 100) as u32);
    if y >= 2000 && (low < 10 || style.is_multiple_of(2)) {
        let rest = if low == 0 {
            String::new()
        } else if style.is_multiple_of(3) {
            format!(" and {}", cardinal(low))
        } else {
            format!(" {}", cardinal(low))
        };
        return format!("two thousand{rest}");
    }
    match low {
        0 => format!("{} hundred", cardinal(high)),
        1..=9 => format!("{} oh {}", cardinal(high), cardinal(low)),
        _ => format!("{} {}", cardinal(high), cardinal(low)),
    }
}

fn spoken(date: NaiveDate, style: u8, today: NaiveDate) -> String {
    let (y, m, d) = (date.year(), date.month(), date.day());
    let month = {
        let name = MONTHS[(m - 1) as usize];
        let mut c = name.chars();
        c.next().unwrap().to_uppercase().collect::<String>() + c.as_str()
    };
    // Two-digit years only where they resolve back to this date (within the last century).
    let short_ok = date > today.with_year(today.year() - 100).unwrap_or(today);
    let yy = if short_ok { format!("{:02}", y % 100) } else { y.to_string() };
    let yy_words = if short_ok { if y % 100 < 10 { format!("oh {}", cardinal((y % 100) as u32)) } else { cardinal((y % 100) as u32) } } else { year_words(y, style) };
    match style % 10 {
        0 => format!("{month} {} {}", ordinal(d), year_words(y, style)),
        1 => format!("the {} of {month} {yy}", ordinal(d)),
        2 => format!("{} {} {yy_words}", digit_words(m, 2, "oh"), digit_words(d, 2, "oh")),
        3 => format!("{} {} {}", digit_words(m, 2, "zero"), digit_words(d, 2, "zero"), digit_words(y as u32, 4, "zero")),
        4 => format!("{} {} {}", cardinal(m), cardinal(d), year_words(y, style)),
        5 => format!("{m}/{d}/{y}"),
        6 => format!(
            "{month} {d}{}, {y}.",
            match d {
                1 | 21 | 31 => "st",
                2 | 22 => "nd",
                3 | 23 => "rd",
                _ => "th",
            }
        ),
        7 => format!("{m:02}/{d:02}/{yy}"),
        8 => format!("{y}-{m:02}-{d:02}"),
        _ => format!("{} of {month}, {}", ordinal(d), year_words(y, style)),
    }
}

proptest! {
    #[test]
    fn spoken_styles_parse_back(days_back in 0i64..(125 * 365), style in 0u8..30) {
        let date = today() - chrono::Duration::days(days_back);
        let text = spoken(date, style, today());
        match parse(&text) {
            // Bare numbers said one after another can be truly ambiguous ("one one two oh oh
            // seven": 1/1/2007 or 11/20/07); then the right answer must be among those offered.
            Err(DateError::Ambiguous(dates)) if [2, 3, 4].contains(&(style % 10)) => prop_assert!(dates.contains(&date), "{}: {:?}", text, dates),
            other => prop_assert_eq!(other, Ok(date), "{}", text),
        }
    }
}
