//! The BSDs' tun header ([`TunFraming::AfHeader`]): the packet's address
//! family, 4 bytes in network byte order, before every packet both ways.
//!
//! From the BSDs' sources: with `TUNSIFHEAD` set, FreeBSD's tun prepends
//! `htonl(dst->sa_family)` to what a read returns (sys/net/if_tuntap.c,
//! `tunoutput`, under `tp->tun_flags & TUN_IFHEAD`) and takes
//! `ntohl(*mtod(m, u_int32_t *))` off the front of what is written,
//! refusing any family but `AF_INET` and `AF_INET6` with `EAFNOSUPPORT`
//! (`tunwrite_l3`); share/man/man4/tun.4: "packets will be prepended with a
//! four byte address family in network byte order", and on write "the
//! address family must be prepended". NetBSD (sys/net/if_tun.c,
//! `tun_output` and `tunwrite`, `TUN_IFHEAD`) and DragonFly
//! (sys/net/tun/if_tun.c, `tunoutput` and `tunwrite`) do the same.
//!
//! [`TunFraming::AfHeader`]: vpnd_proto::ipc::TunFraming::AfHeader

use crate::addr;

/// Bytes of the header.
pub const LEN: usize = 4;

/// `AF_INET`: 2 on every system (the BSDs' sys/sys/socket.h).
const AF_INET: u32 = 2;
const _: () = assert!(AF_INET == nix::libc::AF_INET as u32);

/// The families a header may name, as the system numbers them: IPv4's is
/// the same everywhere, IPv6's is not (FreeBSD and DragonFly 28, NetBSD
/// 24: the `libc` crate's `AF_INET6` for each, src/unix/bsd/freebsdlike/
/// mod.rs and src/unix/bsd/netbsdlike/mod.rs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Families {
    /// This system's `AF_INET6`.
    pub inet6: u32,
}

impl Families {
    /// The families of the system vpnd runs on.
    pub const THIS_SYSTEM: Families = Families {
        inet6: addr::INET6_FAMILY.value() as u32,
    };

    /// Whether a read's header names a family vpnd carries.
    pub fn known(self, header: [u8; LEN]) -> bool {
        let family = u32::from_be_bytes(header);
        family == AF_INET || family == self.inet6
    }

    /// The header for `packet`, from its IP version; `None` for a packet
    /// that is neither IPv4 nor IPv6 (the tun would refuse it).
    pub fn header_for(self, packet: &[u8]) -> Option<[u8; LEN]> {
        let family = match packet.first()? >> 4 {
            4 => AF_INET,
            6 => self.inet6,
            _ => return None,
        };
        Some(family.to_be_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vpnd_proto::wire::Inet6Family;

    #[test]
    fn the_header_is_the_family_in_network_byte_order() {
        let freebsd = Families {
            inet6: u32::from(Inet6Family::FREEBSD.value()),
        };
        let netbsd = Families {
            inet6: u32::from(Inet6Family::NETBSD.value()),
        };
        assert_eq!(freebsd.header_for(&[0x45, 0]), Some([0, 0, 0, 2]));
        assert_eq!(freebsd.header_for(&[0x60, 0]), Some([0, 0, 0, 28]));
        assert_eq!(netbsd.header_for(&[0x60, 0]), Some([0, 0, 0, 24]));
        for garbage in [&[][..], &[0x00], &[0x50], &[0xff, 1, 2]] {
            assert_eq!(freebsd.header_for(garbage), None, "{garbage:?}");
        }
        assert!(freebsd.known([0, 0, 0, 2]) && freebsd.known([0, 0, 0, 28]));
        assert!(!freebsd.known([0, 0, 0, 24]) && !netbsd.known([0, 0, 0, 28]));
        assert!(!freebsd.known([2, 0, 0, 0]), "host byte order is refused");
        assert!(
            !freebsd.known([0, 0, 0, 10]),
            "Linux's AF_INET6 is not the BSDs'"
        );
    }
}
