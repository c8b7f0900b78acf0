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
use std::path::PathBuf;

use vpnd_proto::net::{IfName, Prefix, ResolvDomain};

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
}

impl Argv {
    fn new(program: impl Into<PathBuf>, args: &[&str]) -> Argv {
        Argv {
            program: program.into(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            stdin: None,
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

/// Where the tools are and which tun is ours: the parent's own facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tools {
    /// The tun device.
    pub device: IfName,
    /// `ip` (Linux).
    pub ip: PathBuf,
    /// `resolvconf`.
    pub resolvconf: PathBuf,
}

/// A platform's command lines.
pub trait Platform {
    /// The steps that make `change`.
    fn apply(&self, tools: &Tools, change: &Change) -> Vec<Step>;
    /// The steps that undo `change`; `previous` is the sysctl value read
    /// before a forwarding change.
    fn undo(&self, tools: &Tools, change: &Change, previous: Option<&str>) -> Vec<Step>;
    /// The sysctl that holds a family's forwarding switch.
    fn forwarding_sysctl(&self, family: Family) -> &'static str;
}

/// The resolvconf record name: the tun's name with openresolv's protocol
/// tag, understood by systemd's resolvconf too (PROTOCOL.md).
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

/// The steps every platform shares: forwarding through its sysctl, and
/// resolvconf. `None` for the changes each platform makes its own way.
fn common_apply(p: &impl Platform, t: &Tools, change: &Change) -> Option<Vec<Step>> {
    match change {
        Change::Forwarding(f) => Some(vec![Step::SetSysctl {
            name: p.forwarding_sysctl(*f).to_owned(),
            value: "1".to_owned(),
        }]),
        Change::Resolver { nameserver, search } => {
            let mut argv = Argv::new(&t.resolvconf, &["-a", &resolver_record(&t.device)]);
            argv.stdin = Some(resolver_text(nameserver, search.as_ref()));
            Some(vec![Step::Run(argv)])
        }
        _ => None,
    }
}

/// The undoing counterpart of [`common_apply`].
fn common_undo(
    p: &impl Platform,
    t: &Tools,
    change: &Change,
    previous: Option<&str>,
) -> Option<Vec<Step>> {
    match change {
        Change::Forwarding(f) => Some(vec![Step::SetSysctl {
            name: p.forwarding_sysctl(*f).to_owned(),
            value: previous.unwrap_or("0").to_owned(),
        }]),
        Change::Resolver { .. } => Some(vec![Step::Run(Argv::new(
            &t.resolvconf,
            &["-d", &resolver_record(&t.device)],
        ))]),
        // The tun goes away with vpnd; its MTU needs no undoing.
        Change::Mtu(_) => Some(vec![]),
        _ => None,
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
