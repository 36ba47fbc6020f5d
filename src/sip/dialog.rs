//! A UAS dialog (RFC 3261 §12): identifiers, our CSeq, the route set and the remote target, and the
//! in-dialog requests we send (BYE).

use std::fmt::Write;
use std::net::SocketAddr;

use super::Transport;
use super::message::{self, Message};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    call_id: String,
    local_tag: String,
    remote_tag: Option<String>,
    /// Our URI (the request's To) and theirs (its From), as full header values without our tag.
    local_uri: String,
    remote_uri: String,
    remote_target: String,
    /// Record-Route values in order; for a UAS that is the route set as received (§12.1.1).
    route_set: Vec<String>,
    local_cseq: u32,
    local: SocketAddr,
    transport: Transport,
    /// The INVITE's request URI was `sips:` (RFC 5630): our Contact is `sips:` too.
    sips: bool,
}

impl Dialog {
    /// The dialog a 2xx to `invite` establishes.
    pub fn new_uas(invite: &Message, local_tag: String, local: SocketAddr, transport: Transport) -> Self {
        let route_set = invite.header_values("Record-Route").flat_map(|v| v.split(',')).map(|v| v.trim().to_string()).collect();
        Self {
            call_id: invite.call_id.clone(),
            local_tag,
            remote_tag: invite.from_tag.clone(),
            local_uri: invite.header("To").unwrap_or_default().to_string(),
            remote_uri: invite.header("From").unwrap_or_default().to_string(),
            remote_target: invite.contact_uri().unwrap_or_else(|| invite.header("From").map(message::angle_uri).unwrap_or_default()),
            route_set,
            local_cseq: rand::random::<u16>() as u32 + 1,
            local,
            transport,
            sips: matches!(&invite.start, message::StartLine::Request { uri, .. } if uri.get(..5).is_some_and(|s| s.eq_ignore_ascii_case("sips:"))),
        }
    }

    /// The dialog a 2xx to our own INVITE establishes (§12.1.2): the route set is the response's
    /// Record-Route in reverse, the remote target its Contact, and `remote_uri` its To (with tag).
    pub fn new_uac(invite_cseq: u32, local_uri: String, local_tag: String, response: &Message, local: SocketAddr, transport: Transport) -> Self {
        let mut route_set: Vec<String> = response.header_values("Record-Route").flat_map(|v| v.split(',')).map(|v| v.trim().to_string()).collect();
        route_set.reverse();
        Self {
            call_id: response.call_id.clone(),
            local_tag,
            remote_tag: response.to_tag.clone(),
            local_uri,
            remote_uri: response.header("To").unwrap_or_default().to_string(),
            remote_target: response.contact_uri().unwrap_or_else(|| response.header("To").map(message::angle_uri).unwrap_or_default()),
            route_set,
            local_cseq: invite_cseq,
            local,
            transport,
            sips: false,
        }
    }

    /// The ACK for a 2xx to the INVITE with CSeq `cseq` (its own transaction, §13.2.2.4).
    pub fn ack(&self, cseq: u32) -> Vec<u8> {
        self.build("ACK", cseq, &[], b"").1
    }

    pub fn local_tag(&self) -> &str {
        &self.local_tag
    }

    /// Our URI in this dialog (`sip:ivr@host`), as in the INVITE's To.
    pub fn local_uri(&self) -> String {
        message::angle_uri(&self.local_uri)
    }

    pub fn remote_target(&self) -> &str {
        &self.remote_target
    }

    /// Where our in-dialog requests go first: the route set's first URI (a loose-routing proxy
    /// that record-routed the call, RFC 3261 §12.2.1.1), or the remote target when there is none.
    pub fn next_hop(&self) -> String {
        self.route_set.first().map_or_else(|| self.remote_target.clone(), |route| message::angle_uri(route))
    }

    /// Whether an in-dialog request belongs to this dialog (Call-ID and both tags).
    pub fn matches(&self, request: &Message) -> bool {
        request.call_id == self.call_id && request.to_tag.as_deref() == Some(self.local_tag.as_str()) && request.from_tag == self.remote_tag
    }

    /// Target refresh: a re-INVITE's Contact replaces the remote target (§12.2.2).
    pub fn refresh_target(&mut self, request: &Message) {
        if let Some(uri) = request.contact_uri() {
            self.remote_target = uri;
        }
    }

    pub fn contact_header(&self) -> String {
        let scheme_transport = match self.transport {
            Transport::Udp => "",
            Transport::Tcp => ";transport=tcp",
            Transport::Tls if self.sips => return format!("<sips:chartline@{}>", self.local),
            Transport::Tls => ";transport=tls",
        };
        format!("<sip:chartline@{}{scheme_transport}>", self.local)
    }

    /// Builds an in-dialog request; returns its Via branch and bytes.
    pub fn request(&mut self, method: &str, extra: &[(&str, String)], body: &[u8]) -> (String, Vec<u8>) {
        self.local_cseq += 1;
        self.build(method, self.local_cseq, extra, body)
    }

    fn build(&self, method: &str, cseq: u32, extra: &[(&str, String)], body: &[u8]) -> (String, Vec<u8>) {
        let branch = format!("z9hG4bK{:x}{:x}", rand::random::<u64>(), cseq);
        let transport = self.transport.via_name();
        let mut out = format!("{method} {} SIP/2.0\r\n", self.remote_target);
        let _ = write!(out, "Via: SIP/2.0/{transport} {};branch={branch};rport\r\n", self.local);
        let _ = write!(out, "Max-Forwards: 70\r\n");
        for route in &self.route_set {
            let _ = write!(out, "Route: {route}\r\n");
        }
        let _ = write!(out, "From: {};tag={}\r\n", self.local_uri, self.local_tag);
        let _ = write!(out, "To: {}\r\n", self.remote_uri);
        let _ = write!(out, "Call-ID: {}\r\nCSeq: {cseq} {method}\r\n", self.call_id);
        for (name, value) in extra {
            let _ = write!(out, "{name}: {value}\r\n");
        }
        let _ = write!(out, "User-Agent: Chartline\r\nContent-Length: {}\r\n\r\n", body.len());
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(body);
        (branch, bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:ivr@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK-1\r\nRecord-Route: <sip:p1.example;lr>, <sip:p2.example;lr>\r\nFrom: <sip:caller@10.0.0.1>;tag=abc\r\nTo: <sip:ivr@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: 7 INVITE\r\nContact: <sip:caller@10.0.0.1:5070>\r\nContent-Length: 0\r\n\r\n";

    fn dialog() -> (Dialog, Message) {
        let invite = message::parse(INVITE.as_bytes()).unwrap();
        (Dialog::new_uas(&invite, "ourtag".into(), "127.0.0.1:5060".parse().unwrap(), Transport::Udp), invite)
    }

    #[test]
    fn bye_uses_target_routes_tags_and_increasing_cseq() {
        let (mut d, _) = dialog();
        let (branch, bytes) = d.request("BYE", &[], b"");
        let bye = message::parse(&bytes).unwrap();
        assert_eq!(bye.method(), Some("BYE"));
        assert!(matches!(&bye.start, message::StartLine::Request { uri, .. } if uri == "sip:caller@10.0.0.1:5070"));
        assert_eq!(bye.branch, branch);
        assert_eq!(bye.from_tag.as_deref(), Some("ourtag"));
        assert_eq!(bye.to_tag.as_deref(), Some("abc"));
        assert_eq!(bye.header_values("Route").collect::<Vec<_>>(), vec!["<sip:p1.example;lr>", "<sip:p2.example;lr>"]);
        let (_, again) = d.request("BYE", &[], b"");
        assert_eq!(message::parse(&again).unwrap().cseq, bye.cseq + 1);
    }

    #[test]
    fn matching_needs_both_tags() {
        let (d, _) = dialog();
        let in_dialog = INVITE.replace("To: <sip:ivr@127.0.0.1>", "To: <sip:ivr@127.0.0.1>;tag=ourtag").replace("INVITE", "BYE");
        assert!(d.matches(&message::parse(in_dialog.as_bytes()).unwrap()));
        let wrong = in_dialog.replace("tag=ourtag", "tag=other");
        assert!(!d.matches(&message::parse(wrong.as_bytes()).unwrap()));
    }

    #[test]
    fn tls_contact_and_via() {
        let invite = message::parse(INVITE.as_bytes()).unwrap();
        let local: SocketAddr = "127.0.0.1:5061".parse().unwrap();
        let mut d = Dialog::new_uas(&invite, "t".into(), local, Transport::Tls);
        assert_eq!(d.contact_header(), "<sip:chartline@127.0.0.1:5061;transport=tls>");
        let (_, bye) = d.request("BYE", &[], b"");
        assert!(String::from_utf8(bye).unwrap().contains("Via: SIP/2.0/TLS 127.0.0.1:5061;"));
        let sips = message::parse(INVITE.replacen("INVITE sip:", "INVITE sips:", 1).as_bytes()).unwrap();
        assert_eq!(Dialog::new_uas(&sips, "t".into(), local, Transport::Tls).contact_header(), "<sips:chartline@127.0.0.1:5061>");
    }

    #[test]
    fn next_hop_is_the_first_route_or_the_remote_target() {
        let (d, _) = dialog();
        assert_eq!(d.next_hop(), "sip:p1.example;lr");
        let direct = message::parse(INVITE.replace("Record-Route: <sip:p1.example;lr>, <sip:p2.example;lr>\r\n", "").as_bytes()).unwrap();
        let d = Dialog::new_uas(&direct, "t".into(), "127.0.0.1:5060".parse().unwrap(), Transport::Udp);
        assert_eq!(d.next_hop(), "sip:caller@10.0.0.1:5070");
    }

    #[test]
    fn target_refresh_from_reinvite_contact() {
        let (mut d, _) = dialog();
        let reinvite = INVITE.replace("Contact: <sip:caller@10.0.0.1:5070>", "Contact: <sip:caller@10.0.0.9:6000>");
        d.refresh_target(&message::parse(reinvite.as_bytes()).unwrap());
        assert_eq!(d.remote_target(), "sip:caller@10.0.0.9:6000");
    }
}
