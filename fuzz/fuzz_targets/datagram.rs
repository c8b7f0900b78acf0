//! Datagrams from the network into a session, the code an attacker reaches
//! first: any bytes, from the peer's address or another, at any state the
//! session has reached. Invariants: no panic; a delivered range lies inside
//! the datagram and after the header; the decoder alone never panics
//! either.

#![no_main]

use std::net::SocketAddr;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use vpnd_crypto::{KeyPair, Nonce, SecretKey, SharedKey};
use vpnd_proto::Timestamp;
use vpnd_proto::config::Role;
use vpnd_proto::session::{SeededEntropy, Session, SessionConfig};
use vpnd_proto::wire::{self, Inet6Family};

fn session(role: Role) -> Session<SeededEntropy> {
    let own = KeyPair::from_secret(SecretKey::from_hex(&"07".repeat(32)).expect("key"));
    let peer = KeyPair::from_secret(SecretKey::from_hex(&"09".repeat(32)).expect("key"));
    let config = SessionConfig {
        role,
        static_key: SharedKey::precompute(&peer.public, &own.secret).expect("keys"),
        peer: (role != Role::HostGw).then(|| "198.18.0.2:4706".parse().expect("addr")),
        push: None,
        min_pushed_prefix: vpnd_proto::config::MinPushedPrefix::default(),
        inet6_family: Inet6Family::LINUX,
        max_key_age: Duration::from_secs(60),
        max_key_packets: 5000,
        nonce_reset_incr: 100,
        send_nonce: Nonce::from_u64(1),
        recv_nonce: Nonce::from_u64(0),
    };
    let mut session = Session::new(config, Timestamp::ZERO, SeededEntropy::new(1));
    // The parent confirms the first reset point, so that sending runs too.
    session.local_nonce_saved(Timestamp::ZERO, Nonce::from_u64(101));
    session
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let _ = wire::decode_plaintext(rest);
    let role = match selector % 3 {
        0 => Role::NetGw,
        1 => Role::HostGw,
        _ => Role::Host,
    };
    let mut s = session(role);
    let peer: SocketAddr = "198.18.0.2:4706".parse().expect("addr");
    let stranger: SocketAddr = "198.18.9.9:4706".parse().expect("addr");
    let mut now = Timestamp::ZERO;
    // The rest is a sequence of datagrams, each led by a length byte
    // (times 8 when the selector's high bit is set, to reach oversized
    // datagrams).
    let scale = if selector & 0x80 != 0 { 8 } else { 1 };
    let mut input = rest;
    while let Some((&len, tail)) = input.split_first() {
        let n = (usize::from(len) * scale).min(tail.len());
        let (datagram, next) = tail.split_at(n);
        input = next;
        let mut buf = datagram.to_vec();
        let from = if len & 1 == 0 { peer } else { stranger };
        if let Ok(Some(range)) = s.handle_datagram(now, from, &mut buf) {
            assert!(range.start >= wire::BODY_OFFSET && range.end <= buf.len());
        }
        now = now + Duration::from_millis(u64::from(len) * 50);
        s.handle_timeout(now);
        while s.poll_transmit().is_some() {}
        while let Some(event) = s.poll_event() {
            if let vpnd_proto::session::Event::PersistLocalNonce(n) = event {
                s.local_nonce_saved(now, n);
            }
        }
    }
});
