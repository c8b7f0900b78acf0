//! Validated network values: address prefixes, interface names and search domains.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::text::text_value;

/// Why a text is not a prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    /// No `/` between address and length.
    #[error("expected ADDRESS/LENGTH")]
    NoSlash,
    /// The part before `/` is not an IPv4 or IPv6 address.
    #[error("not an IPv4 or IPv6 address")]
    Address,
    /// The length is not a number, or longer than the address (32 or 128).
    #[error("prefix length must be 0 to {0}")]
    Length(u8),
}

/// An address with a prefix length, as `ADDRESS/LENGTH`. The address keeps
/// its host bits (`host_addr` needs them); [`Prefix::network`] clears them.
/// Decoding goes through [`Prefix::new`]: a length longer than the address
/// that came over IPC is an error, never a value.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "PrefixParts")]
pub struct Prefix {
    addr: IpAddr,
    len: u8,
}

/// A [`Prefix`] as it is encoded, before its length is checked.
#[derive(Deserialize)]
struct PrefixParts {
    addr: IpAddr,
    len: u8,
}

impl TryFrom<PrefixParts> for Prefix {
    type Error = PrefixError;
    fn try_from(p: PrefixParts) -> Result<Self, PrefixError> {
        Prefix::new(p.addr, p.len)
    }
}

impl Prefix {
    /// `addr/len`, if `len` fits the address family.
    pub fn new(addr: IpAddr, len: u8) -> Result<Self, PrefixError> {
        let max = max_len(&addr);
        if len > max {
            return Err(PrefixError::Length(max));
        }
        Ok(Prefix { addr, len })
    }

    /// The address as written (host bits kept).
    pub const fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub const fn prefix_len(&self) -> u8 {
        self.len
    }

    /// True for a /0 prefix (the whole address space).
    pub const fn is_default(&self) -> bool {
        self.len == 0
    }

    /// The same prefix with the host bits cleared.
    pub fn network(&self) -> Prefix {
        // `len` never exceeds the address (every constructor checks it);
        // the saturating subtraction keeps even a broken invariant from
        // overflowing.
        let addr = match self.addr {
            IpAddr::V4(a) => {
                let mask = u32::MAX
                    .checked_shl(32u32.saturating_sub(u32::from(self.len)))
                    .unwrap_or(0);
                IpAddr::V4((u32::from(a) & mask).into())
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX
                    .checked_shl(128u32.saturating_sub(u32::from(self.len)))
                    .unwrap_or(0);
                IpAddr::V6((u128::from(a) & mask).into())
            }
        };
        Prefix {
            addr,
            len: self.len,
        }
    }

    /// True when `self` is its own network (no host bits set).
    pub fn is_network(&self) -> bool {
        self.network().addr == self.addr
    }

    /// True when `ip` (of the same family) is inside this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        Prefix::new(ip, self.len).is_ok_and(|p| p.network() == self.network())
    }
}

/// `ip` with an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, as a
/// dual-stack socket reports an IPv4 peer) written as the IPv4 address it
/// is, so that comparisons see one address as one.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(a) => a.to_ipv4_mapped().map_or(IpAddr::V6(a), IpAddr::V4),
        v4 => v4,
    }
}

fn max_len(addr: &IpAddr) -> u8 {
    if addr.is_ipv4() { 32 } else { 128 }
}

impl FromStr for Prefix {
    type Err = PrefixError;
    fn from_str(s: &str) -> Result<Self, PrefixError> {
        let (addr, len) = s.split_once('/').ok_or(PrefixError::NoSlash)?;
        let addr: IpAddr = addr.parse().map_err(|_| PrefixError::Address)?;
        let max = max_len(&addr);
        // Digits only: "+8", " 8" and "08x" are not lengths.
        if len.is_empty() || len.len() > 3 || !len.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PrefixError::Length(max));
        }
        let len: u8 = len.parse().map_err(|_| PrefixError::Length(max))?;
        Prefix::new(addr, len)
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl fmt::Debug for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Prefix({self})")
    }
}

text_value! {
    /// A network interface name the kernel accepts (IFNAMSIZ - 1 = 15 bytes,
    /// no `/`, no whitespace, not `.` or `..`), so it can go into an argument
    /// vector as is.
    IfName,
    /// Why a text is not an interface name.
    IfNameError,
    max: 15,
    bytes: |b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'),
    whole: |s| s != "." && s != "..",
    too_long: "an interface name is 1 to 15 characters",
    not_allowed: "an interface name has only letters, digits, '-', '_' and '.'",
}

text_value! {
    /// A DNS search domain that fits the peer-info field (31 bytes of text
    /// plus NUL) and is safe to hand to `resolvconf` as a `search` line: no
    /// leading dot, no empty label, and nothing but letters, digits, `-`,
    /// `_` and `.` (a newline would inject lines into resolvconf's input:
    /// W14).
    ResolvDomain,
    /// Why a text is not a resolver search domain.
    DomainError,
    max: 31,
    bytes: |b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'),
    whole: |s| !s.starts_with('.') && !s.contains(".."),
    too_long: "a domain is 1 to 31 bytes",
    not_allowed: "a domain has only letters, digits, '-', '_' and '.'",
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_parse_and_normalise() {
        let p: Prefix = "198.19.3.2/24".parse().unwrap();
        assert_eq!(p.to_string(), "198.19.3.2/24");
        assert_eq!(p.network().to_string(), "198.19.3.0/24");
        assert!(!p.is_network());
        let v6: Prefix = "2001:2:0:7::2/64".parse().unwrap();
        assert_eq!(v6.network().to_string(), "2001:2:0:7::/64");
        assert_eq!(
            "0.0.0.0/0"
                .parse::<Prefix>()
                .unwrap()
                .network()
                .prefix_len(),
            0
        );
        assert_eq!(
            "::/0".parse::<Prefix>().unwrap().network().to_string(),
            "::/0"
        );
        assert_eq!(
            "1.2.3.4/32"
                .parse::<Prefix>()
                .unwrap()
                .network()
                .to_string(),
            "1.2.3.4/32"
        );
    }

    #[test]
    fn containment_is_by_family_and_network() {
        let p: Prefix = "198.18.0.0/15".parse().unwrap();
        assert!(p.contains("198.19.255.1".parse().unwrap()));
        assert!(!p.contains("198.20.0.1".parse().unwrap()));
        assert!(!p.contains("::ffff:198.18.0.2".parse().unwrap()));
        assert!(p.contains(canonical("::ffff:198.18.0.2".parse().unwrap())));
        let v6: Prefix = "2000::/3".parse().unwrap();
        assert!(v6.contains("2001:2::2".parse().unwrap()));
        assert!(!v6.contains("198.18.0.2".parse().unwrap()));
        assert_eq!(
            canonical("2001:2::2".parse().unwrap()),
            "2001:2::2".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn bad_prefixes_say_why() {
        assert_eq!("198.19.3.2".parse::<Prefix>(), Err(PrefixError::NoSlash));
        assert_eq!("198.19.3/24".parse::<Prefix>(), Err(PrefixError::Address));
        assert_eq!(
            "198.19.3.0/33".parse::<Prefix>(),
            Err(PrefixError::Length(32))
        );
        assert_eq!("::/129".parse::<Prefix>(), Err(PrefixError::Length(128)));
        assert_eq!("1.2.3.4/+8".parse::<Prefix>(), Err(PrefixError::Length(32)));
        assert_eq!("1.2.3.4/".parse::<Prefix>(), Err(PrefixError::Length(32)));
    }

    #[test]
    fn domains() {
        assert_eq!(
            "vpnd.test".parse::<ResolvDomain>().unwrap().as_str(),
            "vpnd.test"
        );
        assert!("a".repeat(31).parse::<ResolvDomain>().is_ok());
        assert_eq!(
            "a".repeat(32).parse::<ResolvDomain>(),
            Err(DomainError::Length)
        );
        assert_eq!("".parse::<ResolvDomain>(), Err(DomainError::Length));
        assert_eq!(
            "a\nnameserver 1.2.3.4".parse::<ResolvDomain>(),
            Err(DomainError::Character)
        );
        assert_eq!("a b".parse::<ResolvDomain>(), Err(DomainError::Character));
        assert_eq!(".a".parse::<ResolvDomain>(), Err(DomainError::Character));
    }

    #[test]
    fn interface_names() {
        assert!("tun0".parse::<IfName>().is_ok());
        assert!("vpntunnel0".parse::<IfName>().is_ok());
        assert_eq!("".parse::<IfName>(), Err(IfNameError::Length));
        assert_eq!("a".repeat(16).parse::<IfName>(), Err(IfNameError::Length));
        assert_eq!("tun 0".parse::<IfName>(), Err(IfNameError::Character));
        assert_eq!("../x".parse::<IfName>(), Err(IfNameError::Character));
        assert_eq!("..".parse::<IfName>(), Err(IfNameError::Character));
    }
}
