//! Our session against datagrams recorded from the deployed vpnd 1.1.7:
//! it follows the deployed peer's handshake and applies its push.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod vectors_common;

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use vectors_common::{key, vectors};
use vpnd_crypto::{Nonce, SharedKey};
use vpnd_proto::Timestamp;
use vpnd_proto::config::Role;
use vpnd_proto::session::{DropReason, Event, SeededEntropy, Session, SessionConfig, State};
use vpnd_proto::wire::Inet6Family;

fn datagrams<'a>(v: &'a Value, from: &'a str) -> impl Iterator<Item = (Vec<u8>, &'a Value)> + 'a {
    v["datagrams"]
        .as_array()
        .unwrap()
        .iter()
        .filter(move |d| d["from"] == from)
        .map(|d| (hex::decode(d["datagram"].as_str().unwrap()).unwrap(), d))
}

fn session(role: Role, static_key: SharedKey, peer: SocketAddr) -> Session<SeededEntropy> {
    let config = SessionConfig {
        role,
        static_key,
        peer: Some(peer),
        push: None,
        min_pushed_prefix: vpnd_proto::config::MinPushedPrefix::default(),
        inet6_family: Inet6Family::LINUX,
        max_key_age: Duration::from_secs(60),
        max_key_packets: 100_000,
        nonce_reset_incr: 10_000,
        send_nonce: Nonce::from_time_and_random(1_800_000_000, [7; 16]),
        recv_nonce: Nonce::default(),
    };
    let first_reset_point = config.send_nonce.plus(config.nonce_reset_incr);
    let mut s = Session::new(config, Timestamp::ZERO, SeededEntropy::new(1));
    // The parent confirms the first reset point (the daemon's loop does).
    s.local_nonce_saved(Timestamp::ZERO, first_reset_point);
    s
}

#[test]
fn we_follow_a_deployed_master_through_its_handshake() {
    let v = vectors("captured-net-gw.json");
    // We play peer a; the capture's b was master.
    let peer: SocketAddr = "198.18.0.2:4706".parse().unwrap();
    let mut s = session(Role::NetGw, key(&v, "a_sk", "b_pk"), peer);
    let now = Timestamp::from_nanos(1_000_000);
    let mut outcome = Vec::new();
    for (mut d, meta) in datagrams(&v, "b").filter(|(_, m)| m["static_key"] == true) {
        let r = s.handle_datagram(now, peer, &mut d);
        outcome.push((meta["type_name"].as_str().unwrap().to_owned(), r, s.state()));
    }
    let names: Vec<_> = outcome.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(names, ["DATA", "KEY_SWITCH_START", "KEY_READY"]);
    // Static-key DATA is not delivered (W6).
    assert_eq!(outcome[0].1, Err(DropReason::StaticKeyData));
    assert_eq!(outcome[1].2, State::SlaveKeySwitching);
    assert_eq!(outcome[2].2, State::ActiveSlave);
    let mut sent = Vec::new();
    while let Some(t) = s.poll_transmit() {
        assert_eq!(t.dest, peer);
        sent.push(t.datagram.len());
    }
    // PEER_INFO at start, KEY_SWITCH_ACK, PEER_INFO when active.
    assert_eq!(sent, [133, 73, 133]);
    let events: Vec<_> = std::iter::from_fn(|| s.poll_event()).collect();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::NetworkUp { pushed: None, .. }))
    );
}

#[test]
fn a_deployed_host_gw_push_is_applied_by_our_host() {
    let v = vectors("captured-host-gw.json");
    let gateway: SocketAddr = "198.18.0.2:4706".parse().unwrap();
    let mut s = session(Role::Host, key(&v, "client_sk", "gateway_pk"), gateway);
    let now = Timestamp::from_nanos(1_000_000);
    for (mut d, meta) in datagrams(&v, "gateway").filter(|(_, m)| m["static_key"] == true) {
        let r = s.handle_datagram(now, gateway, &mut d);
        assert!(r.is_ok(), "{}: {r:?}", meta["type_name"]);
    }
    assert_eq!(s.state(), State::ActiveSlave);
    let up = std::iter::from_fn(|| s.poll_event())
        .find_map(|e| match e {
            Event::NetworkUp { pushed, .. } => Some(pushed),
            _ => None,
        })
        .expect("network up");
    let pushed = up.expect("the push is valid");
    assert_eq!(pushed.host.to_string(), "198.19.7.2/24");
    assert_eq!(pushed.network.to_string(), "198.19.2.0/24");
    assert_eq!(pushed.resolver, Some("198.19.2.53".parse().unwrap()));
    assert_eq!(
        pushed.domain.map(|d| d.to_string()),
        Some("example.test".to_owned())
    );
}

#[test]
fn a_deployed_peer_info_makes_the_deployed_side_master() {
    let v = vectors("captured-net-gw.json");
    // We play b and receive a's static PEER_INFO (id 0x821c0bf5): our id
    // (0xffffxxxx) is larger, so we are slave and answer at once (W19).
    let peer: SocketAddr = "198.18.0.1:4706".parse().unwrap();
    let mut s = session(Role::NetGw, key(&v, "b_sk", "a_pk"), peer);
    while s.poll_transmit().is_some() {}
    let (mut d, _) = datagrams(&v, "a")
        .find(|(_, m)| m["type_name"] == "PEER_INFO")
        .unwrap();
    let now = Timestamp::from_nanos(2_000_000_000);
    assert_eq!(s.handle_datagram(now, peer, &mut d), Ok(None));
    assert_eq!(s.state(), State::Init);
    assert_eq!(s.peer_info().map(|p| p.peer_id), Some(0x821c_0bf5));
    let answer = s.poll_transmit().expect("an immediate PEER_INFO answer");
    assert_eq!(answer.datagram.len(), 133);
}

#[test]
fn ephemeral_datagrams_of_the_capture_fail_under_the_static_key() {
    let v = vectors("captured-net-gw.json");
    let peer: SocketAddr = "198.18.0.2:4706".parse().unwrap();
    let mut s = session(Role::NetGw, key(&v, "a_sk", "b_pk"), peer);
    let now = Timestamp::from_nanos(1);
    for (mut d, _) in datagrams(&v, "b").filter(|(_, m)| m["static_key"] == false) {
        assert_eq!(
            s.handle_datagram(now, peer, &mut d),
            Err(DropReason::DecryptFailure)
        );
    }
    assert_eq!(s.stats().decrypt_failures, 17);
}
