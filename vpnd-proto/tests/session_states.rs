//! Each state's reaction to each message (doc/deployed-peer.md 5.2 with doc/protocol.md's
//! improvements), driven by a scripted peer that seals by hand.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::Duration;

use vpnd_crypto::{KeyPair, Nonce, SecretKey, SharedKey};
use vpnd_proto::Timestamp;
use vpnd_proto::config::Role;
use vpnd_proto::session::{
    DropReason, Event, HANDSHAKE_INTERVAL, SeededEntropy, Session, SessionConfig, State,
};
use vpnd_proto::wire::{self, Inet6Family, Message, MessageType, PeerInfo};

fn peer_addr() -> SocketAddr {
    "198.18.0.2:4706".parse().unwrap()
}

/// The other end, played by hand.
struct Scripted {
    key: SharedKey,
    nonce: Nonce,
}

impl Scripted {
    fn seal(&mut self, t: MessageType, body: &[u8]) -> Vec<u8> {
        self.seal_under(&self.key.clone(), t, body)
    }

    fn seal_under(&mut self, key: &SharedKey, t: MessageType, body: &[u8]) -> Vec<u8> {
        self.nonce.increment();
        let mut out = vec![0u8; wire::OVERHEAD + body.len()];
        wire::seal(key, &self.nonce, t, body, &mut out).unwrap();
        out
    }

    /// Seals any type byte and body, even ones `wire::seal` refuses.
    fn seal_raw(&mut self, type_byte: u8, body: &[u8]) -> Vec<u8> {
        self.nonce.increment();
        let mut out = vec![0u8; wire::OVERHEAD + body.len()];
        out[..24].copy_from_slice(self.nonce.as_bytes());
        out[wire::TYPE_OFFSET] = type_byte;
        out[wire::BODY_OFFSET..].copy_from_slice(body);
        self.key
            .seal_in_place(&self.nonce, &mut out[wire::MAC_OFFSET..]);
        out
    }

    /// Opens what the session sent, under `key`.
    fn open(key: &SharedKey, mut d: Vec<u8>) -> (MessageType, Vec<u8>) {
        wire::read_nonce(&d).unwrap();
        wire::open_in_place(key, &mut d).unwrap();
        let t = match wire::decode_plaintext(&d[wire::TYPE_OFFSET..]).unwrap() {
            Message::PeerInfo(_) => MessageType::PeerInfo,
            Message::KeySwitchStart(_) => MessageType::KeySwitchStart,
            Message::KeySwitchAck(_) => MessageType::KeySwitchAck,
            Message::KeyReady(_) => MessageType::KeyReady,
            Message::DebugString(_) => MessageType::DebugString,
            Message::Data(_) => MessageType::Data,
        };
        (t, d[wire::BODY_OFFSET..].to_vec())
    }
}

/// A session in `role` whose first reset point the parent confirmed.
fn setup(role: Role) -> (Session<SeededEntropy>, Scripted) {
    let (mut s, p) = unconfirmed(role);
    // The parent confirms the first reset point (the daemon's loop does).
    s.local_nonce_saved(Timestamp::ZERO, first_reset_point());
    (s, p)
}

/// The first reset point of [`unconfirmed`]'s session: its first nonce
/// plus two `nonce_reset_incr`.
fn first_reset_point() -> Nonce {
    Nonce::from_u64((1 << 40) + 2 * 10_000)
}

/// A session in `role` before the parent confirmed anything.
fn unconfirmed(role: Role) -> (Session<SeededEntropy>, Scripted) {
    let ours = KeyPair::from_secret(SecretKey::from_bytes([1; 32]));
    let theirs = KeyPair::from_secret(SecretKey::from_bytes([2; 32]));
    let key = SharedKey::precompute(&theirs.public, &ours.secret).unwrap();
    let config = SessionConfig {
        role,
        static_key: key.clone(),
        peer: (role != Role::HostGw).then(peer_addr),
        push: None,
        min_pushed_prefix: vpnd_proto::config::MinPushedPrefix::default(),
        inet6_family: Inet6Family::LINUX,
        max_key_age: Duration::from_secs(60),
        max_key_packets: 100_000,
        nonce_reset_incr: 10_000,
        send_nonce: Nonce::from_u64(1 << 40),
        recv_nonce: Nonce::default(),
    };
    let s = Session::new(config, Timestamp::ZERO, SeededEntropy::new(3));
    (
        s,
        Scripted {
            key,
            nonce: Nonce::from_u64(100),
        },
    )
}

fn sent(s: &mut Session<SeededEntropy>, key: &SharedKey) -> Vec<(MessageType, Vec<u8>)> {
    std::iter::from_fn(|| s.poll_transmit())
        .map(|t| Scripted::open(key, t.datagram))
        .collect()
}

fn types(v: &[(MessageType, Vec<u8>)]) -> Vec<MessageType> {
    v.iter().map(|(t, _)| *t).collect()
}

const T: Timestamp = Timestamp::from_nanos(1_000_000_000);

#[test]
fn init_refuses_what_it_does_not_expect() {
    let (mut s, mut p) = setup(Role::NetGw);
    let key = p.key.clone();
    assert_eq!(types(&sent(&mut s, &key)), [MessageType::PeerInfo]);
    let pk = [9u8; 32];
    for (t, body, why) in [
        (MessageType::KeySwitchAck, &pk[..], DropReason::Unexpected),
        (
            MessageType::KeyReady,
            &PeerInfo::id_only(1).encode()[..],
            DropReason::Unexpected,
        ),
        (
            MessageType::Data,
            &[0x45u8; 40][..],
            DropReason::StaticKeyData,
        ),
    ] {
        let mut d = p.seal(t, body);
        assert_eq!(s.handle_datagram(T, peer_addr(), &mut d), Err(why), "{t:?}");
    }
    // Wrong body sizes and an unknown type, authenticated.
    for (type_byte, len, why) in [
        (0, 91, DropReason::BadBody),
        (3, 93, DropReason::BadBody),
        (1, 31, DropReason::BadBody),
        (2, 33, DropReason::BadBody),
        (5, 0, DropReason::BadBody),
        (6, 10, DropReason::UnknownType),
        (255, 10, DropReason::UnknownType),
    ] {
        let mut d = p.seal_raw(type_byte, &vec![0; len]);
        assert_eq!(
            s.handle_datagram(T, peer_addr(), &mut d),
            Err(why),
            "type {type_byte}"
        );
    }
    assert_eq!(s.state(), State::Init);
    // A debug string is logged in any state.
    let mut dbg = p.seal(MessageType::DebugString, b"hello\0");
    assert_eq!(s.handle_datagram(T, peer_addr(), &mut dbg), Ok(None));
    assert!(
        std::iter::from_fn(|| s.poll_event()).any(|e| e == Event::DebugString(b"hello".to_vec()))
    );
    assert_eq!(s.stats().drops_of(DropReason::Unexpected), 2);
    assert_eq!(s.stats().drops_of(DropReason::BadBody), 5);
    assert_eq!(s.stats().drops_of(DropReason::UnknownType), 2);
}

#[test]
fn a_full_handshake_as_master_and_a_rotation() {
    let (mut s, mut p) = setup(Role::NetGw);
    let stat = p.key.clone();
    sent(&mut s, &stat);
    // Their id above ours: we are master.
    let mut pi = p.seal(MessageType::PeerInfo, &PeerInfo::id_only(u32::MAX).encode());
    assert_eq!(s.handle_datagram(T, peer_addr(), &mut pi), Ok(None));
    assert_eq!(s.state(), State::MasterKeyStale);
    let out = sent(&mut s, &stat);
    assert_eq!(types(&out), [MessageType::KeySwitchStart]);
    let master_pk = vpnd_crypto::PublicKey::from_bytes(out[0].1.clone().try_into().unwrap());
    // A lost ACK: the start is retransmitted after 0.5 s, same key (W4).
    s.handle_timeout(T + HANDSHAKE_INTERVAL);
    let again = sent(&mut s, &stat);
    assert_eq!(again, out);
    assert_eq!(s.stats().key_switch_start_retransmits, 1);
    // Unexpected here: another start, a ready.
    let mut kss = p.seal(MessageType::KeySwitchStart, &[5; 32]);
    assert_eq!(
        s.handle_datagram(T, peer_addr(), &mut kss),
        Err(DropReason::Unexpected)
    );
    // The ACK.
    let slave = KeyPair::from_secret(SecretKey::from_bytes([7; 32]));
    let new_key = SharedKey::precompute(&master_pk, &slave.secret).unwrap();
    let mut ack = p.seal(MessageType::KeySwitchAck, slave.public.as_bytes());
    assert_eq!(s.handle_datagram(T, peer_addr(), &mut ack), Ok(None));
    assert_eq!(s.state(), State::MasterKeyReady);
    // KEY_READY under the old (static) key.
    assert_eq!(types(&sent(&mut s, &stat)), [MessageType::KeyReady]);
    // Its retransmission also under the old key.
    s.handle_timeout(T + HANDSHAKE_INTERVAL * 3);
    assert_eq!(types(&sent(&mut s, &stat)), [MessageType::KeyReady]);
    // Data from us is now sealed under the new key.
    let mut buf = vec![0u8; wire::BODY_OFFSET + 20];
    let n = s.seal_packet(T, &mut buf, 20).unwrap();
    buf.truncate(n);
    assert_eq!(Scripted::open(&new_key, buf).0, MessageType::Data);
    // The slave's PEER_INFO under the new key: active, network up.
    let mut pi = p.seal_under(
        &new_key,
        MessageType::PeerInfo,
        &PeerInfo::id_only(u32::MAX).encode(),
    );
    assert_eq!(s.handle_datagram(T, peer_addr(), &mut pi), Ok(None));
    assert_eq!(s.state(), State::ActiveMaster);
    assert!(std::iter::from_fn(|| s.poll_event()).any(|e| matches!(e, Event::NetworkUp { .. })));
    assert_eq!(types(&sent(&mut s, &new_key)), [MessageType::PeerInfo]);
    // Age: at max_key_age the master starts a new switch under the new key
    // (the peer's heartbeats keep it alive meanwhile).
    for secs in (10..=50).step_by(10) {
        let at = T + Duration::from_secs(secs);
        let info = PeerInfo::id_only(u32::MAX).encode();
        let mut hb = p.seal_under(&new_key, MessageType::PeerInfo, &info);
        assert_eq!(s.handle_datagram(at, peer_addr(), &mut hb), Ok(None));
        s.handle_timeout(at);
        assert_eq!(s.state(), State::ActiveMaster, "at {secs} s");
        sent(&mut s, &new_key);
    }
    s.handle_timeout(T + Duration::from_secs(60));
    assert_eq!(s.state(), State::MasterKeyStale);
    let out = sent(&mut s, &new_key);
    assert!(
        types(&out).contains(&MessageType::KeySwitchStart),
        "{:?}",
        types(&out)
    );
}

#[test]
fn a_full_handshake_as_slave() {
    let (mut s, mut p) = setup(Role::NetGw);
    let stat = p.key.clone();
    sent(&mut s, &stat);
    // Their id below ours: we are slave and answer their PEER_INFO at once.
    let mut pi = p.seal(MessageType::PeerInfo, &PeerInfo::id_only(1).encode());
    assert_eq!(s.handle_datagram(T, peer_addr(), &mut pi), Ok(None));
    assert_eq!(s.state(), State::Init);
    assert_eq!(types(&sent(&mut s, &stat)), [MessageType::PeerInfo]);
    // A second one within a second is not answered (rate limit).
    let mut pi = p.seal(MessageType::PeerInfo, &PeerInfo::id_only(1).encode());
    assert_eq!(s.handle_datagram(T, peer_addr(), &mut pi), Ok(None));
    assert!(sent(&mut s, &stat).is_empty());
    let master = KeyPair::from_secret(SecretKey::from_bytes([8; 32]));
    let mut kss = p.seal(MessageType::KeySwitchStart, master.public.as_bytes());
    assert_eq!(s.handle_datagram(T, peer_addr(), &mut kss), Ok(None));
    assert_eq!(s.state(), State::SlaveKeySwitching);
    let out = sent(&mut s, &stat);
    assert_eq!(types(&out), [MessageType::KeySwitchAck]);
    let slave_pk = vpnd_crypto::PublicKey::from_bytes(out[0].1.clone().try_into().unwrap());
    let new_key = SharedKey::precompute(&slave_pk, &master.secret).unwrap();
    // The same start again (our ACK was lost) is left to our own timer.
    let mut kss = p.seal(MessageType::KeySwitchStart, master.public.as_bytes());
    assert_eq!(
        s.handle_datagram(T, peer_addr(), &mut kss),
        Err(DropReason::Unexpected)
    );
    s.handle_timeout(T + HANDSHAKE_INTERVAL);
    assert_eq!(types(&sent(&mut s, &stat)), [MessageType::KeySwitchAck]);
    // Tun packets are still refused: no ephemeral key yet (W6).
    let mut buf = vec![0u8; wire::BODY_OFFSET + 20];
    assert_eq!(s.seal_packet(T, &mut buf, 20), Err(DropReason::NoSession));
    let mut ready = p.seal(MessageType::KeyReady, &PeerInfo::id_only(1).encode());
    assert_eq!(s.handle_datagram(T, peer_addr(), &mut ready), Ok(None));
    assert_eq!(s.state(), State::ActiveSlave);
    assert_eq!(types(&sent(&mut s, &new_key)), [MessageType::PeerInfo]);
    // DATA under the new key is delivered, in place.
    let mut d = p.seal_under(&new_key, MessageType::Data, b"\x45packet");
    assert_eq!(s.handle_datagram(T, peer_addr(), &mut d), Ok(Some(41..48)));
    assert_eq!(&d[41..48], b"\x45packet");
    // The same datagram again is a replay.
    let mut replay = p.seal_under(&new_key, MessageType::Data, b"x");
    let copy = replay.clone();
    s.handle_datagram(T, peer_addr(), &mut replay).unwrap();
    let mut copy = copy;
    assert_eq!(
        s.handle_datagram(T, peer_addr(), &mut copy),
        Err(DropReason::Replayed)
    );
}

#[test]
fn host_gw_ignores_everything_but_an_authentic_peer_info_while_waiting() {
    let (mut s, mut p) = setup(Role::HostGw);
    assert_eq!(s.state(), State::HostWait);
    assert!(s.poll_transmit().is_none());
    let stranger: SocketAddr = "198.18.7.7:999".parse().unwrap();
    // Garbage and a wrong-key PEER_INFO: nothing learned.
    let mut junk = vec![0u8; 133];
    assert_eq!(
        s.handle_datagram(T, stranger, &mut junk),
        Err(DropReason::DecryptFailure)
    );
    let other = SharedKey::precompute(
        &KeyPair::from_secret(SecretKey::from_bytes([3; 32])).public,
        &SecretKey::from_bytes([4; 32]),
    )
    .unwrap();
    let mut forged = p.seal_under(
        &other,
        MessageType::PeerInfo,
        &PeerInfo::id_only(1).encode(),
    );
    assert_eq!(
        s.handle_datagram(T, stranger, &mut forged),
        Err(DropReason::DecryptFailure)
    );
    assert_eq!(s.peer(), None);
    let mut kss = p.seal(MessageType::KeySwitchStart, &[5; 32]);
    assert_eq!(
        s.handle_datagram(T, stranger, &mut kss),
        Err(DropReason::Unexpected)
    );
    assert_eq!(s.peer(), None);
    // The client's PEER_INFO fixes its address.
    let mut pi = p.seal(MessageType::PeerInfo, &PeerInfo::id_only(1).encode());
    assert_eq!(s.handle_datagram(T, stranger, &mut pi), Ok(None));
    assert_eq!(s.peer(), Some(stranger));
    assert_eq!(s.state(), State::Init);
    let stat = p.key.clone();
    assert_eq!(types(&sent(&mut s, &stat)), [MessageType::PeerInfo]);
}

#[test]
fn nothing_leaves_before_the_first_reset_point_is_on_disk() {
    let (mut s, p) = unconfirmed(Role::NetGw);
    assert!(matches!(
        s.poll_event(),
        Some(Event::PersistLocalNonce(n)) if n == first_reset_point()
    ));
    // INIT's PEER_INFO found no nonce: not sent, not a drop.
    assert!(sent(&mut s, &p.key).is_empty());
    assert_eq!(s.stats().drops_of(DropReason::NonceWait), 0);
    // Confirmed: the state's own message goes out at once.
    s.local_nonce_saved(T, first_reset_point());
    assert_eq!(types(&sent(&mut s, &p.key)), [MessageType::PeerInfo]);
    assert_eq!(s.send_nonce(), Nonce::from_u64((1 << 40) + 1));
}

/// The destinations and types of what the session sent.
fn sent_to(s: &mut Session<SeededEntropy>, key: &SharedKey) -> Vec<(SocketAddr, MessageType)> {
    std::iter::from_fn(|| s.poll_transmit())
        .map(|t| (t.dest, Scripted::open(key, t.datagram).0))
        .collect()
}

#[test]
fn a_peer_address_from_the_parent_is_tried_at_once_in_init_and_kept_in_a_session() {
    let (mut s, mut p) = setup(Role::Host);
    let stat = p.key.clone();
    assert_eq!(
        sent_to(&mut s, &stat),
        [(peer_addr(), MessageType::PeerInfo)]
    );
    std::iter::from_fn(|| s.poll_event()).for_each(drop);
    // The same address again changes nothing; a new one gets the
    // PEER_INFO at once, and again at INIT's interval.
    s.handle_peer_address(T, peer_addr());
    assert!(s.poll_transmit().is_none());
    let moved: SocketAddr = "198.18.0.6:4706".parse().unwrap();
    s.handle_peer_address(T, moved);
    assert_eq!(s.peer(), Some(moved));
    assert_eq!(s.poll_event(), Some(Event::PeerAddress(Some(moved))));
    assert_eq!(sent_to(&mut s, &stat), [(moved, MessageType::PeerInfo)]);
    s.handle_timeout(T + vpnd_proto::session::PEER_INFO_INTERVAL);
    assert_eq!(sent_to(&mut s, &stat), [(moved, MessageType::PeerInfo)]);
    // The peer answers from there: the handshake starts; a later address
    // from the parent changes where it goes, not its state.
    let mut pi = p.seal(MessageType::PeerInfo, &PeerInfo::id_only(u32::MAX).encode());
    assert_eq!(s.handle_datagram(T, moved, &mut pi), Ok(None));
    assert_eq!(s.state(), State::MasterKeyStale);
    sent_to(&mut s, &stat);
    s.handle_peer_address(T, peer_addr());
    assert_eq!(s.state(), State::MasterKeyStale);
    assert!(s.poll_transmit().is_none(), "no extra message");
    s.handle_timeout(T + vpnd_proto::session::PEER_INFO_INTERVAL + HANDSHAKE_INTERVAL);
    assert_eq!(
        sent_to(&mut s, &stat),
        [(peer_addr(), MessageType::KeySwitchStart)]
    );
    // An authenticated datagram from the other address moves it back.
    let mut pi = p.seal(MessageType::PeerInfo, &PeerInfo::id_only(u32::MAX).encode());
    assert_eq!(s.handle_datagram(T, moved, &mut pi), Ok(None));
    assert_eq!(s.peer(), Some(moved));
}

#[test]
fn a_host_gw_ignores_a_peer_address() {
    let (mut s, _) = setup(Role::HostGw);
    s.handle_peer_address(T, peer_addr());
    assert_eq!(s.peer(), None);
    assert!(s.poll_transmit().is_none());
}
