//! Frames the parent decodes from the network process (untrusted) and the
//! network process decodes from the parent, and the parent's judgement of
//! each request. Invariants: no panic, no allocation beyond the frame
//! limit (bincode's limit), and a decoded message encodes and decodes to
//! itself; every decoded request goes through `policy::admit` in a
//! conversation kept from frame to frame, as the parent's loop keeps it,
//! until a verdict stops the network process; nothing is granted before
//! `Hello`, and no granted plan routes the gateway into the tunnel or
//! takes a network wider than the minimum, and no two lookups of the
//! peer's name are granted within `RESOLVE_INTERVAL`.
//!
//! Input: the whole input as one frame each way; then, for the policy,
//! a first byte choosing the parent's facts (bits 0-1 the role, bit 2
//! connected sends, bit 3 a configured MTU) and frames, each after its
//! length in one byte.

#![no_main]

use std::net::SocketAddr;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use vpnd_priv::netconf::Change;
use vpnd_priv::policy::{self, Action, Conversation, Facts, Verdict};
use vpnd_proto::config::{MinPushedPrefix, Remote, RoleConfig};
use vpnd_proto::ipc::{self, ToParent, UdpSends};

const GATEWAY: &str = "198.18.0.2:4706";

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = ipc::decode_to_parent(data) {
        round_trip(&m);
    }
    if let Ok(m) = ipc::decode_to_child(data) {
        let frame = ipc::encode(&m).expect("a decoded message encodes");
        assert_eq!(ipc::decode_to_child(&frame).expect("round trip"), m);
    }
    let Some((&choice, mut rest)) = data.split_first() else {
        return;
    };
    let facts = facts(choice);
    let mut now = Conversation::new(None, Some([0; 24]));
    // The time since the parent started: each frame's length byte moves
    // it on by as many milliseconds, so the rates are exercised too.
    let mut at = Duration::ZERO;
    let mut last_lookup: Option<Duration> = None;
    while let Some((&len, tail)) = rest.split_first() {
        at += Duration::from_millis(u64::from(len));
        let (frame, after) = tail.split_at(usize::from(len).min(tail.len()));
        rest = after;
        let Ok(request) = ipc::decode_to_parent(frame) else {
            // The parent stops a network process that sends this.
            return;
        };
        round_trip(&request);
        let verdict = policy::admit(&request, &facts, &now, at);
        assert_eq!(verdict, policy::admit(&request, &facts, &now, at), "pure");
        let next = match &verdict {
            Verdict::Abort(_) => return,
            Verdict::Apply {
                action,
                reply,
                next,
            } => {
                granted(&request, action, &facts, &now);
                if *action == Action::ResolvePeer {
                    assert!(
                        last_lookup.is_none_or(|t| at - t >= ipc::RESOLVE_INTERVAL),
                        "lookups at {last_lookup:?} and {at:?}"
                    );
                    last_lookup = Some(at);
                }
                let _ = reply.message(None);
                let _ = reply.message(Some("exit status 2".to_owned()));
                let mut next = *next;
                if let Action::Persist { slot, .. } = action {
                    // Written and answered, as serve.rs does.
                    next.written(*slot);
                }
                next
            }
            Verdict::Refuse { reply, next, .. } => {
                let _ = reply.message(None);
                *next
            }
        };
        assert!(now.greeted || next.greeted == matches!(request, ToParent::Hello { .. }));
        now = next;
    }
});

fn round_trip(m: &ToParent) {
    let frame = ipc::encode(m).expect("a decoded message encodes");
    assert_eq!(&ipc::decode_to_parent(&frame).expect("round trip"), m);
}

/// The parent's facts `choice` selects.
fn facts(choice: u8) -> Facts {
    let remote = Remote {
        host: "198.18.0.2".parse().expect("a remote host"),
        port: 4706,
    };
    let role = match choice & 3 {
        0 => RoleConfig::NetGw {
            remote,
            remote_network: "198.19.2.0/24".parse().ok(),
        },
        1 => RoleConfig::HostGw {
            local_network: "198.19.1.0/24".parse().expect("a network"),
            host_addr: "198.19.3.2/24".parse().expect("an address"),
            resolv_addr: None,
            resolv_domain: None,
        },
        _ => RoleConfig::Host {
            remote,
            resolvconf_path: "/sbin/resolvconf".into(),
            min_pushed_prefix: MinPushedPrefix::default(),
        },
    };
    let gateway: Option<SocketAddr> = match role {
        RoleConfig::HostGw { .. } => None,
        _ => GATEWAY.parse().ok(),
    };
    Facts {
        role,
        mtu: (choice & 8 != 0).then_some(1280),
        udp_sends: if choice & 4 != 0 {
            UdpSends::Connected
        } else {
            UdpSends::Addressed
        },
        gateway,
        outer: "198.18.0.1/24".parse().ok(),
        nonce_reset_incr: 16,
        start_unix_time: 1_700_000_000,
        scripts: choice & 16 != 0,
    }
}

/// What a granted request may do.
fn granted(request: &ToParent, action: &Action, facts: &Facts, before: &Conversation) {
    assert!(before.greeted || matches!(request, ToParent::Hello { .. }));
    let Action::Configure(changes) = action else {
        return;
    };
    let Some(gateway) = facts.gateway else {
        return;
    };
    let min = MinPushedPrefix::default();
    for change in changes {
        match change {
            Change::Route(p) if matches!(facts.role, RoleConfig::Host { .. }) => {
                assert!(!p.contains(gateway.ip()), "{p} routes the gateway");
                assert!(
                    p.prefix_len() >= min.for_family(&p.addr()).0,
                    "{p} too wide"
                );
            }
            Change::Address(a) => {
                assert_ne!(*a, gateway.ip(), "the gateway's address on the tun");
                assert!(!a.is_loopback() && !a.is_multicast(), "{a} on the tun");
            }
            _ => {}
        }
    }
}
