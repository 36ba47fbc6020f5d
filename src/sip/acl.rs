//! IP trust for inbound SIP: only listed source networks may send us requests. A request from
//! anywhere else is answered `403 Forbidden` or dropped without a word, as configured. Pure: the
//! endpoint asks [`Acl::check`] with the source address of each message.

use std::net::IpAddr;
use std::str::FromStr;

use serde::Deserialize;
use thiserror::Error;

/// An IPv4 or IPv6 network, `10.0.0.0/8` or `::1/128`; a bare address is a single host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CidrError {
    #[error("{0:?} is not an IP address or CIDR network")]
    Address(String),
    #[error("{0:?} has a prefix length out of range")]
    Prefix(String),
    #[error("{0:?} has host bits set; did you mean {1}?")]
    HostBits(String, String),
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(text: &str) -> Result<Self, CidrError> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let network: IpAddr = address.parse().map_err(|_| CidrError::Address(text.to_string()))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(|| CidrError::Prefix(text.to_string()))?,
        };
        let cidr = Cidr { network, prefix };
        let masked = cidr.masked(network);
        if masked != network {
            return Err(CidrError::HostBits(text.to_string(), format!("{masked}/{prefix}")));
        }
        Ok(cidr)
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl Cidr {
    /// The single host `ip`.
    pub fn host(ip: IpAddr) -> Self {
        let ip = canonical(ip);
        Cidr { network: ip, prefix: if ip.is_ipv4() { 32 } else { 128 } }
    }

    fn masked(&self, ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(v4) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                IpAddr::from((u32::from(v4) & mask).to_be_bytes())
            }
            IpAddr::V6(v6) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                IpAddr::from((u128::from(v6) & mask).to_be_bytes())
            }
        }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        ip.is_ipv4() == self.network.is_ipv4() && self.masked(ip) == self.network
    }
}

/// IPv4-mapped IPv6 (`::ffff:10.0.0.1`, as a dual-stack socket reports v4 peers) as plain IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// What happens to a request from a source that is not listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unlisted {
    /// Answer `403 Forbidden` (ACKs are never answered).
    #[default]
    Reject,
    /// Send nothing: scanners learn nothing about us.
    Drop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    Reject,
    Drop,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    allowed: Vec<Cidr>,
    unlisted: Unlisted,
}

impl Acl {
    pub fn new(allowed: Vec<Cidr>, unlisted: Unlisted) -> Self {
        Self { allowed, unlisted }
    }

    /// Parses a list of networks; the error names the entry (its index and text).
    pub fn parse(entries: &[String], unlisted: Unlisted) -> Result<Self, (usize, CidrError)> {
        let allowed = entries.iter().enumerate().map(|(i, e)| e.parse().map_err(|err| (i, err))).collect::<Result<_, _>>()?;
        Ok(Self::new(allowed, unlisted))
    }

    /// Trusts one more network (e.g. the registrar we register with).
    pub fn allow(&mut self, cidr: Cidr) {
        if !self.allowed.contains(&cidr) {
            self.allowed.push(cidr);
        }
    }

    pub fn allowed(&self) -> &[Cidr] {
        &self.allowed
    }

    pub fn check(&self, source: IpAddr) -> Verdict {
        if self.allowed.iter().any(|c| c.contains(source)) {
            return Verdict::Allow;
        }
        match self.unlisted {
            Unlisted::Reject => Verdict::Reject,
            Unlisted::Drop => Verdict::Drop,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn parses_networks_and_hosts() {
        assert_eq!("10.0.0.0/8".parse::<Cidr>().unwrap().to_string(), "10.0.0.0/8");
        assert_eq!("192.0.2.7".parse::<Cidr>().unwrap().to_string(), "192.0.2.7/32");
        assert_eq!("::1".parse::<Cidr>().unwrap().to_string(), "::1/128");
        assert_eq!("0.0.0.0/0".parse::<Cidr>().unwrap().to_string(), "0.0.0.0/0");
        assert_eq!("2001:db8::/32".parse::<Cidr>().unwrap().to_string(), "2001:db8::/32");
    }

    #[test]
    fn rejects_bad_entries_with_a_hint() {
        assert!(matches!("10.0.0.0/33".parse::<Cidr>(), Err(CidrError::Prefix(_))));
        assert!(matches!("::/129".parse::<Cidr>(), Err(CidrError::Prefix(_))));
        assert!(matches!("pbx.example.org".parse::<Cidr>(), Err(CidrError::Address(_))));
        let err = "192.168.1.10/24".parse::<Cidr>().unwrap_err();
        assert!(err.to_string().contains("192.168.1.0/24"), "{err}");
    }

    #[test]
    fn membership_v4_v6_and_mapped() {
        let lo: Cidr = "127.0.0.0/8".parse().unwrap();
        assert!(lo.contains(ip("127.0.0.1")));
        assert!(lo.contains(ip("127.255.0.9")));
        assert!(!lo.contains(ip("128.0.0.1")));
        assert!(lo.contains(ip("::ffff:127.0.0.2")), "v4-mapped v6 counts as v4");
        assert!(!lo.contains(ip("::1")));
        let host: Cidr = "127.0.0.1/32".parse().unwrap();
        assert!(host.contains(ip("127.0.0.1")));
        assert!(!host.contains(ip("127.0.0.2")));
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:1::5")));
        assert!(!v6.contains(ip("2001:db9::1")));
        assert!("0.0.0.0/0".parse::<Cidr>().unwrap().contains(ip("203.0.113.9")));
    }

    #[test]
    fn verdicts_follow_the_configured_action() {
        let entries = vec!["127.0.0.1/32".to_string(), "::1".to_string()];
        let acl = Acl::parse(&entries, Unlisted::Reject).unwrap();
        assert_eq!(acl.check(ip("127.0.0.1")), Verdict::Allow);
        assert_eq!(acl.check(ip("::1")), Verdict::Allow);
        assert_eq!(acl.check(ip("127.0.0.2")), Verdict::Reject);
        let mut acl = Acl::parse(&entries, Unlisted::Drop).unwrap();
        assert_eq!(acl.check(ip("10.1.2.3")), Verdict::Drop);
        acl.allow(Cidr::host(ip("10.1.2.3")));
        acl.allow(Cidr::host(ip("10.1.2.3")));
        assert_eq!(acl.allowed().len(), 3);
        assert_eq!(acl.check(ip("10.1.2.3")), Verdict::Allow);
    }

    #[test]
    fn parse_error_names_the_entry() {
        let entries = vec!["127.0.0.1/32".to_string(), "10.0.0.300".to_string()];
        let (index, _) = Acl::parse(&entries, Unlisted::Reject).unwrap_err();
        assert_eq!(index, 1);
        let empty = Acl::parse(&[], Unlisted::Drop).unwrap();
        assert_eq!(empty.check(ip("127.0.0.1")), Verdict::Drop, "an empty list trusts nobody");
    }
}
