//! The configuration: the model of `vpnd.conf`, its parser and its printer.
//!
//! Pure: the parser takes the file's text (the parent reads the file), so
//! every rule is tested without touching a disk.

pub mod defaults;
mod error;
mod instance;
mod parse;
mod print;
mod values;

use std::net::IpAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use vpnd_crypto::{PublicKey, SecretKey};

pub use error::{ConfigError, ConfigErrors};
pub use instance::{
    Derived, InstanceDirs, InstanceName, InstanceNameError, device_name, instance_of,
};
pub use parse::{
    MAX_SOCKET_PATH, PARAMS as PARAMETERS, parse, parse_in, parse_stats_path, parse_stats_path_in,
};
pub use print::Secrets;
pub use values::{
    GroupName, GroupNameError, RemoteHost, RemoteHostError, StatsPrefix, StatsPrefixError,
    UserName, UserNameError,
};

use crate::net::{IfName, Prefix, ResolvDomain};

/// The three roles (doc/protocol.md "Roles").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    /// One of two site gateways.
    NetGw,
    /// The gateway of one roaming client.
    HostGw,
    /// The roaming client.
    Host,
}

impl Role {
    /// The name in the configuration file.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::NetGw => "net-gw",
            Role::HostGw => "host-gw",
            Role::Host => "host",
        }
    }
}

/// The peer's address as configured: a name or a literal, and a port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remote {
    /// `remote_host`.
    pub host: RemoteHost,
    /// `remote_port`.
    pub port: u16,
}

/// `min_pushed_prefix_v4` and `min_pushed_prefix_v6`: the shortest prefix
/// (the widest network) a host routes into the tunnel when its gateway
/// pushes it. A wider push is refused: a gateway must not take over the
/// host's traffic beyond its own site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinPushedPrefix {
    /// For an IPv4 network.
    pub v4: u8,
    /// For an IPv6 network.
    pub v6: u8,
}

impl Default for MinPushedPrefix {
    fn default() -> Self {
        MinPushedPrefix {
            v4: defaults::MIN_PUSHED_PREFIX_V4,
            v6: defaults::MIN_PUSHED_PREFIX_V6,
        }
    }
}

impl MinPushedPrefix {
    /// The minimum for a network of `addr`'s family, and the parameter
    /// that sets it.
    pub const fn for_family(&self, addr: &IpAddr) -> (u8, &'static str) {
        match addr {
            IpAddr::V4(_) => (self.v4, "min_pushed_prefix_v4"),
            IpAddr::V6(_) => (self.v6, "min_pushed_prefix_v6"),
        }
    }
}

/// The settings that exist only for one role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RoleConfig {
    /// `role: net-gw`.
    NetGw {
        /// `remote_host`, `remote_port`.
        remote: Remote,
        /// `remote_network`: routed through the tun while the session is up.
        remote_network: Option<Prefix>,
    },
    /// `role: host-gw`.
    HostGw {
        /// `local_network`: pushed to the client as its route.
        local_network: Prefix,
        /// `host_addr`: the client's address and prefix.
        host_addr: Prefix,
        /// `resolv_addr`: the resolver pushed to the client.
        resolv_addr: Option<IpAddr>,
        /// `resolv_domain`: the search domain pushed to the client.
        resolv_domain: Option<ResolvDomain>,
    },
    /// `role: host`.
    Host {
        /// `remote_host`, `remote_port`.
        remote: Remote,
        /// `resolvconf_path`.
        resolvconf_path: PathBuf,
        /// `min_pushed_prefix_v4`, `min_pushed_prefix_v6`.
        min_pushed_prefix: MinPushedPrefix,
    },
}

/// A whole, valid configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// `role` and the settings only it has.
    pub role: RoleConfig,
    /// `device`: the tun interface.
    pub device: IfName,
    /// `stats_prefix`: `None` means the host name, followed by
    /// `.NAME` for a named instance (the parent fills it in).
    pub stats_prefix: Option<StatsPrefix>,
    /// The instance the file's name gives (`None` for `vpnd.conf`, and for
    /// a name that is no instance name when nothing follows from it).
    pub instance: Option<InstanceName>,
    /// `local_sk`.
    pub local_sk: SecretKey,
    /// `local_port`.
    pub local_port: u16,
    /// `remote_pk`.
    pub remote_pk: PublicKey,
    /// `ip_path` (Linux).
    pub ip_path: PathBuf,
    /// `max_key_age`, seconds.
    pub max_key_age: u32,
    /// `max_key_packets`.
    pub max_key_packets: u32,
    /// `nonce_reset_incr`, datagrams.
    pub nonce_reset_incr: u32,
    /// `local_nonce_file`.
    pub local_nonce_file: PathBuf,
    /// `remote_nonce_file`.
    pub remote_nonce_file: PathBuf,
    /// `user`: the unprivileged user of the network process.
    pub user: UserName,
    /// `chroot_dir`: the network process's empty root.
    pub chroot_dir: PathBuf,
    /// `stats_path`: the Graphite unix socket.
    pub stats_path: PathBuf,
    /// `stats_group`: the group that may connect to it; `None` means
    /// root's.
    pub stats_group: Option<GroupName>,
    /// `pid_file`.
    pub pid_file: PathBuf,
    /// `mtu`: `None` means from the peer's address family.
    pub mtu: Option<u16>,
    /// `up_script`: run by the parent once a session's network is
    /// configured.
    pub up_script: Option<PathBuf>,
    /// `down_script`: run by the parent before a session's network is
    /// undone.
    pub down_script: Option<PathBuf>,
    /// `up_script_required`: a failing `up_script` rolls the session's
    /// network back instead of being logged only.
    pub up_script_required: bool,
}

impl Config {
    /// The role.
    pub fn role(&self) -> Role {
        match self.role {
            RoleConfig::NetGw { .. } => Role::NetGw,
            RoleConfig::HostGw { .. } => Role::HostGw,
            RoleConfig::Host { .. } => Role::Host,
        }
    }

    /// The configured peer, for the roles that have one.
    pub fn remote(&self) -> Option<&Remote> {
        match &self.role {
            RoleConfig::NetGw { remote, .. } | RoleConfig::Host { remote, .. } => Some(remote),
            RoleConfig::HostGw { .. } => None,
        }
    }
}
