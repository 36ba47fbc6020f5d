//! HTTP `Range: bytes=` for the recording player (RFC 9110 §14): browsers seek and stream audio
//! with single ranges; multi-range requests are answered with the whole file.

/// What to send for a file of `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeReply {
    /// 200 with the whole file.
    Full,
    /// 206 with bytes `start..=end`.
    Partial { start: u64, end: u64 },
    /// 416: the range starts past the end.
    Unsatisfiable,
}

pub fn parse(header: Option<&str>, len: u64) -> RangeReply {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else { return RangeReply::Full };
    if spec.contains(',') {
        return RangeReply::Full;
    }
    let Some((first, last)) = spec.split_once('-') else { return RangeReply::Full };
    let (first, last) = (first.trim(), last.trim());
    if len == 0 {
        return RangeReply::Unsatisfiable;
    }
    if first.is_empty() {
        // Suffix: the last N bytes.
        return match last.parse::<u64>() {
            Ok(0) => RangeReply::Unsatisfiable,
            Ok(n) => RangeReply::Partial { start: len.saturating_sub(n), end: len - 1 },
            Err(_) => RangeReply::Full,
        };
    }
    let Ok(start) = first.parse::<u64>() else { return RangeReply::Full };
    if start >= len {
        return RangeReply::Unsatisfiable;
    }
    let end = match last {
        "" => len - 1,
        text => match text.parse::<u64>() {
            Ok(end) if end >= start => end.min(len - 1),
            _ => return RangeReply::Full,
        },
    };
    RangeReply::Partial { start, end }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse(None, 100), RangeReply::Full);
        assert_eq!(parse(Some("bytes=0-"), 100), RangeReply::Partial { start: 0, end: 99 });
        assert_eq!(parse(Some("bytes=10-19"), 100), RangeReply::Partial { start: 10, end: 19 });
        assert_eq!(parse(Some("bytes=90-500"), 100), RangeReply::Partial { start: 90, end: 99 });
        assert_eq!(parse(Some("bytes=-10"), 100), RangeReply::Partial { start: 90, end: 99 });
        assert_eq!(parse(Some("bytes=100-"), 100), RangeReply::Unsatisfiable);
        assert_eq!(parse(Some("bytes=5-1"), 100), RangeReply::Full);
        assert_eq!(parse(Some("bytes=0-1,5-6"), 100), RangeReply::Full);
        assert_eq!(parse(Some("items=0-1"), 100), RangeReply::Full);
    }
}
