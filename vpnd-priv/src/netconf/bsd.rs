//! FreeBSD, DragonFly and NetBSD: `ifconfig`, `route` and `sysctl`.

use std::net::IpAddr;
use std::path::Path;

use vpnd_proto::net::{IfName, Prefix};

use super::{Argv, Direction, Family, Platform, Tools};

/// Where every BSD has `ifconfig` (sbin/Makefile.inc of all three trees:
/// `BINDIR?= /sbin`).
const IFCONFIG: &str = "/sbin/ifconfig";
/// Where every BSD has `route` (sbin/Makefile.inc, as above).
const ROUTE: &str = "/sbin/route";

/// The BSDs' command lines. NetBSD's `route` wants `-link` before
/// `-interface`: FreeBSD's and DragonFly's route(8) take the name of a
/// point-to-point interface as the `-interface` gateway, NetBSD's route(8)
/// only an address, unless `-link` makes the addresses after it
/// link-level ones (link_addr(3)).
#[derive(Debug, Clone, Copy, Default)]
pub struct Bsd {
    /// NetBSD's `route` syntax.
    pub netbsd: bool,
}

impl Bsd {
    /// This system's flavour.
    pub fn native() -> Bsd {
        Bsd {
            netbsd: cfg!(target_os = "netbsd"),
        }
    }
}

impl Platform for Bsd {
    /// ifconfig(8) of all three: `up`, `down`.
    fn link(&self, _tools: &Tools, device: &IfName, direction: Direction) -> Argv {
        let state = match direction {
            Direction::Apply => "up",
            Direction::Undo => "down",
        };
        Argv::new(IFCONFIG, &[device.as_str(), state])
    }

    /// ifconfig(8): `mtu n`. NetBSD's tun takes 576 to 1500 (sys/net/if_tun.c,
    /// tun_ioctl, SIOCSIFMTU), the range vpnd.conf allows.
    fn mtu(&self, _tools: &Tools, device: &IfName, mtu: u16) -> Argv {
        Argv::new(IFCONFIG, &[device.as_str(), "mtu", &mtu.to_string()])
    }

    /// route(8) of all three: `-q` silences add and delete, `-inet` and
    /// `-inet6` pick the family, `-net` with a net/bits destination.
    fn route(
        &self,
        _tools: &Tools,
        device: &IfName,
        prefix: &Prefix,
        direction: Direction,
    ) -> Argv {
        let verb = match direction {
            Direction::Apply => "add",
            Direction::Undo => "delete",
        };
        let network = prefix.network().to_string();
        let family = if prefix.addr().is_ipv4() {
            "-inet"
        } else {
            "-inet6"
        };
        let mut args = vec!["-q", verb, family, "-net", &network];
        if self.netbsd {
            args.push("-link");
        }
        args.extend(["-interface", device.as_str()]);
        Argv::new(ROUTE, &args)
    }

    /// A host address on a point-to-point tun: the address is its own
    /// destination (the deployed peer used a fixed private address there).
    /// ifconfig(8) of all three: `address_family address dest_address`
    /// (dest_address: the other end of a point-to-point link), then
    /// `alias` or `-alias`; inet6 takes `prefixlen`.
    fn address(&self, _tools: &Tools, device: &IfName, ip: &IpAddr, direction: Direction) -> Argv {
        let a = ip.to_string();
        let alias = match direction {
            Direction::Apply => "alias",
            Direction::Undo => "-alias",
        };
        let dev = device.as_str();
        let args: Vec<&str> = match ip {
            IpAddr::V4(_) => vec![dev, "inet", &a, &a, alias],
            IpAddr::V6(_) => vec![dev, "inet6", &a, "prefixlen", "128", alias],
        };
        Argv::new(IFCONFIG, &args)
    }

    /// ip.forwarding and ip6.forwarding under net.inet and net.inet6:
    /// inet(4) and inet6(4) of FreeBSD and DragonFly, NetBSD's sysctl(8).
    fn forwarding_sysctl(&self, family: Family) -> &'static str {
        match family {
            Family::V4 => "net.inet.ip.forwarding",
            Family::V6 => "net.inet6.ip6.forwarding",
        }
    }

    /// None: `ifconfig` and `route` are the system's own, not configured.
    fn configured_programs<'t>(&self, _tools: &'t Tools) -> Vec<(&'static str, &'t Path)> {
        vec![]
    }
}

#[cfg(test)]
mod tests {
    use super::super::Change;
    use super::super::tests::{assert_commands, tools};
    use super::*;

    #[test]
    fn freebsd_and_netbsd_routes() {
        let route = |s: &str| Change::Route(s.parse().unwrap());
        assert_commands(
            &Bsd { netbsd: false },
            "tun3",
            &[
                (
                    route("198.19.2.0/24"),
                    "/sbin/route -q add -inet -net 198.19.2.0/24 -interface tun3",
                    Some("/sbin/route -q delete -inet -net 198.19.2.0/24 -interface tun3"),
                ),
                (
                    route("2001:2:0:2::/64"),
                    "/sbin/route -q add -inet6 -net 2001:2:0:2::/64 -interface tun3",
                    None,
                ),
            ],
        );
        assert_commands(
            &Bsd { netbsd: true },
            "tun3",
            &[(
                route("198.19.2.0/24"),
                "/sbin/route -q add -inet -net 198.19.2.0/24 -link -interface tun3",
                Some("/sbin/route -q delete -inet -net 198.19.2.0/24 -link -interface tun3"),
            )],
        );
    }

    #[test]
    fn addresses_mtu_and_link() {
        assert_commands(
            &Bsd::default(),
            "tun3",
            &[
                (
                    Change::Address("198.19.3.2".parse().unwrap()),
                    "/sbin/ifconfig tun3 inet 198.19.3.2 198.19.3.2 alias",
                    Some("/sbin/ifconfig tun3 inet 198.19.3.2 198.19.3.2 -alias"),
                ),
                (
                    Change::Address("2001:2:0:7::2".parse().unwrap()),
                    "/sbin/ifconfig tun3 inet6 2001:2:0:7::2 prefixlen 128 alias",
                    None,
                ),
                (Change::Mtu(1411), "/sbin/ifconfig tun3 mtu 1411", None),
                (
                    Change::LinkUp,
                    "/sbin/ifconfig tun3 up",
                    Some("/sbin/ifconfig tun3 down"),
                ),
            ],
        );
        assert!(Bsd::default().configured_programs(&tools()).is_empty());
    }
}
