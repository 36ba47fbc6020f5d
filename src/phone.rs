//! Phone numbers, in one place: the user part of a SIP or tel URI, the national form two numbers
//! are compared by, and the dialable form. Used by caller ID matching (patient line, EHR), routing
//! by dialed number, the callback line and on-call dialling. A leaf (docs/architecture.md).
//!
//! The copies this replaces disagreed: the patient line compared the last ten digits (so
//! `+44 20 7946 0000` and `+33 20 7946 0000` were one number) and kept `;ext=` digits, and the
//! callback line compared all digits (so `+1 555 010 9999` was not `555-010-9999`). The rule now:
//! digits of the user part, without a North American number's leading country code 1.

/// The user part of a SIP/tel URI or a From/To value, or the text itself when it is a plain
/// number: `"Ann" <sip:+1555@pbx;user=phone>;tag=1` gives `+1555`.
pub fn user_part(text: &str) -> &str {
    let uri = text.rsplit_once('<').map_or(text, |(_, rest)| rest.split('>').next().unwrap_or(rest));
    let user = uri.trim().trim_start_matches("sips:").trim_start_matches("sip:").trim_start_matches("tel:");
    user.split(['@', ';']).next().unwrap_or(user)
}

/// The caller's number from a From URI, when its user part has digits (`anonymous` has none).
pub fn caller(from: &str) -> Option<&str> {
    let user = user_part(from);
    user.chars().any(|c| c.is_ascii_digit()).then_some(user)
}

/// The national significant digits: a North American number's 10 digits (no leading 1), or all
/// digits of anything else (`2000`, an extension, stays `2000`).
pub fn national(text: &str) -> String {
    let digits: String = user_part(text).chars().filter(char::is_ascii_digit).collect();
    match digits.strip_prefix('1') {
        Some(rest) if digits.len() == 11 => rest.to_string(),
        _ => digits,
    }
}

/// The same line: both have at least seven digits (an extension or a withheld number identifies
/// no one) and the same national form.
pub fn same(a: &str, b: &str) -> bool {
    let (a, b) = (national(a), national(b));
    a.len() >= 7 && a == b
}

/// `+15551234567`, `555-123-4567`, `(555) 123 4567`: digits with the usual separators.
pub fn is_number(text: &str) -> bool {
    let digits = text.chars().filter(char::is_ascii_digit).count();
    (3..=15).contains(&digits) && text.chars().enumerate().all(|(i, c)| c.is_ascii_digit() || " -().".contains(c) || (c == '+' && i == 0))
}

/// The dialable form of a number: its digits, with a leading + kept.
pub fn dialable(text: &str) -> String {
    let plus = text.trim_start().starts_with('+');
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    if plus { format!("+{digits}") } else { digits }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_part_of_uris_and_headers() {
        assert_eq!(user_part("sip:+15551234567@127.0.0.1:44519"), "+15551234567");
        assert_eq!(user_part("\"Ann\" <sip:5550100@pbx;user=phone>;tag=1"), "5550100");
        assert_eq!(user_part("tel:+1555"), "+1555");
        assert_eq!(user_part("<tel:+1-555-146-1616;ext=22>"), "+1-555-146-1616");
        assert_eq!(user_part("(555) 146-1616"), "(555) 146-1616");
        assert_eq!(caller("sip:anonymous@pbx"), None);
        assert_eq!(caller("sip:+15551234567@pbx;transport=tcp"), Some("+15551234567"));
    }

    #[test]
    fn formats_of_one_number_compare_equal() {
        for form in [
            "555-146-1616",
            "5551461616",
            "(555) 146-1616",
            "+1 555 146 1616",
            "1-555-146-1616",
            "sip:+15551461616@10.0.0.1;user=phone",
            "<tel:+1-555-146-1616>",
            "sip:15551461616@10.0.0.1",
            "tel:+1-555-146-1616;ext=22",
        ] {
            assert_eq!(national(form), "5551461616", "{form}");
            assert!(same(form, "555.146.1616"), "{form}");
        }
        assert_eq!(national("sip:+15550102000@pbx;user=phone"), "5550102000");
        assert_eq!(national("2000"), "2000");
        assert_eq!(national("+44 20 7946 0000"), "442079460000");
    }

    #[test]
    fn different_short_or_foreign_numbers_differ() {
        assert!(!same("555-146-1617", "555-146-1616"));
        assert!(!same("", ""));
        assert!(!same("anonymous", "anonymous"));
        assert!(!same("101", "101"), "an extension identifies no one");
        assert!(!same("+44 20 7946 0000", "+33 20 7946 0000"), "the same last ten digits in two countries are two lines");
    }

    #[test]
    fn dialable_numbers() {
        assert!(is_number("+1 (555) 010-0001"));
        assert!(!is_number("55+5"));
        assert!(!is_number("sip:dr@pbx"));
        assert_eq!(dialable("+1 (555) 010-0001"), "+15550100001");
        assert_eq!(dialable("555.010.0001"), "5550100001");
    }
}
