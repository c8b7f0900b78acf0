//! The scripts root configures for a session (`up_script`, `down_script`):
//! the values they are told, as `VPND_*` environment variables, and their
//! command lines. Every value is the parent's own (its configuration, the
//! MTU it set) or one it checked: a host's pushed values as the policy
//! accepted them, the peer's address only when it is one host's.
//! Nothing goes through a shell; vpnd.conf(5) documents the variables.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use vpnd_proto::config::{Role, RoleConfig};
use vpnd_proto::net::{IfName, canonical};
use vpnd_proto::wire::Pushed;

use crate::netconf::{Argv, Direction};

/// A session's values for its scripts, as (variable, value), in a fixed
/// order; the device is added by [`argv`], from the executor's own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HookEnv {
    vars: Vec<(&'static str, String)>,
}

impl HookEnv {
    /// The values of a session in `role` with `peer` (`None` when it is
    /// not one host's address), the tun's `mtu` and, for a host, the
    /// `pushed` values the policy accepted.
    pub fn for_session(
        role: &RoleConfig,
        peer: Option<&SocketAddr>,
        mtu: u16,
        pushed: Option<&Pushed>,
    ) -> HookEnv {
        let name = match role {
            RoleConfig::NetGw { .. } => Role::NetGw,
            RoleConfig::HostGw { .. } => Role::HostGw,
            RoleConfig::Host { .. } => Role::Host,
        };
        let mut vars = vec![
            ("VPND_ROLE", name.as_str().to_owned()),
            ("VPND_MTU", mtu.to_string()),
        ];
        if let Some(peer) = peer {
            vars.push(("VPND_PEER", canonical(peer.ip()).to_string()));
            vars.push(("VPND_PEER_PORT", peer.port().to_string()));
        }
        let mut put = |name: &'static str, value: Option<String>| {
            if let Some(value) = value {
                vars.push((name, value));
            }
        };
        match (role, pushed) {
            (RoleConfig::NetGw { remote_network, .. }, _) => {
                put("VPND_REMOTE_NETWORK", remote_network.map(|n| n.to_string()));
            }
            (
                RoleConfig::HostGw {
                    local_network,
                    host_addr,
                    resolv_addr,
                    resolv_domain,
                },
                _,
            ) => {
                put("VPND_LOCAL_NETWORK", Some(local_network.to_string()));
                put("VPND_REMOTE_ADDRESS", Some(host_addr.addr().to_string()));
                resolver(&mut put, *resolv_addr, resolv_domain.as_ref());
            }
            (RoleConfig::Host { .. }, Some(p)) => {
                put("VPND_LOCAL_ADDRESS", Some(p.host.addr().to_string()));
                put("VPND_REMOTE_NETWORK", Some(p.network.to_string()));
                resolver(&mut put, p.resolver, p.domain.as_ref());
            }
            // The gateway pushed nothing: only what every role has.
            (RoleConfig::Host { .. }, None) => {}
        }
        HookEnv { vars }
    }

    /// The variables for the session on `device`.
    pub fn with_device(&self, device: &IfName) -> Vec<(&'static str, String)> {
        let mut vars = vec![("VPND_DEVICE", device.to_string())];
        vars.extend(self.vars.iter().cloned());
        vars
    }
}

/// The resolver's variables, for the roles that have one.
fn resolver(
    put: &mut impl FnMut(&'static str, Option<String>),
    nameserver: Option<IpAddr>,
    domain: Option<&vpnd_proto::net::ResolvDomain>,
) {
    put("VPND_NAMESERVER", nameserver.map(|a| a.to_string()));
    put("VPND_SEARCH_DOMAIN", domain.map(|d| d.to_string()));
}

/// The command line of `script`: the program alone with `up` or `down`
/// (so that one script can serve both), the session's variables in its
/// environment.
pub fn argv(script: &Path, direction: Direction, env: &HookEnv, device: &IfName) -> Argv {
    let word = match direction {
        Direction::Apply => "up",
        Direction::Undo => "down",
    };
    Argv {
        program: script.to_path_buf(),
        args: vec![word.to_owned()],
        stdin: None,
        env: env.with_device(device),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vpnd_proto::config::{MinPushedPrefix, Remote};

    fn remote() -> Remote {
        Remote {
            host: "198.18.0.2".parse().unwrap(),
            port: 4706,
        }
    }

    /// `env` for `device` as `NAME=value` lines.
    fn lines(env: &HookEnv) -> Vec<String> {
        env.with_device(&"tun7".parse().unwrap())
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect()
    }

    #[test]
    fn a_net_gw_is_told_its_remote_network_and_its_peer() {
        let role = RoleConfig::NetGw {
            remote: remote(),
            remote_network: Some("198.19.2.0/24".parse().unwrap()),
        };
        let peer: SocketAddr = "[::ffff:198.18.0.2]:4706".parse().unwrap();
        assert_eq!(
            lines(&HookEnv::for_session(&role, Some(&peer), 1431, None)),
            [
                "VPND_DEVICE=tun7",
                "VPND_ROLE=net-gw",
                "VPND_MTU=1431",
                "VPND_PEER=198.18.0.2",
                "VPND_PEER_PORT=4706",
                "VPND_REMOTE_NETWORK=198.19.2.0/24",
            ]
        );
        let bare = RoleConfig::NetGw {
            remote: remote(),
            remote_network: None,
        };
        assert_eq!(
            lines(&HookEnv::for_session(&bare, None, 1400, None)),
            ["VPND_DEVICE=tun7", "VPND_ROLE=net-gw", "VPND_MTU=1400"]
        );
    }

    #[test]
    fn a_host_gw_is_told_what_it_pushes_and_its_client() {
        let role = RoleConfig::HostGw {
            local_network: "2001:2:0:1::/64".parse().unwrap(),
            host_addr: "198.19.3.2/24".parse().unwrap(),
            resolv_addr: Some("198.19.1.53".parse().unwrap()),
            resolv_domain: Some("vpnd.test".parse().unwrap()),
        };
        let client: SocketAddr = "[2001:2:0:a::2]:5000".parse().unwrap();
        assert_eq!(
            lines(&HookEnv::for_session(&role, Some(&client), 1411, None)),
            [
                "VPND_DEVICE=tun7",
                "VPND_ROLE=host-gw",
                "VPND_MTU=1411",
                "VPND_PEER=2001:2:0:a::2",
                "VPND_PEER_PORT=5000",
                "VPND_LOCAL_NETWORK=2001:2:0:1::/64",
                "VPND_REMOTE_ADDRESS=198.19.3.2",
                "VPND_NAMESERVER=198.19.1.53",
                "VPND_SEARCH_DOMAIN=vpnd.test",
            ]
        );
    }

    #[test]
    fn a_host_is_told_the_pushed_values_and_nothing_it_was_not_pushed() {
        let role = RoleConfig::Host {
            remote: remote(),
            resolvconf_path: "/sbin/resolvconf".into(),
            min_pushed_prefix: MinPushedPrefix::default(),
        };
        let pushed = Pushed {
            host: "198.19.3.2/24".parse().unwrap(),
            network: "198.19.1.0/24".parse().unwrap(),
            resolver: None,
            domain: None,
        };
        let gateway: SocketAddr = "198.18.1.1:4706".parse().unwrap();
        assert_eq!(
            lines(&HookEnv::for_session(
                &role,
                Some(&gateway),
                1431,
                Some(&pushed)
            )),
            [
                "VPND_DEVICE=tun7",
                "VPND_ROLE=host",
                "VPND_MTU=1431",
                "VPND_PEER=198.18.1.1",
                "VPND_PEER_PORT=4706",
                "VPND_LOCAL_ADDRESS=198.19.3.2",
                "VPND_REMOTE_NETWORK=198.19.1.0/24",
            ]
        );
        assert_eq!(
            lines(&HookEnv::for_session(&role, Some(&gateway), 1431, None)),
            [
                "VPND_DEVICE=tun7",
                "VPND_ROLE=host",
                "VPND_MTU=1431",
                "VPND_PEER=198.18.1.1",
                "VPND_PEER_PORT=4706",
            ]
        );
    }

    #[test]
    fn a_script_runs_alone_with_up_or_down_and_the_variables() {
        let role = RoleConfig::NetGw {
            remote: remote(),
            remote_network: None,
        };
        let env = HookEnv::for_session(&role, None, 1431, None);
        let dev: IfName = "tun7".parse().unwrap();
        let up = argv(Path::new("/etc/vpnd/hook"), Direction::Apply, &env, &dev);
        assert_eq!(up.to_string(), "/etc/vpnd/hook up");
        assert_eq!(up.stdin, None);
        assert_eq!(up.env, env.with_device(&dev));
        let down = argv(Path::new("/etc/vpnd/hook"), Direction::Undo, &env, &dev);
        assert_eq!(down.args, ["down"]);
        assert_eq!(down.env, up.env);
    }
}
