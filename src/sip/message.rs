//! Untrusted bytes in, a validated SIP message out — or the reason it is malformed and, when the
//! sender can be addressed, the `400 Bad Request` to send back. rsip checks the grammar; this module
//! adds the rules rsip leaves to the application (mandatory headers, CSeq method, Content-Length).

use std::fmt::Write;

use rsip::headers::ToTypedHeader;
use rsip::message::HeadersExt;
use thiserror::Error;

/// Largest message we accept, in bytes (headers plus body).
pub const MAX_MESSAGE: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    Request { method: String, uri: String },
    Response { status: u16, reason: String },
}

/// A parsed and validated message, with the fields the transaction and dialog layers use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub start: StartLine,
    /// Header lines in order, names as written.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub call_id: String,
    pub cseq: u32,
    pub cseq_method: String,
    pub from_tag: Option<String>,
    pub to_tag: Option<String>,
    /// Branch of the top Via.
    pub branch: String,
}

#[derive(Debug, Error, PartialEq, Eq)]
#[error("{reason}")]
pub struct Malformed {
    pub reason: String,
    /// The response for a request whose Via, From, To, Call-ID and CSeq could be recovered:
    /// `400 Bad Request`, or `501 Not Implemented` for a well-formed extension method.
    pub reply: Option<Vec<u8>>,
}

impl Message {
    pub fn method(&self) -> Option<&str> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { status, .. } => Some(status),
            StartLine::Request { .. } => None,
        }
    }

    /// First value of a header, matching long and compact names case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| same_header(n, name)).map(|(_, v)| v.as_str())
    }

    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers.iter().filter(move |(n, _)| same_header(n, name)).map(|(_, v)| v.as_str())
    }

    /// URI inside the Contact header (`<sip:…>` or bare).
    pub fn contact_uri(&self) -> Option<String> {
        self.header("Contact").map(angle_uri)
    }

    pub fn content_type(&self) -> Option<&str> {
        self.header("Content-Type").map(|v| v.split(';').next().unwrap_or(v).trim())
    }
}

/// Parses and validates one message (a UDP datagram or a framed TCP message).
pub fn parse(bytes: &[u8]) -> Result<Message, Malformed> {
    let scan = Scan::new(bytes);
    let fail = |reason: String| Malformed { reply: scan.as_ref().ok().and_then(|s| s.bad_request(&reason)), reason };
    let scan = match &scan {
        Ok(scan) => scan,
        // Bytes that are not UTF-8 (RFC 3261 §7: the text of a message is UTF-8): still a 400
        // when the routing headers read the same with the bad bytes replaced.
        Err(reason) => return Err(Malformed { reply: Scan::new(String::from_utf8_lossy(bytes).as_bytes()).ok().and_then(|s| s.bad_request(reason)), reason: reason.clone() }),
    };
    if bytes.len() > MAX_MESSAGE {
        return Err(fail(format!("message larger than {MAX_MESSAGE} bytes")));
    }
    if let Some(method) = scan.unknown_method() {
        let reply = scan.reply(501, "Not Implemented", &[("Allow", super::ALLOW.to_string())]);
        return Err(Malformed { reason: format!("method {method} is not implemented"), reply });
    }
    let body = scan.body_checked().map_err(fail)?;
    let parsed = rsip::SipMessage::try_from(&bytes[..scan.head_len + body.len()]).map_err(|e| fail(format!("malformed message: {}", first_line(&e.to_string()))))?;
    for required in ["Via", "From", "To", "Call-ID", "CSeq"] {
        if scan.header(required).is_none() {
            return Err(fail(format!("missing {required} header")));
        }
    }
    let cseq = parsed.cseq_header().and_then(|c| c.typed()).map_err(|_| fail("malformed CSeq header".into()))?;
    let call_id = scan.header("Call-ID").unwrap_or_default().trim().to_string();
    if call_id.is_empty() || call_id.contains(char::is_whitespace) {
        return Err(fail("malformed Call-ID header".into()));
    }
    let start = match &parsed {
        rsip::SipMessage::Request(r) => {
            let method = r.method.to_string();
            if cseq.method.to_string() != method {
                return Err(fail(format!("CSeq method {} does not match {method}", cseq.method)));
            }
            StartLine::Request { method, uri: r.uri.to_string() }
        }
        rsip::SipMessage::Response(r) => StartLine::Response { status: r.status_code.code(), reason: r.status_code.to_string() },
    };
    // An empty branch (`;branch=`) is no branch: every such request would match every other's
    // transaction (found by fuzzing, fuzz/regressions/sip_message/).
    let branch = scan.header("Via").and_then(|v| param(v, "branch")).filter(|b| !b.is_empty()).ok_or_else(|| fail("Via without branch".into()))?;
    Ok(Message {
        start,
        headers: scan.headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
        body: body.to_vec(),
        call_id,
        cseq: cseq.seq,
        cseq_method: cseq.method.to_string(),
        from_tag: scan.header("From").and_then(|v| param(v, "tag")),
        to_tag: scan.header("To").and_then(|v| param(v, "tag")),
        branch,
    })
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}

/// A lenient first pass over the raw bytes: start line, header lines, where the body starts.
struct Scan<'a> {
    bytes: &'a [u8],
    start: &'a str,
    is_request: bool,
    headers: Vec<(&'a str, &'a str)>,
    head_len: usize,
}

impl<'a> Scan<'a> {
    fn new(bytes: &'a [u8]) -> Result<Self, String> {
        let head_len = find(bytes, b"\r\n\r\n").map(|i| i + 4).ok_or("no blank line after the headers")?;
        let head = std::str::from_utf8(&bytes[..head_len]).map_err(|_| "headers are not valid UTF-8".to_string())?;
        let mut lines = head.split("\r\n");
        let start = lines.next().unwrap_or_default();
        let mut headers: Vec<(&str, &str)> = Vec::new();
        for line in lines.filter(|l| !l.is_empty()) {
            if line.starts_with([' ', '\t']) {
                continue; // folded continuation: rsip judges it; we keep the first line
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim(), value.trim()));
            }
        }
        Ok(Scan { bytes, start, is_request: !start.starts_with("SIP/"), headers, head_len })
    }

    /// The method of a request line whose method is a valid token but not one rsip knows
    /// (an extension method such as `FOO`): well formed, just not implemented here.
    fn unknown_method(&self) -> Option<&'a str> {
        let method = self.start.split(' ').next().filter(|_| self.is_request)?;
        let is_token = !method.is_empty() && method.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b));
        (is_token && method.parse::<rsip::Method>().is_err()).then_some(method)
    }

    fn header(&self, name: &str) -> Option<&'a str> {
        self.headers.iter().find(|(n, _)| same_header(n, name)).map(|(_, v)| *v)
    }

    /// The body as Content-Length declares it; a body shorter than declared is an error.
    fn body_checked(&self) -> Result<&'a [u8], String> {
        let available = &self.bytes[self.head_len..];
        let Some(value) = self.header("Content-Length") else { return Ok(available) };
        let declared: usize = value.trim().parse().map_err(|_| format!("bad Content-Length {value:?}"))?;
        if declared > MAX_MESSAGE {
            return Err(format!("Content-Length {declared} too large"));
        }
        if declared > available.len() {
            return Err(format!("Content-Length {declared} but only {} body bytes", available.len()));
        }
        Ok(&available[..declared])
    }

    /// A `400` for a request whose routing headers survived, else `None` (nothing can be addressed).
    fn bad_request(&self, reason: &str) -> Option<Vec<u8>> {
        let phrase: String = reason.chars().filter(|c| !c.is_control()).take(120).collect();
        self.reply(400, &format!("Bad Request ({phrase})"), &[])
    }

    /// A stateless response to a request whose routing headers survived (never to an ACK).
    fn reply(&self, status: u16, reason: &str, extra: &[(&str, String)]) -> Option<Vec<u8>> {
        if !self.is_request || self.header("CSeq").is_some_and(|c| c.contains("ACK")) {
            return None;
        }
        // No Via, no Call-ID or no CSeq: a response could not carry what the client matches it
        // by (RFC 3261 §8.2.6.2, §17.1.3, §18.2.2), so the request is dropped unanswered.
        let vias: Vec<&str> = self.headers.iter().filter(|(n, _)| same_header(n, "Via")).map(|(_, v)| *v).collect();
        if vias.is_empty() {
            return None;
        }
        let (from, to, call_id, cseq) = (self.header("From")?, self.header("To")?, self.header("Call-ID")?, self.header("CSeq")?);
        Some(Reply { vias, from, to, to_tag: None, call_id, cseq, record_route: Vec::new() }.render(status, reason, extra, b""))
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Compact forms of RFC 3261 §7.3.3.
fn same_header(written: &str, wanted: &str) -> bool {
    let compact = match wanted.to_ascii_lowercase().as_str() {
        "via" => "v",
        "from" => "f",
        "to" => "t",
        "call-id" => "i",
        "contact" => "m",
        "content-length" => "l",
        "content-type" => "c",
        "supported" => "k",
        _ => "",
    };
    written.eq_ignore_ascii_case(wanted) || (!compact.is_empty() && written.eq_ignore_ascii_case(compact))
}

/// Value of `;name=value` in a header (outside the angle-bracketed URI).
pub fn param(header_value: &str, name: &str) -> Option<String> {
    let params = match header_value.rfind('>') {
        Some(i) => &header_value[i + 1..],
        None => header_value,
    };
    params.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    })
}

/// The URI inside `<…>` or the value up to its first parameter.
pub fn angle_uri(value: &str) -> String {
    match (value.find('<'), value.find('>')) {
        (Some(a), Some(b)) if a < b => value[a + 1..b].to_string(),
        _ => value.split(';').next().unwrap_or(value).trim().to_string(),
    }
}

/// What a response copies from its request (RFC 3261 §8.2.6.2).
pub struct Reply<'a> {
    pub vias: Vec<&'a str>,
    pub from: &'a str,
    pub to: &'a str,
    /// Added to To when the request's To has no tag.
    pub to_tag: Option<&'a str>,
    pub call_id: &'a str,
    pub cseq: &'a str,
    /// The request's Record-Route values, copied only into responses that establish a dialog.
    pub record_route: Vec<&'a str>,
}

impl<'a> Reply<'a> {
    pub fn for_request(request: &'a Message, to_tag: Option<&'a str>) -> Self {
        Reply {
            vias: request.header_values("Via").collect(),
            from: request.header("From").unwrap_or_default(),
            to: request.header("To").unwrap_or_default(),
            to_tag,
            call_id: &request.call_id,
            cseq: request.header("CSeq").unwrap_or_default(),
            record_route: Vec::new(),
        }
    }

    /// A response that establishes a dialog (a 1xx with our tag or the 2xx to an INVITE): it
    /// carries the request's Record-Route as received (RFC 3261 §12.1.1), so the caller's ACK, BYE
    /// and re-INVITEs go through the proxies that asked to stay in the path.
    pub fn for_dialog(request: &'a Message, to_tag: &'a str) -> Self {
        Reply { record_route: request.header_values("Record-Route").collect(), ..Self::for_request(request, Some(to_tag)) }
    }

    /// Renders the response; `extra` headers come before Content-Length.
    pub fn render(&self, status: u16, reason: &str, extra: &[(&str, String)], body: &[u8]) -> Vec<u8> {
        let mut out = format!("SIP/2.0 {status} {reason}\r\n");
        for via in &self.vias {
            let _ = write!(out, "Via: {via}\r\n");
        }
        for route in &self.record_route {
            let _ = write!(out, "Record-Route: {route}\r\n");
        }
        let _ = write!(out, "From: {}\r\n", self.from);
        match self.to_tag {
            Some(tag) if param(self.to, "tag").is_none() && status > 100 => {
                let _ = write!(out, "To: {};tag={tag}\r\n", self.to);
            }
            _ => {
                let _ = write!(out, "To: {}\r\n", self.to);
            }
        }
        let _ = write!(out, "Call-ID: {}\r\nCSeq: {}\r\n", self.call_id, self.cseq);
        for (name, value) in extra {
            let _ = write!(out, "{name}: {value}\r\n");
        }
        let _ = write!(out, "Server: Chartline\r\nContent-Length: {}\r\n\r\n", body.len());
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(body);
        bytes
    }
}

/// The digit of an INFO request carrying DTMF, by its Content-Type.
pub fn dtmf_info(request: &Message) -> Option<(char, u32)> {
    match request.content_type() {
        Some(t) if t.eq_ignore_ascii_case("application/dtmf-relay") || t.eq_ignore_ascii_case("application/dtmf") => parse_dtmf_info(&request.body),
        _ => None,
    }
}

/// `Signal=5\r\nDuration=160` (dtmf-relay) or a bare digit (application/dtmf).
fn parse_dtmf_info(body: &[u8]) -> Option<(char, u32)> {
    let text = std::str::from_utf8(body).ok()?.trim();
    let mut signal = None;
    let mut duration = 160;
    for line in text.lines() {
        match line.split_once('=') {
            Some((k, v)) if k.trim().eq_ignore_ascii_case("signal") => signal = v.trim().chars().next(),
            Some((k, v)) if k.trim().eq_ignore_ascii_case("duration") => duration = v.trim().parse().unwrap_or(160),
            None if signal.is_none() => signal = line.trim().chars().next(),
            _ => {}
        }
    }
    let digit = signal?.to_ascii_uppercase();
    "0123456789*#ABCD".contains(digit).then_some((digit, duration))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const INVITE: &str = "INVITE sip:ivr@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1;rport\r\nMax-Forwards: 70\r\nFrom: \"Caller\" <sip:caller@127.0.0.1:5070>;tag=abc\r\nTo: <sip:ivr@127.0.0.1:5060>\r\nCall-ID: call-1@127.0.0.1\r\nCSeq: 1 INVITE\r\nContact: <sip:caller@127.0.0.1:5070>\r\nContent-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n";

    #[test]
    fn parses_a_valid_invite() {
        let m = parse(INVITE.as_bytes()).unwrap();
        assert_eq!(m.method(), Some("INVITE"));
        assert_eq!((m.cseq, m.cseq_method.as_str()), (1, "INVITE"));
        assert_eq!(m.branch, "z9hG4bK-1");
        assert_eq!(m.from_tag.as_deref(), Some("abc"));
        assert_eq!(m.to_tag, None);
        assert_eq!(m.body, b"v=0\n");
        assert_eq!(m.contact_uri().as_deref(), Some("sip:caller@127.0.0.1:5070"));
    }

    fn reply_text(bytes: &str) -> (String, String) {
        let err = parse(bytes.as_bytes()).unwrap_err();
        (err.reason.clone(), String::from_utf8(err.reply.expect("a 400 can be addressed")).unwrap())
    }

    #[test]
    fn missing_call_id_gets_400_naming_it() {
        let text = INVITE.replace("Call-ID: call-1@127.0.0.1\r\n", "");
        let err = parse(text.as_bytes()).unwrap_err();
        assert!(err.reason.contains("Call-ID"), "{}", err.reason);
        assert!(err.reply.is_none(), "without a Call-ID no response can be matched");
    }

    #[test]
    fn missing_via_or_cseq_is_dropped_unanswered() {
        for header in ["Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1;rport\r\n", "CSeq: 1 INVITE\r\n"] {
            let err = parse(INVITE.replace(header, "").as_bytes()).unwrap_err();
            assert!(err.reason.contains("missing") || err.reason.contains("malformed"), "{}", err.reason);
            assert!(err.reply.is_none(), "no response without {header}");
        }
    }

    #[test]
    fn malformed_via_and_call_id_get_400() {
        for via in ["rport", "branch=;rport", "branch"] {
            let (reason, reply) = reply_text(&INVITE.replace("branch=z9hG4bK-1;rport", via));
            assert!(reason.contains("branch"), "{via}: {reason}");
            assert!(reply.starts_with("SIP/2.0 400 Bad Request (Via without branch)"), "{reply}");
        }
        let (reason, reply) = reply_text(&INVITE.replace("Call-ID: call-1@127.0.0.1", "Call-ID: call 1"));
        assert!(reason.contains("Call-ID"), "{reason}");
        assert!(reply.starts_with("SIP/2.0 400"), "{reply}");
    }

    #[test]
    fn invalid_utf8_in_a_header_gets_400_when_routing_survives() {
        let text = INVITE.replace("\"Caller\"", "\"Caller\u{1}\"");
        let bytes: Vec<u8> = text.bytes().map(|b| if b == 1 { 0xff } else { b }).collect();
        let err = parse(&bytes).unwrap_err();
        assert!(err.reason.contains("UTF-8"), "{}", err.reason);
        let reply = String::from_utf8(err.reply.expect("a 400")).unwrap();
        assert!(reply.starts_with("SIP/2.0 400 Bad Request (headers are not valid UTF-8)"), "{reply}");
        assert!(reply.contains("Call-ID: call-1@127.0.0.1\r\n") && reply.contains("branch=z9hG4bK-1"), "{reply}");
    }

    #[test]
    fn bad_cseq_gets_400() {
        let (reason, reply) = reply_text(&INVITE.replace("CSeq: 1 INVITE", "CSeq: one INVITE"));
        assert!(reason.contains("CSeq"), "{reason}");
        assert!(reply.starts_with("SIP/2.0 400 Bad Request"), "{reply}");
        assert!(reply.contains("Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1;rport\r\n"));
        let (reason, _) = reply_text(&INVITE.replace("CSeq: 1 INVITE", "CSeq: 1 BYE"));
        assert!(reason.contains("does not match"), "{reason}");
    }

    #[test]
    fn lying_and_huge_content_length() {
        let (reason, reply) = reply_text(&INVITE.replace("Content-Length: 4", "Content-Length: 400"));
        assert!(reason.contains("only 4 body bytes"), "{reason}");
        assert!(reply.contains("400"));
        let (reason, _) = reply_text(&INVITE.replace("Content-Length: 4", "Content-Length: 99999999999"));
        assert!(reason.contains("too large") || reason.contains("bad Content-Length"), "{reason}");
        let (reason, _) = reply_text(&INVITE.replace("Content-Length: 4", "Content-Length: -1"));
        assert!(reason.contains("bad Content-Length"), "{reason}");
    }

    #[test]
    fn invalid_utf8_is_rejected_without_panic() {
        let mut bytes = INVITE.as_bytes().to_vec();
        bytes[20] = 0xff;
        assert!(parse(&bytes).unwrap_err().reason.contains("UTF-8"));
    }

    #[test]
    fn compact_headers_are_understood() {
        let text = INVITE.replace("Via:", "v:").replace("Call-ID:", "i:").replace("From:", "f:").replace("To:", "t:");
        let m = parse(text.as_bytes()).unwrap();
        assert_eq!(m.call_id, "call-1@127.0.0.1");
    }

    #[test]
    fn reply_adds_to_tag_once() {
        let m = parse(INVITE.as_bytes()).unwrap();
        let r = String::from_utf8(Reply::for_request(&m, Some("t1")).render(200, "OK", &[], b"")).unwrap();
        assert!(r.contains("To: <sip:ivr@127.0.0.1:5060>;tag=t1\r\n"), "{r}");
        let trying = String::from_utf8(Reply::for_request(&m, Some("t1")).render(100, "Trying", &[], b"")).unwrap();
        assert!(!trying.contains("tag=t1"), "100 Trying carries no To tag");
    }

    #[test]
    fn params_and_uris() {
        assert_eq!(param("<sip:a@b;lr>;tag=x;foo", "tag").as_deref(), Some("x"));
        assert_eq!(param("<sip:a@b;tag=inside>", "tag"), None);
        assert_eq!(angle_uri("\"A\" <sip:a@b:5>;tag=1"), "sip:a@b:5");
        assert_eq!(angle_uri("sip:a@b;tag=1"), "sip:a@b");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn mutated_invites_never_panic(index in 0usize..400, byte in proptest::num::u8::ANY, cut in 0usize..420) {
            let mut bytes = INVITE.as_bytes().to_vec();
            let i = index % bytes.len();
            bytes[i] = byte;
            bytes.truncate(cut.max(1));
            let _ = parse(&bytes);
        }
    }
}
