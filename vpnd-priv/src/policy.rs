//! Which request from the network process is granted, refused or fatal:
//! a pure function of the request, the parent's own facts and the state of
//! the conversation (OpenSSH's monitor table, as a match).
//!
//! - `Apply`: a well-formed request in its state with acceptable values;
//!   the plan uses only the parent's own nouns (its device, its networks,
//!   its nonce paths) and, for role host, the pushed values re-checked here.
//! - `Refuse`: well-formed and in state, with a value the parent does not
//!   accept (a pushed route that would swallow the gateway itself): logged,
//!   answered, counted; a peer must not be able to stop the daemon.
//! - `Abort`: what a correct child never sends: a wrong version, a request
//!   out of state, pushed values for a role that has none, a local nonce
//!   that goes backwards. The parent kills the child and undoes everything.

use std::net::{IpAddr, SocketAddr};

use vpnd_proto::config::{Role, RoleConfig};
use vpnd_proto::ipc::{IPC_VERSION, NonceSlot, ToParent};
use vpnd_proto::wire::Pushed;

use crate::netconf::{Change, Family};

/// The tun MTU that lets a 1500-byte-path datagram carry a full inner
/// packet unfragmented (PROTOCOL.md, W21): 1500 - 20 (IPv4) - 8 (UDP) - 41.
pub const MTU_IPV4_PEER: u16 = 1431;
/// The same over IPv6 (40-byte header).
pub const MTU_IPV6_PEER: u16 = 1411;

/// The parent's own facts: its configuration, never the child's word.
#[derive(Debug, Clone)]
pub struct Facts {
    /// The role and its settings.
    pub role: RoleConfig,
    /// `mtu` from the configuration.
    pub mtu: Option<u16>,
}

/// Where the conversation stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// `Hello` was received.
    pub greeted: bool,
    /// `NetworkUp` was applied and not yet undone.
    pub network_up: bool,
    /// The last local nonce written.
    pub local_nonce: Option<[u8; 24]>,
    /// The last remote nonce written.
    pub remote_nonce: Option<[u8; 24]>,
}

/// What to do for a granted request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The child is ours: carry on.
    Greet,
    /// Make these changes, in order (undone in reverse when the session
    /// ends or vpnd exits).
    Configure(Vec<Change>),
    /// Undo the session's changes.
    Unconfigure,
    /// Write a nonce file.
    Persist {
        /// Which.
        slot: NonceSlot,
        /// What.
        nonce: [u8; 24],
    },
}

/// A request the child must never send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    /// The first message was not `Hello`.
    #[error("request before Hello")]
    BeforeHello,
    /// A second `Hello`, or one with another version.
    #[error("Hello out of place (version {0})")]
    Hello(u32),
    /// `NetworkUp` while the network is up.
    #[error("NetworkUp while the network is up")]
    NetworkUpTwice,
    /// `NetworkDown` while it is down.
    #[error("NetworkDown while the network is down")]
    NetworkDownTwice,
    /// Pushed values for a role that does not take any.
    #[error("pushed values in role {0}")]
    PushedForRole(&'static str),
    /// A nonce file value below the last one written.
    #[error("{0:?} nonce going backwards")]
    NonceBackwards(NonceSlot),
}

/// The verdict on one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Grant it.
    Apply(Action),
    /// Refuse it, with the reason to log and answer.
    Refuse(String),
    /// Stop the child.
    Abort(Violation),
}

/// Judges `request`.
pub fn admit(request: &ToParent, facts: &Facts, state: &State) -> Verdict {
    match request {
        ToParent::Hello { version } => {
            if state.greeted || *version != IPC_VERSION {
                Verdict::Abort(Violation::Hello(*version))
            } else {
                Verdict::Apply(Action::Greet)
            }
        }
        _ if !state.greeted => Verdict::Abort(Violation::BeforeHello),
        ToParent::NetworkUp { .. } if state.network_up => Verdict::Abort(Violation::NetworkUpTwice),
        ToParent::NetworkUp { peer, pushed } => network_up(facts, peer, pushed.as_ref()),
        ToParent::NetworkDown if !state.network_up => Verdict::Abort(Violation::NetworkDownTwice),
        ToParent::NetworkDown => Verdict::Apply(Action::Unconfigure),
        ToParent::PersistNonce { slot, nonce } => {
            let last = match slot {
                NonceSlot::Local => state.local_nonce,
                NonceSlot::Remote => state.remote_nonce,
            };
            // Nonces compare as little-endian integers.
            let backwards = last.is_some_and(|l| nonce.iter().rev().lt(l.iter().rev()));
            match (backwards, slot) {
                (true, NonceSlot::Local) => Verdict::Abort(Violation::NonceBackwards(*slot)),
                (true, NonceSlot::Remote) => {
                    Verdict::Refuse("remote nonce below the one on disk".to_owned())
                }
                (false, _) => Verdict::Apply(Action::Persist {
                    slot: *slot,
                    nonce: *nonce,
                }),
            }
        }
    }
}

impl State {
    /// Moves the conversation on after `action` was carried out.
    pub fn advance(&mut self, action: &Action) {
        match action {
            Action::Greet => self.greeted = true,
            Action::Configure(_) => self.network_up = true,
            Action::Unconfigure => self.network_up = false,
            Action::Persist {
                slot: NonceSlot::Local,
                nonce,
            } => self.local_nonce = Some(*nonce),
            Action::Persist {
                slot: NonceSlot::Remote,
                nonce,
            } => self.remote_nonce = Some(*nonce),
        }
    }
}

impl State {
    /// Moves the conversation on after `request` was refused: a refused
    /// `NetworkUp` still opens the session, whose `NetworkDown` follows
    /// (and then undoes nothing).
    pub fn note_refused(&mut self, request: &ToParent) {
        if let ToParent::NetworkUp { .. } = request {
            self.network_up = true;
        }
    }
}

/// The tun MTU for a peer at `peer`, unless configured.
pub fn mtu_for(peer: &SocketAddr, configured: Option<u16>) -> u16 {
    configured.unwrap_or(match peer.ip() {
        IpAddr::V4(_) => MTU_IPV4_PEER,
        IpAddr::V6(a) if a.to_ipv4_mapped().is_some() => MTU_IPV4_PEER,
        IpAddr::V6(_) => MTU_IPV6_PEER,
    })
}

/// The warning a configured `mtu` deserves when a full inner packet no
/// longer fits a 1500-byte path in one datagram (the kernel then fragments
/// the outer datagrams). `peer` unknown: judged as for an IPv4 peer.
pub fn mtu_warning(peer: Option<&SocketAddr>, configured: Option<u16>) -> Option<String> {
    let mtu = configured?;
    let fits = match peer {
        Some(p) => mtu_for(p, None),
        None => MTU_IPV4_PEER,
    };
    (mtu > fits).then(|| {
        let largest = usize::from(mtu) + 1500 - usize::from(fits);
        format!(
            "mtu {mtu}: datagrams of up to {largest} bytes exceed a 1500-byte path and are fragmented by the kernel (mtu {fits} or less avoids it)"
        )
    })
}

fn forwarding_for(prefixes: &[&vpnd_proto::net::Prefix]) -> Vec<Change> {
    let mut families: Vec<Family> = prefixes.iter().map(|p| Family::of(&p.addr())).collect();
    families.sort_by_key(|f| *f == Family::V6);
    families.dedup();
    families.into_iter().map(Change::Forwarding).collect()
}

fn network_up(facts: &Facts, peer: &SocketAddr, pushed: Option<&Pushed>) -> Verdict {
    let mut plan = vec![Change::Mtu(mtu_for(peer, facts.mtu))];
    match (&facts.role, pushed) {
        (RoleConfig::NetGw { .. }, Some(_)) => {
            Verdict::Abort(Violation::PushedForRole(Role::NetGw.as_str()))
        }
        (RoleConfig::HostGw { .. }, Some(_)) => {
            Verdict::Abort(Violation::PushedForRole(Role::HostGw.as_str()))
        }
        (RoleConfig::NetGw { remote_network, .. }, None) => {
            plan.extend([
                Change::Forwarding(Family::V4),
                Change::Forwarding(Family::V6),
            ]);
            plan.extend(remote_network.map(Change::Route));
            Verdict::Apply(Action::Configure(plan))
        }
        (
            RoleConfig::HostGw {
                local_network,
                host_addr,
                ..
            },
            None,
        ) => {
            plan.extend(forwarding_for(&[local_network, host_addr]));
            let host = vpnd_proto::net::Prefix::new(
                host_addr.addr(),
                if host_addr.addr().is_ipv4() { 32 } else { 128 },
            );
            match host {
                Ok(h) => plan.push(Change::Route(h)),
                Err(e) => return Verdict::Refuse(format!("host_addr: {e}")),
            }
            Verdict::Apply(Action::Configure(plan))
        }
        // The gateway pushed nothing (or the child refused it): only the MTU.
        (RoleConfig::Host { .. }, None) => Verdict::Apply(Action::Configure(plan)),
        (RoleConfig::Host { .. }, Some(p)) => match host_plan(peer, p) {
            Ok(changes) => {
                plan.extend(changes);
                Verdict::Apply(Action::Configure(plan))
            }
            Err(reason) => Verdict::Refuse(reason),
        },
    }
}

/// What a host applies from a push, checked again here (the child checked
/// once; the parent does not take its word).
fn host_plan(peer: &SocketAddr, p: &Pushed) -> Result<Vec<Change>, String> {
    p.validate().map_err(|e| e.to_string())?;
    let peer_ip = peer.ip();
    let contains = |net: &vpnd_proto::net::Prefix| {
        vpnd_proto::net::Prefix::new(peer_ip, net.prefix_len())
            .is_ok_and(|q| q.network() == net.network())
    };
    if contains(&p.network) {
        return Err(format!(
            "pushed network: {}: contains the gateway's own address {peer_ip}; routing it through the tunnel would cut the tunnel",
            p.network
        ));
    }
    let mut changes = vec![Change::Address(p.host.addr()), Change::Route(p.network)];
    if let Some(ns) = p.resolver {
        changes.push(Change::Resolver {
            nameserver: ns,
            search: p.domain.clone(),
        });
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> SocketAddr {
        "198.18.0.2:4706".parse().unwrap()
    }

    fn pushed() -> Pushed {
        Pushed {
            host: "198.19.3.2/24".parse().unwrap(),
            network: "198.19.1.0/24".parse().unwrap(),
            resolver: Some("198.19.1.53".parse().unwrap()),
            domain: Some("vpnd.test".parse().unwrap()),
        }
    }

    fn facts(role: &str) -> Facts {
        let remote = vpnd_proto::config::Remote {
            host: "198.18.0.2".parse().unwrap(),
            port: 4706,
        };
        let role = match role {
            "net-gw" => RoleConfig::NetGw {
                remote,
                remote_network: Some("198.19.2.0/24".parse().unwrap()),
            },
            "host-gw" => RoleConfig::HostGw {
                local_network: "198.19.1.0/24".parse().unwrap(),
                host_addr: "198.19.3.2/24".parse().unwrap(),
                resolv_addr: None,
                resolv_domain: None,
            },
            _ => RoleConfig::Host {
                remote,
                resolvconf_path: "/sbin/resolvconf".into(),
            },
        };
        Facts { role, mtu: None }
    }

    fn greeted() -> State {
        State {
            greeted: true,
            ..State::default()
        }
    }

    fn up(peer: SocketAddr, pushed: Option<Pushed>) -> ToParent {
        ToParent::NetworkUp { peer, pushed }
    }

    #[test]
    fn the_conversation_order_is_enforced() {
        let f = facts("net-gw");
        let fresh = State::default();
        let hello = ToParent::Hello {
            version: IPC_VERSION,
        };
        assert_eq!(admit(&hello, &f, &fresh), Verdict::Apply(Action::Greet));
        assert_eq!(
            admit(&ToParent::Hello { version: 99 }, &f, &fresh),
            Verdict::Abort(Violation::Hello(99))
        );
        assert_eq!(
            admit(&hello, &f, &greeted()),
            Verdict::Abort(Violation::Hello(IPC_VERSION))
        );
        for req in [up(peer(), None), ToParent::NetworkDown] {
            assert_eq!(
                admit(&req, &f, &fresh),
                Verdict::Abort(Violation::BeforeHello)
            );
        }
        let mut s = greeted();
        assert_eq!(
            admit(&ToParent::NetworkDown, &f, &s),
            Verdict::Abort(Violation::NetworkDownTwice)
        );
        let Verdict::Apply(a) = admit(&up(peer(), None), &f, &s) else {
            panic!()
        };
        s.advance(&a);
        assert_eq!(
            admit(&up(peer(), None), &f, &s),
            Verdict::Abort(Violation::NetworkUpTwice)
        );
        assert_eq!(
            admit(&ToParent::NetworkDown, &f, &s),
            Verdict::Apply(Action::Unconfigure)
        );
    }

    #[test]
    fn each_roles_plan_uses_the_parents_own_configuration() {
        let Verdict::Apply(Action::Configure(net)) =
            admit(&up(peer(), None), &facts("net-gw"), &greeted())
        else {
            panic!()
        };
        assert_eq!(
            net,
            [
                Change::Mtu(1431),
                Change::Forwarding(Family::V4),
                Change::Forwarding(Family::V6),
                Change::Route("198.19.2.0/24".parse().unwrap()),
            ]
        );
        let v6peer: SocketAddr = "[2001:2::2]:4706".parse().unwrap();
        let Verdict::Apply(Action::Configure(gw)) =
            admit(&up(v6peer, None), &facts("host-gw"), &greeted())
        else {
            panic!()
        };
        assert_eq!(
            gw,
            [
                Change::Mtu(1411),
                Change::Forwarding(Family::V4),
                Change::Route("198.19.3.2/32".parse().unwrap())
            ]
        );
        let Verdict::Apply(Action::Configure(host)) =
            admit(&up(peer(), Some(pushed())), &facts("host"), &greeted())
        else {
            panic!()
        };
        assert_eq!(
            host,
            [
                Change::Mtu(1431),
                Change::Address("198.19.3.2".parse().unwrap()),
                Change::Route("198.19.1.0/24".parse().unwrap()),
                Change::Resolver {
                    nameserver: "198.19.1.53".parse().unwrap(),
                    search: Some("vpnd.test".parse().unwrap())
                },
            ]
        );
        let mut f = facts("host");
        f.mtu = Some(1280);
        let Verdict::Apply(Action::Configure(nothing)) = admit(&up(peer(), None), &f, &greeted())
        else {
            panic!()
        };
        assert_eq!(nothing, [Change::Mtu(1280)]);
    }

    #[test]
    fn pushed_values_where_none_belong_are_fatal_and_bad_ones_refused() {
        for role in ["net-gw", "host-gw"] {
            assert!(matches!(
                admit(&up(peer(), Some(pushed())), &facts(role), &greeted()),
                Verdict::Abort(Violation::PushedForRole(_))
            ));
        }
        let mut default_route = pushed();
        default_route.network = "0.0.0.0/0".parse().unwrap();
        let Verdict::Refuse(why) =
            admit(&up(peer(), Some(default_route)), &facts("host"), &greeted())
        else {
            panic!()
        };
        assert!(why.contains("default route"), "{why}");
        let mut swallowing = pushed();
        swallowing.network = "198.18.0.0/15".parse().unwrap();
        let Verdict::Refuse(why) = admit(&up(peer(), Some(swallowing)), &facts("host"), &greeted())
        else {
            panic!()
        };
        assert!(
            why.contains("contains the gateway's own address 198.18.0.2"),
            "{why}"
        );
    }

    #[test]
    fn nonces_never_go_backwards() {
        let f = facts("net-gw");
        let mut s = greeted();
        let at = |n: u8| {
            let mut b = [0u8; 24];
            b[23] = n;
            b
        };
        let local = |n| ToParent::PersistNonce {
            slot: NonceSlot::Local,
            nonce: at(n),
        };
        let Verdict::Apply(a) = admit(&local(5), &f, &s) else {
            panic!()
        };
        s.advance(&a);
        assert!(matches!(admit(&local(5), &f, &s), Verdict::Apply(_)));
        assert!(matches!(admit(&local(6), &f, &s), Verdict::Apply(_)));
        assert_eq!(
            admit(&local(4), &f, &s),
            Verdict::Abort(Violation::NonceBackwards(NonceSlot::Local))
        );
        let remote = |n| ToParent::PersistNonce {
            slot: NonceSlot::Remote,
            nonce: at(n),
        };
        let Verdict::Apply(a) = admit(&remote(9), &f, &s) else {
            panic!()
        };
        s.advance(&a);
        assert!(matches!(admit(&remote(8), &f, &s), Verdict::Refuse(_)));
        // Little-endian: a larger low byte does not outweigh a larger high byte.
        let mut low = [0xffu8; 24];
        low[23] = 4;
        assert!(matches!(
            admit(
                &ToParent::PersistNonce {
                    slot: NonceSlot::Local,
                    nonce: low
                },
                &f,
                &s
            ),
            Verdict::Abort(_)
        ));
    }

    #[test]
    fn mtu_by_peer_family() {
        assert_eq!(mtu_for(&"198.18.0.2:1".parse().unwrap(), None), 1431);
        let v4: SocketAddr = "198.18.0.2:1".parse().unwrap();
        let v6: SocketAddr = "[2001:2::1]:1".parse().unwrap();
        assert_eq!(mtu_warning(Some(&v4), Some(1431)), None);
        assert_eq!(mtu_warning(Some(&v4), None), None);
        let w = mtu_warning(Some(&v4), Some(1500)).unwrap();
        assert!(
            w.starts_with("mtu 1500: datagrams of up to 1569 bytes"),
            "{w}"
        );
        let w = mtu_warning(Some(&v6), Some(1431)).unwrap();
        assert!(
            w.starts_with("mtu 1431: datagrams of up to 1520 bytes"),
            "{w}"
        );
        assert!(w.ends_with("(mtu 1411 or less avoids it)"), "{w}");
        assert_eq!(mtu_for(&"[2001:2::1]:1".parse().unwrap(), None), 1411);
        assert_eq!(
            mtu_for(&"[::ffff:198.18.0.2]:1".parse().unwrap(), None),
            1431
        );
        assert_eq!(mtu_for(&"198.18.0.2:1".parse().unwrap(), Some(1400)), 1400);
    }
}
