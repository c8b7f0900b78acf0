//! How far a host lets its gateway's push reach: no network wider than the
//! configured minimum, nothing that takes the tunnel's own datagrams or
//! the host's outer network into the tunnel. Both processes judge with
//! this: the network process with what it knows (the peer it talks to),
//! the parent with what it knows itself (the gateway it resolved, its own
//! outer address and network). The parent's judgement is the one that
//! counts: it never takes the network process's word for the gateway.

use std::net::IpAddr;

use super::{PushError, Pushed};
use crate::config::MinPushedPrefix;
use crate::net::{Prefix, canonical};

/// What a host knows of the world outside its tunnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outside {
    /// The widest network it takes.
    pub min_prefix: MinPushedPrefix,
    /// The gateway's outer address: where the tunnel's datagrams go.
    pub gateway: Option<IpAddr>,
    /// The host's own outer address (the one its datagrams to the gateway
    /// leave from), with its network's prefix length.
    pub own: Option<Prefix>,
}

impl Pushed {
    /// Refuses a push that reaches past `outside`: a network wider than
    /// `min_prefix` allows, one that contains the gateway's or the host's
    /// outer address (the tunnel's own datagrams would be routed into the
    /// tunnel, or the host cut off its own network), and a host address
    /// that is the gateway's or inside the host's outer network. IPv4-mapped
    /// addresses in `outside` are compared as the IPv4 addresses they are.
    pub fn check_outside(&self, outside: &Outside) -> Result<(), PushError> {
        let (network, host) = (self.network, self.host);
        let refuse = |field, value, reason: String| {
            Err(PushError::Outside {
                field,
                value,
                reason,
            })
        };
        let (min, param) = outside.min_prefix.for_family(&network.addr());
        if network.prefix_len() < min {
            return refuse("network", network, format!("wider than /{min} ({param})"));
        }
        if let Some(gateway) = outside.gateway.map(canonical) {
            if network.contains(gateway) {
                return refuse(
                    "network",
                    network,
                    format!(
                        "contains the gateway's address {gateway}; routing it through the tunnel would cut the tunnel"
                    ),
                );
            }
            if host.addr() == gateway {
                return refuse("host address", host, "is the gateway's address".to_owned());
            }
        }
        let own = outside
            .own
            .and_then(|p| Prefix::new(canonical(p.addr()), own_len(&p)).ok());
        if let Some(own) = own {
            if network.contains(own.addr()) {
                return refuse(
                    "network",
                    network,
                    format!(
                        "contains this host's outer address {}; routing it through the tunnel would cut the tunnel",
                        own.addr()
                    ),
                );
            }
            if own.contains(host.addr()) {
                return refuse(
                    "host address",
                    host,
                    format!("inside this host's outer network {}", own.network()),
                );
            }
        }
        Ok(())
    }
}

/// The prefix length of `p` once its address is canonical: an IPv4-mapped
/// /120 is an IPv4 /24.
fn own_len(p: &Prefix) -> u8 {
    match p.addr() {
        IpAddr::V6(a) if a.to_ipv4_mapped().is_some() => p.prefix_len().saturating_sub(96),
        _ => p.prefix_len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(host: &str, network: &str) -> Pushed {
        Pushed {
            host: host.parse().unwrap(),
            network: network.parse().unwrap(),
            resolver: None,
            domain: None,
        }
    }

    fn outside(gateway: &str, own: &str) -> Outside {
        Outside {
            min_prefix: MinPushedPrefix::default(),
            gateway: Some(gateway.parse().unwrap()),
            own: Some(own.parse().unwrap()),
        }
    }

    #[test]
    fn a_push_reaches_no_further_than_the_host_allows() {
        let here = outside("198.18.1.1", "198.18.1.2/29");
        let mapped = outside("::ffff:198.18.1.1", "::ffff:198.18.1.2/125");
        let wide = |v: &str, m: u8, p: &str| format!("pushed network: {v}: wider than /{m} ({p})");
        let cut = |v: &str, whose: &str, a: &str| {
            format!(
                "pushed network: {v}: contains {whose} {a}; routing it through the tunnel would cut the tunnel"
            )
        };
        #[rustfmt::skip]
        let table: Vec<(Outside, Pushed, Option<String>)> = vec![
            (here, push("198.19.3.2/24", "198.19.1.0/24"), None),
            (here, push("2001:2:0:3::2/64", "2001:2:0:1::/64"), None),
            (here, push("198.19.3.2/24", "10.0.0.0/8"), None),
            (here, push("198.19.3.2/24", "64.0.0.0/2"), Some(wide("64.0.0.0/2", 8, "min_pushed_prefix_v4"))),
            (here, push("2001:2:0:3::2/64", "2000::/3"), Some(wide("2000::/3", 16, "min_pushed_prefix_v6"))),
            (here, push("2001:2:0:3::2/64", "8000::/1"), Some(wide("8000::/1", 16, "min_pushed_prefix_v6"))),
            (here, push("198.19.3.2/24", "198.18.0.0/15"), Some(cut("198.18.0.0/15", "the gateway's address", "198.18.1.1"))),
            (mapped, push("198.19.3.2/24", "198.18.0.0/15"), Some(cut("198.18.0.0/15", "the gateway's address", "198.18.1.1"))),
            (outside("198.18.9.9", "198.18.1.2/29"), push("198.19.3.2/24", "198.18.1.0/24"),
                Some(cut("198.18.1.0/24", "this host's outer address", "198.18.1.2"))),
            (here, push("198.18.1.1/24", "198.19.1.0/24"), Some("pushed host address: 198.18.1.1/24: is the gateway's address".to_owned())),
            (here, push("198.18.1.5/24", "198.19.1.0/24"),
                Some("pushed host address: 198.18.1.5/24: inside this host's outer network 198.18.1.0/29".to_owned())),
            (mapped, push("198.18.1.5/24", "198.19.1.0/24"),
                Some("pushed host address: 198.18.1.5/24: inside this host's outer network 198.18.1.0/29".to_owned())),
            // A site that takes wider networks says so.
            (Outside { min_prefix: MinPushedPrefix { v4: 2, v6: 3 }, ..here }, push("2001:2:0:3::2/64", "2000::/3"), None),
            // Nothing known of the outside: the bounds alone.
            (Outside { min_prefix: MinPushedPrefix::default(), gateway: None, own: None }, push("198.18.1.1/24", "198.18.0.0/15"), None),
        ];
        for (row, (outside, pushed, refused)) in table.iter().enumerate() {
            let got = pushed.check_outside(outside).map_err(|e| e.to_string());
            assert_eq!(got.err(), *refused, "row {row}: {pushed:?}");
        }
    }
}
