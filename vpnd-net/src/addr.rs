//! Peer addresses between the session (plain IPv4 or IPv6) and the
//! dual-stack socket (IPv4 as `::ffff:a.b.c.d`), and this system's IPv6
//! family number for the session's peer info.

use std::net::{IpAddr, SocketAddr, SocketAddrV6};

use vpnd_proto::wire::Inet6Family;

/// This system's `AF_INET6`, which our peer info writes for an IPv6
/// address as the deployed peers write theirs (every system's value is
/// below 256: 10, 24, 28, 30).
pub const INET6_FAMILY: Inet6Family = Inet6Family::new(nix::libc::AF_INET6 as u8);

/// The address as the session compares it: IPv4-mapped IPv6 becomes IPv4.
pub fn canonical(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => addr,
        },
        SocketAddr::V4(_) => addr,
    }
}

/// The address to send to on a socket of the given family.
pub fn for_socket(addr: SocketAddr, socket_is_v6: bool) -> SocketAddr {
    match (addr, socket_is_v6) {
        (SocketAddr::V4(v4), true) => {
            SocketAddr::V6(SocketAddrV6::new(v4.ip().to_ipv6_mapped(), v4.port(), 0, 0))
        }
        _ => addr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_addresses_round_trip() {
        let v4: SocketAddr = "198.18.0.2:4706".parse().unwrap();
        let mapped = for_socket(v4, true);
        assert_eq!(mapped.to_string(), "[::ffff:198.18.0.2]:4706");
        assert_eq!(canonical(mapped), v4);
        assert_eq!(for_socket(v4, false), v4);
        let v6: SocketAddr = "[2001:2::2]:4706".parse().unwrap();
        assert_eq!(canonical(v6), v6);
        assert_eq!(for_socket(v6, true), v6);
    }
}
