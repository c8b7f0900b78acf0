//! What the parent changes in the network, as values, and the command
//! lines that make and undo each change on each platform.
//!
//! The builders are pure functions, compiled and tested on every platform;
//! `exec` (with the daemon) is the only place that runs them. Nothing here
//! goes through a shell: every argument is one vector element.

mod bsd;
mod linux;

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use vpnd_proto::net::{IfName, Prefix, ResolvDomain};

use crate::hooks::{self, HookEnv};

pub use bsd::Bsd;
pub use linux::Linux;

/// An address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl Family {
    /// The family of `ip`.
    pub fn of(ip: &IpAddr) -> Family {
        if ip.is_ipv4() { Family::V4 } else { Family::V6 }
    }
}

/// One change to the network configuration.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Change {
    /// The tun is up (at start, while vpnd runs).
    LinkUp,
    /// The tun's MTU.
    Mtu(u16),
    /// A route to a network through the tun.
    Route(Prefix),
    /// An address on the tun, as a host address (/32 or /128).
    Address(IpAddr),
    /// IP forwarding for a family switched on.
    Forwarding(Family),
    /// A resolver record for the tun.
    Resolver {
        /// The `nameserver` line.
        nameserver: IpAddr,
        /// The `search` line.
        search: Option<ResolvDomain>,
    },
    /// The session's scripts: `up_script` makes it, `down_script` undoes
    /// it, each with this environment. Last in a session's plan, so that
    /// `up_script` sees the network configured and `down_script`, undone
    /// first, still sees it.
    Scripts(HookEnv),
}

/// A program and its arguments, and what goes to its standard input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Argv {
    /// The program, an absolute path.
    pub program: PathBuf,
    /// The arguments.
    pub args: Vec<String>,
    /// Standard input (resolvconf's record).
    pub stdin: Option<String>,
    /// Environment variables besides `PATH` (a script's `VPND_*`).
    pub env: Vec<(&'static str, String)>,
}

impl Argv {
    fn new(program: impl Into<PathBuf>, args: &[&str]) -> Argv {
        Argv {
            program: program.into(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            stdin: None,
            env: Vec::new(),
        }
    }
}

impl fmt::Display for Argv {
    /// The command as a log line (arguments never hold spaces).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.program.display())?;
        for a in &self.args {
            write!(f, " {a}")?;
        }
        Ok(())
    }
}

/// How a change is made or undone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Run a command.
    Run(Argv),
    /// Write a value to a sysctl (Linux: a `/proc/sys` file).
    SetSysctl {
        /// The sysctl's name or `/proc/sys` path.
        name: String,
        /// The value.
        value: String,
    },
}

/// Where the programs are that the changes run: the parent's own facts,
/// from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tools {
    /// `ip`, which only Linux's command lines run.
    pub ip: PathBuf,
    /// `resolvconf`, on every platform.
    pub resolvconf: PathBuf,
    /// `up_script`.
    pub up_script: Option<PathBuf>,
    /// `down_script`.
    pub down_script: Option<PathBuf>,
}

impl Tools {
    /// The scripts configured, each with its parameter: checked at start
    /// like the programs of [`Platform::configured_programs`].
    pub fn scripts(&self) -> Vec<(&'static str, &Path)> {
        [
            ("up_script", self.up_script.as_deref()),
            ("down_script", self.down_script.as_deref()),
        ]
        .into_iter()
        .filter_map(|(parameter, path)| Some((parameter, path?)))
        .collect()
    }
}

/// Which way a primitive goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Make the change: link up, route or address added.
    Apply,
    /// Take it back: link down, route or address deleted.
    Undo,
}

/// A platform's command lines for the primitives every change is made of;
/// [`apply`] and [`undo`] choose among them.
pub trait Platform {
    /// The tun up ([`Direction::Apply`]) or down.
    fn link(&self, tools: &Tools, device: &IfName, direction: Direction) -> Argv;
    /// The tun's MTU.
    fn mtu(&self, tools: &Tools, device: &IfName, mtu: u16) -> Argv;
    /// A route to `prefix`'s network through the tun, added or deleted.
    fn route(&self, tools: &Tools, device: &IfName, prefix: &Prefix, direction: Direction) -> Argv;
    /// A host address on the tun, added or deleted.
    fn address(&self, tools: &Tools, device: &IfName, ip: &IpAddr, direction: Direction) -> Argv;
    /// The sysctl that holds a family's forwarding switch.
    fn forwarding_sysctl(&self, family: Family) -> &'static str;
    /// The configured programs these command lines run, each with the
    /// configuration parameter that names it: checked at start, so that a
    /// wrong path fails there and not at the first network change.
    fn configured_programs<'t>(&self, tools: &'t Tools) -> Vec<(&'static str, &'t Path)>;
}

/// The steps that make `change` on `device`.
pub fn apply(p: &impl Platform, tools: &Tools, device: &IfName, change: &Change) -> Vec<Step> {
    let step = match change {
        Change::LinkUp => Step::Run(p.link(tools, device, Direction::Apply)),
        Change::Mtu(mtu) => Step::Run(p.mtu(tools, device, *mtu)),
        Change::Route(prefix) => Step::Run(p.route(tools, device, prefix, Direction::Apply)),
        Change::Address(ip) => Step::Run(p.address(tools, device, ip, Direction::Apply)),
        Change::Forwarding(family) => Step::SetSysctl {
            name: p.forwarding_sysctl(*family).to_owned(),
            value: "1".to_owned(),
        },
        Change::Resolver { nameserver, search } => {
            let mut argv = Argv::new(&tools.resolvconf, &["-a", &resolver_record(device)]);
            argv.stdin = Some(resolver_text(nameserver, search.as_ref()));
            Step::Run(argv)
        }
        Change::Scripts(env) => {
            return script(tools.up_script.as_deref(), Direction::Apply, env, device);
        }
    };
    vec![step]
}

/// The steps that undo `change` on `device`; `previous` is the value a
/// forwarding sysctl gets back (off when there is none).
pub fn undo(
    p: &impl Platform,
    tools: &Tools,
    device: &IfName,
    change: &Change,
    previous: Option<&str>,
) -> Vec<Step> {
    let step = match change {
        Change::LinkUp => Step::Run(p.link(tools, device, Direction::Undo)),
        // The tun goes away with vpnd; its MTU needs no undoing.
        Change::Mtu(_) => return vec![],
        Change::Route(prefix) => Step::Run(p.route(tools, device, prefix, Direction::Undo)),
        Change::Address(ip) => Step::Run(p.address(tools, device, ip, Direction::Undo)),
        Change::Forwarding(family) => Step::SetSysctl {
            name: p.forwarding_sysctl(*family).to_owned(),
            value: previous.unwrap_or("0").to_owned(),
        },
        Change::Resolver { .. } => Step::Run(Argv::new(
            &tools.resolvconf,
            &["-d", &resolver_record(device)],
        )),
        Change::Scripts(env) => {
            return script(tools.down_script.as_deref(), Direction::Undo, env, device);
        }
    };
    vec![step]
}

/// The step that runs `script`, if one is configured.
fn script(
    script: Option<&Path>,
    direction: Direction,
    env: &HookEnv,
    device: &IfName,
) -> Vec<Step> {
    script
        .map(|s| Step::Run(hooks::argv(s, direction, env, device)))
        .into_iter()
        .collect()
}

/// The resolvconf record name: the tun's name with openresolv's protocol
/// tag, understood by systemd's resolvconf too (doc/protocol.md).
pub fn resolver_record(device: &IfName) -> String {
    format!("{device}.vpnd")
}

/// The record's text: `nameserver` and, with a domain, `search`.
pub fn resolver_text(nameserver: &IpAddr, search: Option<&ResolvDomain>) -> String {
    match search {
        Some(d) => format!("nameserver {nameserver}\nsearch {d}\n"),
        None => format!("nameserver {nameserver}\n"),
    }
}

/// A host address as a prefix of full length.
pub fn host_prefix(ip: &IpAddr) -> String {
    match ip {
        IpAddr::V4(a) => format!("{a}/32"),
        IpAddr::V6(a) => format!("{a}/128"),
    }
}

/// This build's platform.
#[cfg(target_os = "linux")]
pub fn platform() -> impl Platform {
    Linux
}

/// This build's platform.
#[cfg(not(target_os = "linux"))]
pub fn platform() -> impl Platform {
    Bsd::native()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each step as one line: a command as it is logged, a sysctl as
    /// `name=value`.
    pub(super) fn lines(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .map(|s| match s {
                Step::Run(a) => a.to_string(),
                Step::SetSysctl { name, value } => format!("{name}={value}"),
            })
            .collect()
    }

    /// Checks a table of (change, what applying it runs, what undoing it
    /// runs; `None`: not checked) for platform `p` on `device`.
    pub(super) fn assert_commands(
        p: &impl Platform,
        device: &str,
        table: &[(Change, &str, Option<&str>)],
    ) {
        let (t, dev): (Tools, IfName) = (tools(), device.parse().unwrap());
        for (change, applied, undone) in table {
            assert_eq!(lines(&apply(p, &t, &dev, change)), [*applied], "{change:?}");
            if let Some(undone) = undone {
                assert_eq!(
                    lines(&undo(p, &t, &dev, change, None)),
                    [*undone],
                    "{change:?}"
                );
            }
        }
    }

    /// The programs where Debian has them.
    pub(super) fn tools() -> Tools {
        Tools {
            ip: PathBuf::from("/sbin/ip"),
            resolvconf: PathBuf::from("/sbin/resolvconf"),
            up_script: None,
            down_script: None,
        }
    }

    #[test]
    fn resolvconf_gets_the_record_on_stdin_on_every_platform() {
        let t = tools();
        let dev: IfName = "vpntunnel0".parse().unwrap();
        let r = Change::Resolver {
            nameserver: "198.19.1.53".parse().unwrap(),
            search: Some("vpnd.test".parse().unwrap()),
        };
        for steps in [
            apply(&Linux, &t, &dev, &r),
            apply(&Bsd::default(), &t, &dev, &r),
        ] {
            let [Step::Run(argv)] = &steps[..] else {
                panic!("{steps:?}")
            };
            assert_eq!(argv.to_string(), "/sbin/resolvconf -a vpntunnel0.vpnd");
            assert_eq!(
                argv.stdin.as_deref(),
                Some("nameserver 198.19.1.53\nsearch vpnd.test\n")
            );
        }
        assert_eq!(
            lines(&undo(&Linux, &t, &dev, &r, None)),
            ["/sbin/resolvconf -d vpntunnel0.vpnd"]
        );
        let bare = Change::Resolver {
            nameserver: "2001:2::53".parse().unwrap(),
            search: None,
        };
        let [Step::Run(argv)] = &apply(&Linux, &t, &dev, &bare)[..] else {
            panic!()
        };
        assert_eq!(argv.stdin.as_deref(), Some("nameserver 2001:2::53\n"));
    }

    #[test]
    fn forwarding_is_restored_to_what_it_was() {
        let (t, dev): (Tools, IfName) = (tools(), "tun3".parse().unwrap());
        let f = Change::Forwarding(Family::V6);
        assert_eq!(
            lines(&apply(&Linux, &t, &dev, &f)),
            ["/proc/sys/net/ipv6/conf/all/forwarding=1"]
        );
        assert_eq!(
            lines(&undo(&Linux, &t, &dev, &f, Some("1"))),
            ["/proc/sys/net/ipv6/conf/all/forwarding=1"]
        );
        assert_eq!(
            lines(&undo(&Linux, &t, &dev, &f, Some("0"))),
            ["/proc/sys/net/ipv6/conf/all/forwarding=0"]
        );
        let f4 = Change::Forwarding(Family::V4);
        assert_eq!(
            lines(&apply(&Bsd::default(), &t, &dev, &f4)),
            ["net.inet.ip.forwarding=1"]
        );
        assert_eq!(
            lines(&undo(&Bsd::default(), &t, &dev, &f4, Some("0"))),
            ["net.inet.ip.forwarding=0"]
        );
    }

    #[test]
    fn scripts_run_on_apply_and_undo_only_when_configured() {
        let dev: IfName = "tun3".parse().unwrap();
        let role = vpnd_proto::config::RoleConfig::NetGw {
            remote: vpnd_proto::config::Remote {
                host: "198.18.0.2".parse().unwrap(),
                port: 4706,
            },
            remote_network: None,
        };
        let change = Change::Scripts(HookEnv::for_session(&role, None, 1431, None));
        let none = tools();
        assert!(apply(&Linux, &none, &dev, &change).is_empty());
        assert!(undo(&Linux, &none, &dev, &change, None).is_empty());
        assert!(none.scripts().is_empty());
        let both = Tools {
            up_script: Some("/etc/vpnd/up".into()),
            down_script: Some("/etc/vpnd/down".into()),
            ..tools()
        };
        for (applied, undone) in [
            (
                apply(&Linux, &both, &dev, &change),
                undo(&Linux, &both, &dev, &change, None),
            ),
            (
                apply(&Bsd::default(), &both, &dev, &change),
                undo(&Bsd::default(), &both, &dev, &change, None),
            ),
        ] {
            assert_eq!(lines(&applied), ["/etc/vpnd/up up"]);
            assert_eq!(lines(&undone), ["/etc/vpnd/down down"]);
        }
        let [Step::Run(argv)] = &apply(&Linux, &both, &dev, &change)[..] else {
            panic!()
        };
        assert!(
            argv.env.contains(&("VPND_DEVICE", "tun3".to_owned())),
            "{argv:?}"
        );
        assert_eq!(
            both.scripts(),
            [
                ("up_script", Path::new("/etc/vpnd/up")),
                ("down_script", Path::new("/etc/vpnd/down"))
            ]
        );
    }

    #[test]
    fn an_mtu_is_never_undone() {
        let (t, dev): (Tools, IfName) = (tools(), "tun3".parse().unwrap());
        assert!(undo(&Linux, &t, &dev, &Change::Mtu(1400), None).is_empty());
        assert!(undo(&Bsd::default(), &t, &dev, &Change::Mtu(1400), None).is_empty());
    }
}
