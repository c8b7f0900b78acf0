//! This host's outer address toward the gateway, with the prefix length of
//! the network it is on: what a pushed value must not take into the
//! tunnel.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use vpnd_proto::net::{Prefix, canonical};

/// The source address the system would send to `gateway` from now (a
/// throwaway socket, connected and closed: nothing is sent), canonical,
/// with the prefix length of the interface address that holds it; a host
/// prefix (/32, /128) when no interface lists it. `None` when there is no
/// route to the gateway.
pub fn outer_network(gateway: SocketAddr) -> Option<Prefix> {
    let gateway = SocketAddr::new(canonical(gateway.ip()), gateway.port());
    let any = match gateway {
        SocketAddr::V4(_) => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        SocketAddr::V6(_) => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
    };
    let probe = super::connected_beside(any, gateway, false).ok()?;
    let source = super::source_of(&probe).ok()?;
    let host = if source.is_ipv4() { 32 } else { 128 };
    Prefix::new(source, interface_prefix_len(source).unwrap_or(host)).ok()
}

/// The prefix length of the interface address `addr`, from the system's
/// list of interface addresses.
fn interface_prefix_len(addr: IpAddr) -> Option<u8> {
    let ones = |n: u32| u8::try_from(n).ok();
    nix::ifaddrs::getifaddrs().ok()?.find_map(|ifa| {
        let (a, mask) = (ifa.address?, ifa.netmask?);
        match addr {
            IpAddr::V4(want) if a.as_sockaddr_in()?.ip() == want => {
                ones(u32::from(mask.as_sockaddr_in()?.ip()).count_ones())
            }
            IpAddr::V6(want) if a.as_sockaddr_in6()?.ip() == want => {
                ones(u128::from(mask.as_sockaddr_in6()?.ip()).count_ones())
            }
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loopback_gateway_is_reached_from_the_loopback_network() {
        let outer = outer_network("127.0.0.1:4706".parse().unwrap()).unwrap();
        assert_eq!(outer.to_string(), "127.0.0.1/8");
        let mapped = outer_network("[::ffff:127.0.0.1]:4706".parse().unwrap()).unwrap();
        assert_eq!(mapped, outer);
    }
}
