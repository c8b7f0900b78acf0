//! The 92-byte peer info, with explicit offsets, and the values a host-gw
//! pushes to its client, validated (W14).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use super::{FrameError, MessageType, PEER_INFO_LEN};
use crate::net::{Prefix, ResolvDomain};

/// The family byte this side writes for an IPv6 address: its own
/// system's `AF_INET6`, as the deployed peers write theirs (doc/protocol.md
/// "Peer info"). The pure crate does not know the system: the caller
/// that does passes it in ([`crate::session::SessionConfig`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inet6Family(u8);

impl Inet6Family {
    /// Linux's `AF_INET6`.
    pub const LINUX: Inet6Family = Inet6Family(10);
    /// FreeBSD's and DragonFly's.
    pub const FREEBSD: Inet6Family = Inet6Family(28);
    /// NetBSD's and OpenBSD's.
    pub const NETBSD: Inet6Family = Inet6Family(24);
    /// macOS's.
    pub const MACOS: Inet6Family = Inet6Family(30);

    /// A system's `AF_INET6` value, as its C library defines it.
    pub const fn new(value: u8) -> Inet6Family {
        Inet6Family(value)
    }

    /// The byte on the wire.
    pub const fn value(self) -> u8 {
        self.0
    }
}

const AF_NONE: u8 = 0;
const AF_INET: u8 = 2;
/// Every system's `AF_INET6`: Linux, FreeBSD/DragonFly, NetBSD/OpenBSD,
/// macOS. We accept them all (an improvement: the deployed peers do not).
const AF_INET6_ANY: [u8; 4] = [
    Inet6Family::LINUX.value(),
    Inet6Family::FREEBSD.value(),
    Inet6Family::NETBSD.value(),
    Inet6Family::MACOS.value(),
];

// Offsets (doc/protocol.md "Peer info").
const PEER_ID: usize = 0;
const HOST_FAMILY: usize = 4;
const HOST_PREFIX: usize = 5;
const NETWORK_FAMILY: usize = 6;
const NETWORK_PREFIX: usize = 7;
const RESOLVER_FAMILY: usize = 8;
const HOST_ADDR: usize = 9;
const NETWORK_ADDR: usize = 25;
const RESOLVER_ADDR: usize = 41;
const DOMAIN: usize = 57;
const DOMAIN_LEN: usize = 32;
const ADDR_LEN: usize = 16;

/// One address of a peer info as it is on the wire: family byte, prefix
/// length, 16 address bytes (IPv4 in the first four).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AddrField {
    /// 0 none, 2 IPv4, or one of the systems' `AF_INET6` values.
    pub family: u8,
    /// The prefix length (none for the resolver, whose field has none).
    pub prefix_len: u8,
    /// The address bytes.
    pub addr: [u8; ADDR_LEN],
}

impl AddrField {
    /// `addr` with `prefix_len`; an IPv6 address is marked `inet6`.
    pub fn from_ip(addr: IpAddr, prefix_len: u8, inet6: Inet6Family) -> Self {
        let mut bytes = [0u8; ADDR_LEN];
        let family = match addr {
            IpAddr::V4(a) => {
                bytes[..4].copy_from_slice(&a.octets());
                AF_INET
            }
            IpAddr::V6(a) => {
                bytes = a.octets();
                inet6.value()
            }
        };
        AddrField {
            family,
            prefix_len,
            addr: bytes,
        }
    }

    /// The address: `Ok(None)` for family 0, an error for a family no
    /// system uses.
    pub fn ip(&self, field: &'static str) -> Result<Option<IpAddr>, PushError> {
        match self.family {
            AF_NONE => Ok(None),
            AF_INET => {
                let [a, b, c, d, ..] = self.addr;
                Ok(Some(IpAddr::V4(Ipv4Addr::new(a, b, c, d))))
            }
            f if AF_INET6_ANY.contains(&f) => Ok(Some(IpAddr::V6(Ipv6Addr::from(self.addr)))),
            family => Err(PushError::Family { field, family }),
        }
    }

    /// The address with its prefix length.
    fn prefix(&self, field: &'static str) -> Result<Option<Prefix>, PushError> {
        let Some(ip) = self.ip(field)? else {
            return Ok(None);
        };
        Prefix::new(ip, self.prefix_len)
            .map(Some)
            .map_err(|_| PushError::Value {
                field,
                value: format!("{ip}/{}", self.prefix_len),
                reason: "prefix length too long for the address",
            })
    }
}

/// A peer info: the peer id, and what a host-gw pushes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerInfo {
    /// Random at start; the smaller id is master. Big-endian on the wire.
    pub peer_id: u32,
    /// The client's address and prefix (host-gw only).
    pub host: AddrField,
    /// The gateway's network (host-gw only).
    pub network: AddrField,
    /// The resolver (host-gw only; `prefix_len` is not on the wire).
    pub resolver: AddrField,
    /// The search domain, NUL-padded.
    pub domain: [u8; DOMAIN_LEN],
}

impl PeerInfo {
    /// What net-gw and host send: the id, everything else zero.
    pub fn id_only(peer_id: u32) -> Self {
        PeerInfo {
            peer_id,
            host: AddrField::default(),
            network: AddrField::default(),
            resolver: AddrField::default(),
            domain: [0; DOMAIN_LEN],
        }
    }

    /// What a host-gw sends: the id and the values it pushes, IPv6
    /// addresses marked `inet6`.
    pub fn for_host_gw(peer_id: u32, pushed: &Pushed, inet6: Inet6Family) -> Self {
        let mut domain = [0u8; DOMAIN_LEN];
        if let Some(d) = &pushed.domain {
            // ResolvDomain holds at most 31 bytes: the NUL always fits.
            let text = d.as_str().as_bytes();
            let n = text.len().min(DOMAIN_LEN - 1);
            domain[..n].copy_from_slice(&text[..n]);
        }
        PeerInfo {
            peer_id,
            host: AddrField::from_ip(pushed.host.addr(), pushed.host.prefix_len(), inet6),
            network: AddrField::from_ip(pushed.network.addr(), pushed.network.prefix_len(), inet6),
            resolver: pushed
                .resolver
                .map(|r| AddrField::from_ip(r, 0, inet6))
                .unwrap_or_default(),
            domain,
        }
    }

    /// The 92 bytes, padding zero.
    pub fn encode(&self) -> [u8; PEER_INFO_LEN] {
        let mut b = [0u8; PEER_INFO_LEN];
        b[PEER_ID..PEER_ID + 4].copy_from_slice(&self.peer_id.to_be_bytes());
        b[HOST_FAMILY] = self.host.family;
        b[HOST_PREFIX] = self.host.prefix_len;
        b[NETWORK_FAMILY] = self.network.family;
        b[NETWORK_PREFIX] = self.network.prefix_len;
        b[RESOLVER_FAMILY] = self.resolver.family;
        b[HOST_ADDR..HOST_ADDR + ADDR_LEN].copy_from_slice(&self.host.addr);
        b[NETWORK_ADDR..NETWORK_ADDR + ADDR_LEN].copy_from_slice(&self.network.addr);
        b[RESOLVER_ADDR..RESOLVER_ADDR + ADDR_LEN].copy_from_slice(&self.resolver.addr);
        b[DOMAIN..DOMAIN + DOMAIN_LEN].copy_from_slice(&self.domain);
        b
    }

    /// Decodes exactly 92 bytes; the padding is ignored. Never fails on
    /// content: what the fields mean is checked by [`PeerInfo::pushed`].
    pub fn decode(body: &[u8]) -> Result<Self, FrameError> {
        let b: &[u8; PEER_INFO_LEN] = body.try_into().map_err(|_| FrameError::BodyLength {
            msg: MessageType::PeerInfo,
            len: body.len(),
        })?;
        let addr = |at: usize| {
            let mut a = [0u8; ADDR_LEN];
            a.copy_from_slice(&b[at..at + ADDR_LEN]);
            a
        };
        let mut domain = [0u8; DOMAIN_LEN];
        domain.copy_from_slice(&b[DOMAIN..DOMAIN + DOMAIN_LEN]);
        Ok(PeerInfo {
            peer_id: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            host: AddrField {
                family: b[HOST_FAMILY],
                prefix_len: b[HOST_PREFIX],
                addr: addr(HOST_ADDR),
            },
            network: AddrField {
                family: b[NETWORK_FAMILY],
                prefix_len: b[NETWORK_PREFIX],
                addr: addr(NETWORK_ADDR),
            },
            resolver: AddrField {
                family: b[RESOLVER_FAMILY],
                prefix_len: 0,
                addr: addr(RESOLVER_ADDR),
            },
            domain,
        })
    }

    /// The pushed values, validated: `Ok(None)` when the peer pushes
    /// nothing (host family 0, as net-gw and host send), an error naming
    /// the field and value when anything is malformed or unsafe.
    pub fn pushed(&self) -> Result<Option<Pushed>, PushError> {
        let Some(host) = self.host.prefix("host address")? else {
            return Ok(None);
        };
        let network = self.network.prefix("network")?.ok_or(PushError::Family {
            field: "network",
            family: AF_NONE,
        })?;
        let resolver = self.resolver.ip("resolver")?;
        let pushed = Pushed {
            host,
            network,
            resolver,
            domain: self.domain()?,
        };
        pushed.validate()?;
        Ok(Some(pushed))
    }

    fn domain(&self) -> Result<Option<ResolvDomain>, PushError> {
        let bad = |reason| PushError::Value {
            field: "domain",
            value: String::from_utf8_lossy(&self.domain)
                .escape_debug()
                .to_string(),
            reason,
        };
        // At most 31 bytes of text: the field must hold its NUL (W14).
        let end = self
            .domain
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| bad("no terminating NUL"))?;
        if end == 0 {
            return Ok(None);
        }
        let text = std::str::from_utf8(&self.domain[..end]).map_err(|_| bad("not text"))?;
        text.parse().map(Some).map_err(|_| bad("not a domain name"))
    }
}

/// Why pushed values are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// An address family byte no system uses (or none where one is needed).
    #[error("pushed {field}: address family {family} is not IPv4 or IPv6")]
    Family {
        /// Which field.
        field: &'static str,
        /// The family byte.
        family: u8,
    },
    /// A value that is malformed or unsafe to apply.
    #[error("pushed {field}: {value}: {reason}")]
    Value {
        /// Which field.
        field: &'static str,
        /// The value, printable.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A value well-formed but out of bounds for this host: wider than
    /// it takes, or taking into the tunnel an address that must stay
    /// outside it ([`Pushed::check_outside`]).
    #[error("pushed {field}: {value}: {reason}")]
    Outside {
        /// Which field.
        field: &'static str,
        /// The value.
        value: Prefix,
        /// What is wrong with it, with the address or bound it meets.
        reason: String,
    },
}

/// What a host-gw pushes to its client and the client applies: its tun
/// address, a route to the gateway's network, and DNS. Travels over IPC
/// from the network process to the parent, which calls
/// [`Pushed::validate`] again before applying anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pushed {
    /// The client's address (host bits kept) and prefix length.
    pub host: Prefix,
    /// The gateway's network (host bits clear).
    pub network: Prefix,
    /// The resolver to use.
    pub resolver: Option<IpAddr>,
    /// The search domain.
    pub domain: Option<ResolvDomain>,
}

impl Pushed {
    /// The checks of W14, which need nothing but the values: a unicast,
    /// non-link-local host address, a network that is a real network and
    /// not a default route, a unicast resolver; IPv4 written as IPv4 (an
    /// IPv4-mapped value would slip past comparisons with IPv4 addresses).
    /// [`Pushed::check_outside`] adds what needs the host's own facts.
    pub fn validate(&self) -> Result<(), PushError> {
        let bad = |field, value: String, reason| {
            Err(PushError::Value {
                field,
                value,
                reason,
            })
        };
        for (field, value) in [("host address", self.host), ("network", self.network)] {
            if is_ipv4_mapped(&value.addr()) {
                return bad(
                    field,
                    value.to_string(),
                    "IPv4-mapped: IPv4 is pushed as IPv4",
                );
            }
        }
        if !is_unicast(&self.host.addr()) {
            return bad(
                "host address",
                self.host.to_string(),
                "not a unicast address",
            );
        }
        if is_link_local(&self.host.addr()) {
            return bad(
                "host address",
                self.host.to_string(),
                "a link-local address",
            );
        }
        if self.network.is_default() {
            return bad(
                "network",
                self.network.to_string(),
                "a default route is not pushed",
            );
        }
        if !self.network.is_network() {
            return bad("network", self.network.to_string(), "host bits set");
        }
        if !is_unicast(&self.network.addr()) {
            return bad("network", self.network.to_string(), "not a unicast network");
        }
        if let Some(r) = self.resolver
            && !is_unicast(&r)
        {
            return bad("resolver", r.to_string(), "not a unicast address");
        }
        Ok(())
    }
}

/// In `::ffff:0:0/96`.
fn is_ipv4_mapped(ip: &IpAddr) -> bool {
    matches!(ip, IpAddr::V6(a) if a.to_ipv4_mapped().is_some())
}

/// In 169.254.0.0/16 or fe80::/10: every link has these, none is the
/// tunnel's.
fn is_link_local(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_link_local(),
        IpAddr::V6(a) => a.is_unicast_link_local(),
    }
}

/// Neither unspecified, loopback, multicast nor broadcast.
fn is_unicast(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            !(a.is_loopback() || a.is_multicast() || a.is_broadcast() || a.octets()[0] == 0)
        }
        IpAddr::V6(a) => !(a.is_unspecified() || a.is_loopback() || a.is_multicast()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push() -> Pushed {
        Pushed {
            host: "198.19.3.2/24".parse().unwrap(),
            network: "198.19.1.0/24".parse().unwrap(),
            resolver: Some("198.19.1.53".parse().unwrap()),
            domain: Some("vpnd.test".parse().unwrap()),
        }
    }

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn deployed_example_encodes_byte_for_byte() {
        // doc/deployed-peer.md section 3, the observed host-gw peer info.
        let expected = unhex(
            "12345678 02 18 02 18 02 c6130302 000000000000000000000000 c6130100 \
             000000000000000000000000 c6130135 000000000000000000000000 \
             76706e642e74657374 0000000000000000000000000000000000000000000000 000000",
        );
        assert_eq!(expected.len(), 92);
        let info = PeerInfo::for_host_gw(0x1234_5678, &push(), Inet6Family::LINUX);
        assert_eq!(info.encode().to_vec(), expected);
        let back = PeerInfo::decode(&expected).unwrap();
        assert_eq!(back, info);
        assert_eq!(back.pushed().unwrap(), Some(push()));
    }

    #[test]
    fn id_only_is_zero_but_the_id() {
        let b = PeerInfo::id_only(0x0102_0304).encode();
        assert_eq!(&b[..4], &[1, 2, 3, 4]);
        assert!(b[4..].iter().all(|&x| x == 0));
        assert_eq!(PeerInfo::decode(&b).unwrap().pushed(), Ok(None));
    }

    #[test]
    fn padding_is_ignored_and_length_is_exact() {
        let mut b = PeerInfo::for_host_gw(1, &push(), Inet6Family::LINUX).encode();
        b[89..].copy_from_slice(&[9, 9, 9]);
        assert_eq!(
            PeerInfo::decode(&b).unwrap().pushed().unwrap(),
            Some(push())
        );
        assert!(PeerInfo::decode(&b[..91]).is_err());
        assert!(PeerInfo::decode(&[0; 93]).is_err());
    }

    #[test]
    fn every_systems_ipv6_family_is_accepted() {
        let v6 = Pushed {
            host: "2001:2:0:7::2/64".parse().unwrap(),
            network: "2001:2:0:1::/64".parse().unwrap(),
            resolver: Some("2001:2:0:1::53".parse().unwrap()),
            domain: None,
        };
        for sender in [Inet6Family::FREEBSD, Inet6Family::NETBSD] {
            let info = PeerInfo::for_host_gw(1, &v6, sender);
            assert_eq!(
                [info.host.family, info.network.family, info.resolver.family],
                [sender.value(); 3]
            );
        }
        let mut info = PeerInfo::for_host_gw(1, &v6, Inet6Family::LINUX);
        assert_eq!(info.host.family, 10);
        for family in [10, 28, 24, 30] {
            info.host.family = family;
            info.network.family = family;
            info.resolver.family = family;
            assert_eq!(info.pushed().unwrap(), Some(v6.clone()), "family {family}");
        }
        info.host.family = 7;
        assert_eq!(
            info.pushed(),
            Err(PushError::Family {
                field: "host address",
                family: 7
            })
        );
    }

    #[test]
    fn unsafe_pushes_are_refused() {
        let info = |f: &dyn Fn(&mut PeerInfo)| {
            let mut i = PeerInfo::for_host_gw(1, &push(), Inet6Family::LINUX);
            f(&mut i);
            i.pushed()
        };
        let refused = |r: Result<Option<Pushed>, PushError>, field: &str| match r {
            Err(PushError::Value { field: f, .. })
            | Err(PushError::Family { field: f, .. })
            | Err(PushError::Outside { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        };
        // A default route.
        refused(
            info(&|i| i.network = AddrField::from_ip([0, 0, 0, 0].into(), 0, Inet6Family::LINUX)),
            "network",
        );
        // Host bits in the network.
        refused(
            info(&|i| {
                i.network = AddrField::from_ip([198, 19, 1, 7].into(), 24, Inet6Family::LINUX)
            }),
            "network",
        );
        // A multicast or loopback host address.
        refused(
            info(&|i| i.host = AddrField::from_ip([224, 0, 0, 1].into(), 24, Inet6Family::LINUX)),
            "host address",
        );
        refused(
            info(&|i| i.host = AddrField::from_ip([127, 0, 0, 1].into(), 8, Inet6Family::LINUX)),
            "host address",
        );
        // A prefix longer than the address.
        refused(info(&|i| i.host.prefix_len = 33), "host address");
        // A link-local host address, and IPv4 written IPv4-mapped.
        refused(
            info(&|i| i.host = AddrField::from_ip([169, 254, 1, 2].into(), 16, Inet6Family::LINUX)),
            "host address",
        );
        refused(
            info(&|i| {
                i.host = AddrField::from_ip("fe80::2".parse().unwrap(), 64, Inet6Family::LINUX)
            }),
            "host address",
        );
        refused(
            info(&|i| {
                i.network = AddrField::from_ip(
                    "::ffff:198.18.0.0".parse().unwrap(),
                    111,
                    Inet6Family::LINUX,
                )
            }),
            "network",
        );
        // No network at all.
        refused(info(&|i| i.network = AddrField::default()), "network");
        // A broadcast resolver.
        refused(
            info(&|i| {
                i.resolver = AddrField::from_ip([255, 255, 255, 255].into(), 0, Inet6Family::LINUX)
            }),
            "resolver",
        );
        // A domain with a newline (resolvconf input injection) or no NUL.
        refused(
            info(&|i| i.domain[..11].copy_from_slice(b"a\nnameserve")),
            "domain",
        );
        refused(info(&|i| i.domain = [b'a'; 32]), "domain");
        // 31 bytes of text and the NUL are fine.
        let ok = info(&|i| {
            i.domain = [0; 32];
            i.domain[..31].copy_from_slice(&[b'a'; 31]);
        });
        assert_eq!(ok.unwrap().unwrap().domain.unwrap().as_str().len(), 31);
    }
}
