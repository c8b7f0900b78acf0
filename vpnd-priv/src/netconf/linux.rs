//! Linux: `ip` and `/proc/sys`.

use super::{Argv, Change, Family, Platform, Step, Tools, common_apply, common_undo, host_prefix};

/// Linux's command lines.
#[derive(Debug, Clone, Copy, Default)]
pub struct Linux;

impl Platform for Linux {
    fn apply(&self, t: &Tools, change: &Change) -> Vec<Step> {
        if let Some(steps) = common_apply(self, t, change) {
            return steps;
        }
        let dev = t.device.as_str();
        let run = |args: &[&str]| vec![Step::Run(Argv::new(&t.ip, args))];
        match change {
            Change::LinkUp => run(&["link", "set", "dev", dev, "up"]),
            Change::Mtu(mtu) => run(&["link", "set", "dev", dev, "mtu", &mtu.to_string()]),
            Change::Route(p) => run(&["route", "add", &p.network().to_string(), "dev", dev]),
            Change::Address(ip) => run(&["addr", "add", &host_prefix(ip), "dev", dev]),
            Change::Forwarding(_) | Change::Resolver { .. } => vec![],
        }
    }

    fn undo(&self, t: &Tools, change: &Change, previous: Option<&str>) -> Vec<Step> {
        if let Some(steps) = common_undo(self, t, change, previous) {
            return steps;
        }
        let dev = t.device.as_str();
        let run = |args: &[&str]| vec![Step::Run(Argv::new(&t.ip, args))];
        match change {
            Change::LinkUp => run(&["link", "set", "dev", dev, "down"]),
            Change::Route(p) => run(&["route", "del", &p.network().to_string(), "dev", dev]),
            Change::Address(ip) => run(&["addr", "del", &host_prefix(ip), "dev", dev]),
            Change::Mtu(_) | Change::Forwarding(_) | Change::Resolver { .. } => vec![],
        }
    }

    fn forwarding_sysctl(&self, family: Family) -> &'static str {
        match family {
            Family::V4 => "/proc/sys/net/ipv4/conf/all/forwarding",
            Family::V6 => "/proc/sys/net/ipv6/conf/all/forwarding",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn tools() -> Tools {
        Tools {
            device: "vpntunnel0".parse().unwrap(),
            ip: PathBuf::from("/sbin/ip"),
            resolvconf: PathBuf::from("/sbin/resolvconf"),
        }
    }

    fn line(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .map(|s| match s {
                Step::Run(a) => a.to_string(),
                Step::SetSysctl { name, value } => format!("{name}={value}"),
            })
            .collect()
    }

    #[test]
    fn commands_use_the_whole_device_name() {
        let t = tools();
        let l = Linux;
        let route = Change::Route("198.19.2.0/24".parse().unwrap());
        assert_eq!(
            line(&l.apply(&t, &route)),
            ["/sbin/ip route add 198.19.2.0/24 dev vpntunnel0"]
        );
        assert_eq!(
            line(&l.undo(&t, &route, None)),
            ["/sbin/ip route del 198.19.2.0/24 dev vpntunnel0"]
        );
        let v6 = Change::Route("2001:2:0:2::/64".parse().unwrap());
        assert_eq!(
            line(&l.apply(&t, &v6)),
            ["/sbin/ip route add 2001:2:0:2::/64 dev vpntunnel0"]
        );
        let addr = Change::Address("198.19.3.2".parse().unwrap());
        assert_eq!(
            line(&l.apply(&t, &addr)),
            ["/sbin/ip addr add 198.19.3.2/32 dev vpntunnel0"]
        );
        assert_eq!(
            line(&l.undo(&t, &addr, None)),
            ["/sbin/ip addr del 198.19.3.2/32 dev vpntunnel0"]
        );
        let addr6 = Change::Address("2001:2:0:7::2".parse().unwrap());
        assert_eq!(
            line(&l.apply(&t, &addr6)),
            ["/sbin/ip addr add 2001:2:0:7::2/128 dev vpntunnel0"]
        );
        assert_eq!(
            line(&l.apply(&t, &Change::Mtu(1431))),
            ["/sbin/ip link set dev vpntunnel0 mtu 1431"]
        );
        assert_eq!(
            line(&l.apply(&t, &Change::LinkUp)),
            ["/sbin/ip link set dev vpntunnel0 up"]
        );
    }

    #[test]
    fn a_route_is_always_to_the_network() {
        // Host bits never reach the command line.
        let p: vpnd_proto::net::Prefix = "198.19.2.9/24".parse().unwrap();
        let steps = Linux.apply(&tools(), &Change::Route(p));
        assert_eq!(
            line(&steps),
            ["/sbin/ip route add 198.19.2.0/24 dev vpntunnel0"]
        );
    }

    #[test]
    fn forwarding_is_restored_to_what_it_was() {
        let t = tools();
        let f = Change::Forwarding(Family::V6);
        assert_eq!(
            line(&Linux.apply(&t, &f)),
            ["/proc/sys/net/ipv6/conf/all/forwarding=1"]
        );
        assert_eq!(
            line(&Linux.undo(&t, &f, Some("1"))),
            ["/proc/sys/net/ipv6/conf/all/forwarding=1"]
        );
        assert_eq!(
            line(&Linux.undo(&t, &f, Some("0"))),
            ["/proc/sys/net/ipv6/conf/all/forwarding=0"]
        );
    }

    #[test]
    fn resolvconf_gets_the_record_on_stdin() {
        let t = tools();
        let r = Change::Resolver {
            nameserver: "198.19.1.53".parse().unwrap(),
            search: Some("vpnd.test".parse().unwrap()),
        };
        let steps = Linux.apply(&t, &r);
        let Step::Run(argv) = &steps[0] else { panic!() };
        assert_eq!(argv.to_string(), "/sbin/resolvconf -a vpntunnel0.vpnd");
        assert_eq!(
            argv.stdin.as_deref(),
            Some("nameserver 198.19.1.53\nsearch vpnd.test\n")
        );
        assert_eq!(
            line(&Linux.undo(&t, &r, None)),
            ["/sbin/resolvconf -d vpntunnel0.vpnd"]
        );
        let bare = Change::Resolver {
            nameserver: "2001:2::53".parse().unwrap(),
            search: None,
        };
        let Step::Run(argv) = &Linux.apply(&t, &bare)[0] else {
            panic!()
        };
        assert_eq!(argv.stdin.as_deref(), Some("nameserver 2001:2::53\n"));
    }
}
