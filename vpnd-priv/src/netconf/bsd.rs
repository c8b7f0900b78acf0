//! FreeBSD, DragonFly and NetBSD: `ifconfig`, `route` and `sysctl`.

use super::{Argv, Change, Family, Platform, Step, Tools, common_apply, common_undo};
use std::net::IpAddr;

const IFCONFIG: &str = "/sbin/ifconfig";
const ROUTE: &str = "/sbin/route";

/// The BSDs' command lines. NetBSD's `route` wants `-link` before
/// `-interface`.
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

    fn route(&self, verb: &str, prefix: &vpnd_proto::net::Prefix, dev: &str) -> Step {
        let net = prefix.network().to_string();
        let family = if prefix.addr().is_ipv4() {
            "-inet"
        } else {
            "-inet6"
        };
        let mut args = vec!["-q", verb, family, "-net", &net];
        if self.netbsd {
            args.push("-link");
        }
        args.extend(["-interface", dev]);
        Step::Run(Argv::new(ROUTE, &args))
    }
}

/// `ifconfig` for a host address on a point-to-point tun: the address is
/// its own destination (the deployed peer used a fixed private address
/// there).
fn ifconfig_address(ip: &IpAddr, dev: &str, add: bool) -> Step {
    let a = ip.to_string();
    let alias = if add { "alias" } else { "-alias" };
    let args: Vec<&str> = match ip {
        IpAddr::V4(_) => vec![dev, "inet", &a, &a, alias],
        IpAddr::V6(_) => vec![dev, "inet6", &a, "prefixlen", "128", alias],
    };
    Step::Run(Argv::new(IFCONFIG, &args))
}

impl Platform for Bsd {
    fn apply(&self, t: &Tools, change: &Change) -> Vec<Step> {
        if let Some(steps) = common_apply(self, t, change) {
            return steps;
        }
        let dev = t.device.as_str();
        match change {
            Change::LinkUp => vec![Step::Run(Argv::new(IFCONFIG, &[dev, "up"]))],
            Change::Mtu(mtu) => vec![Step::Run(Argv::new(
                IFCONFIG,
                &[dev, "mtu", &mtu.to_string()],
            ))],
            Change::Route(p) => vec![self.route("add", p, dev)],
            Change::Address(ip) => vec![ifconfig_address(ip, dev, true)],
            Change::Forwarding(_) | Change::Resolver { .. } => vec![],
        }
    }

    fn undo(&self, t: &Tools, change: &Change, previous: Option<&str>) -> Vec<Step> {
        if let Some(steps) = common_undo(self, t, change, previous) {
            return steps;
        }
        let dev = t.device.as_str();
        match change {
            Change::LinkUp => vec![Step::Run(Argv::new(IFCONFIG, &[dev, "down"]))],
            Change::Route(p) => vec![self.route("delete", p, dev)],
            Change::Address(ip) => vec![ifconfig_address(ip, dev, false)],
            Change::Mtu(_) | Change::Forwarding(_) | Change::Resolver { .. } => vec![],
        }
    }

    fn forwarding_sysctl(&self, family: Family) -> &'static str {
        match family {
            Family::V4 => "net.inet.ip.forwarding",
            Family::V6 => "net.inet6.ip6.forwarding",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn tools() -> Tools {
        Tools {
            device: "tun3".parse().unwrap(),
            ip: PathBuf::from("/sbin/ip"),
            resolvconf: PathBuf::from("/sbin/resolvconf"),
        }
    }

    fn runs(steps: Vec<Step>) -> Vec<String> {
        steps
            .into_iter()
            .map(|s| match s {
                Step::Run(a) => a.to_string(),
                Step::SetSysctl { name, value } => format!("{name}={value}"),
            })
            .collect()
    }

    #[test]
    fn freebsd_and_netbsd_routes() {
        let t = tools();
        let r = Change::Route("198.19.2.0/24".parse().unwrap());
        assert_eq!(
            runs(Bsd { netbsd: false }.apply(&t, &r)),
            ["/sbin/route -q add -inet -net 198.19.2.0/24 -interface tun3"]
        );
        assert_eq!(
            runs(Bsd { netbsd: true }.undo(&t, &r, None)),
            ["/sbin/route -q delete -inet -net 198.19.2.0/24 -link -interface tun3"]
        );
        let r6 = Change::Route("2001:2:0:2::/64".parse().unwrap());
        assert_eq!(
            runs(Bsd::default().apply(&t, &r6)),
            ["/sbin/route -q add -inet6 -net 2001:2:0:2::/64 -interface tun3"]
        );
    }

    #[test]
    fn addresses_mtu_and_forwarding() {
        let t = tools();
        let b = Bsd::default();
        let a = Change::Address("198.19.3.2".parse().unwrap());
        assert_eq!(
            runs(b.apply(&t, &a)),
            ["/sbin/ifconfig tun3 inet 198.19.3.2 198.19.3.2 alias"]
        );
        assert_eq!(
            runs(b.undo(&t, &a, None)),
            ["/sbin/ifconfig tun3 inet 198.19.3.2 198.19.3.2 -alias"]
        );
        let a6 = Change::Address("2001:2:0:7::2".parse().unwrap());
        assert_eq!(
            runs(b.apply(&t, &a6)),
            ["/sbin/ifconfig tun3 inet6 2001:2:0:7::2 prefixlen 128 alias"]
        );
        assert_eq!(
            runs(b.apply(&t, &Change::Mtu(1411))),
            ["/sbin/ifconfig tun3 mtu 1411"]
        );
        let f = Change::Forwarding(Family::V4);
        assert_eq!(runs(b.apply(&t, &f)), ["net.inet.ip.forwarding=1"]);
        assert_eq!(
            runs(b.undo(&t, &f, Some("0"))),
            ["net.inet.ip.forwarding=0"]
        );
    }
}
