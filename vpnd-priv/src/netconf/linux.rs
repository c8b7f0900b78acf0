//! Linux: `ip` and `/proc/sys`.

use std::net::IpAddr;
use std::path::Path;

use vpnd_proto::net::{IfName, Prefix};

use super::{Argv, Direction, Family, Platform, Tools, host_prefix};

/// Linux's command lines.
#[derive(Debug, Clone, Copy, Default)]
pub struct Linux;

/// `ip`'s verb for adding or deleting.
fn verb(direction: Direction) -> &'static str {
    match direction {
        Direction::Apply => "add",
        Direction::Undo => "del",
    }
}

impl Platform for Linux {
    fn link(&self, tools: &Tools, device: &IfName, direction: Direction) -> Argv {
        let state = match direction {
            Direction::Apply => "up",
            Direction::Undo => "down",
        };
        Argv::new(&tools.ip, &["link", "set", "dev", device.as_str(), state])
    }

    fn mtu(&self, tools: &Tools, device: &IfName, mtu: u16) -> Argv {
        let mtu = mtu.to_string();
        Argv::new(
            &tools.ip,
            &["link", "set", "dev", device.as_str(), "mtu", &mtu],
        )
    }

    fn route(&self, tools: &Tools, device: &IfName, prefix: &Prefix, direction: Direction) -> Argv {
        let network = prefix.network().to_string();
        Argv::new(
            &tools.ip,
            &["route", verb(direction), &network, "dev", device.as_str()],
        )
    }

    fn address(&self, tools: &Tools, device: &IfName, ip: &IpAddr, direction: Direction) -> Argv {
        Argv::new(
            &tools.ip,
            &[
                "addr",
                verb(direction),
                &host_prefix(ip),
                "dev",
                device.as_str(),
            ],
        )
    }

    fn forwarding_sysctl(&self, family: Family) -> &'static str {
        match family {
            Family::V4 => "/proc/sys/net/ipv4/conf/all/forwarding",
            Family::V6 => "/proc/sys/net/ipv6/conf/all/forwarding",
        }
    }

    fn configured_programs<'t>(&self, tools: &'t Tools) -> Vec<(&'static str, &'t Path)> {
        vec![("ip_path", &tools.ip)]
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_commands, lines, tools};
    use super::super::{Change, apply};
    use super::*;

    #[test]
    fn commands_use_the_whole_device_name() {
        let parse = |s: &str| s.parse().unwrap();
        assert_commands(
            &Linux,
            "vpntunnel0",
            &[
                (
                    Change::Route(parse("198.19.2.0/24")),
                    "/sbin/ip route add 198.19.2.0/24 dev vpntunnel0",
                    Some("/sbin/ip route del 198.19.2.0/24 dev vpntunnel0"),
                ),
                (
                    Change::Route(parse("2001:2:0:2::/64")),
                    "/sbin/ip route add 2001:2:0:2::/64 dev vpntunnel0",
                    None,
                ),
                (
                    Change::Address("198.19.3.2".parse().unwrap()),
                    "/sbin/ip addr add 198.19.3.2/32 dev vpntunnel0",
                    Some("/sbin/ip addr del 198.19.3.2/32 dev vpntunnel0"),
                ),
                (
                    Change::Address("2001:2:0:7::2".parse().unwrap()),
                    "/sbin/ip addr add 2001:2:0:7::2/128 dev vpntunnel0",
                    None,
                ),
                (
                    Change::Mtu(1431),
                    "/sbin/ip link set dev vpntunnel0 mtu 1431",
                    None,
                ),
                (
                    Change::LinkUp,
                    "/sbin/ip link set dev vpntunnel0 up",
                    Some("/sbin/ip link set dev vpntunnel0 down"),
                ),
            ],
        );
    }

    #[test]
    fn a_route_is_always_to_the_network() {
        // Host bits never reach the command line.
        let p: Prefix = "198.19.2.9/24".parse().unwrap();
        let dev: IfName = "vpntunnel0".parse().unwrap();
        let steps = apply(&Linux, &tools(), &dev, &Change::Route(p));
        assert_eq!(
            lines(&steps),
            ["/sbin/ip route add 198.19.2.0/24 dev vpntunnel0"]
        );
    }

    #[test]
    fn ip_path_is_checked_at_start() {
        let t = tools();
        assert_eq!(
            Linux.configured_programs(&t),
            [("ip_path", Path::new("/sbin/ip"))]
        );
    }
}
