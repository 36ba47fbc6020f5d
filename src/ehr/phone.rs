//! Phone numbers compared by their digits: `555-146-1616`, `(555) 146 1616`, `+1 555 146 1616`
//! and `sip:+15551461616@pbx` are the same number. FHIR servers match the stored string only,
//! so Chartline searches by birth date and compares phones here.

/// The national significant digits of a North American number (10 digits, no leading 1),
/// or all digits for anything else. Takes the user part of a SIP/tel URI.
pub fn normalize(raw: &str) -> String {
    let user = raw
        .trim()
        .trim_start_matches('<')
        .trim_start_matches("sips:")
        .trim_start_matches("sip:")
        .trim_start_matches("tel:");
    let user = user.split(['@', ';', '>']).next().unwrap_or("");
    let digits: String = user.chars().filter(|c| c.is_ascii_digit()).collect();
    if digits.len() == 11 && digits.starts_with('1') {
        digits[1..].to_string()
    } else {
        digits
    }
}

/// True when both have digits and they denote the same number.
pub fn same(a: &str, b: &str) -> bool {
    let (a, b) = (normalize(a), normalize(b));
    a.len() >= 7 && a == b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_compare_equal() {
        for form in ["555-146-1616", "5551461616", "(555) 146-1616", "+1 555 146 1616", "1-555-146-1616", "sip:+15551461616@10.0.0.1;user=phone", "<tel:+1-555-146-1616>"] {
            assert_eq!(normalize(form), "5551461616", "{form}");
            assert!(same(form, "555.146.1616"), "{form}");
        }
    }

    #[test]
    fn different_or_empty_numbers_differ() {
        assert!(!same("555-146-1617", "555-146-1616"));
        assert!(!same("", ""));
        assert!(!same("anonymous", "anonymous"));
        assert_eq!(normalize("+44 20 7946 0000"), "442079460000");
    }
}
