//! Two sessions over a seeded, unreliable simulated link on virtual time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// The speed test reads the wall clock; the sessions never do.
#![allow(clippy::disallowed_methods)]

mod link;
mod pair;

use std::time::{Duration, Instant};

use vpnd_crypto::Nonce;
use vpnd_proto::Timestamp;
use vpnd_proto::config::Role;
use vpnd_proto::session::{DropReason, Entropy, Event, SeededEntropy, State};
use vpnd_proto::wire;

use link::{Faults, Side};
use pair::{Pair, addr, config, host_push, static_keys};

const MS: Duration = Duration::from_millis(1);
const SEC: Duration = Duration::from_secs(1);

/// 20 packets a second each way, 200 bytes each.
const TRAFFIC: Option<(Duration, usize)> = Some((Duration::from_millis(50), 200));

fn delivered_ratio(p: &Pair) -> f64 {
    (p.a.delivered.len() + p.b.delivered.len()) as f64 / p.data_sent.max(1) as f64
}

#[test]
fn clean_link_comes_up_in_one_round_trip_and_carries_data() {
    let mut p = Pair::net_gw(Faults::CLEAN, 1);
    let took = p.run_until_up(10 * SEC).expect("session up");
    // 10 ms one way: PEER_INFO, answer/KEY_SWITCH_START, ACK, READY, PEER_INFO.
    assert!(took < 100 * MS, "took {took:?}");
    assert!(p.a.session.key_is_ephemeral() && p.b.session.key_is_ephemeral());
    let states = [p.a.session.state(), p.b.session.state()];
    assert!(states.contains(&State::ActiveMaster) && states.contains(&State::ActiveSlave));
    p.run_for(30 * SEC, TRAFFIC);
    assert!(p.data_sent > 1000);
    // Everything but what is still in flight at the end arrived.
    assert!(delivered_ratio(&p) > 0.99, "{}", delivered_ratio(&p));
    assert_eq!(p.a.session.stats().decrypt_failures, 0);
    assert_eq!(p.b.session.stats().decrypt_failures, 0);
    assert_eq!((p.a.ups, p.b.ups), (1, 1));
    p.assert_sound();
}

#[test]
fn tun_packets_are_dropped_until_an_ephemeral_key_is_in_use() {
    let mut p = Pair::net_gw(Faults::CLEAN, 2);
    assert!(!p.send_data(Side::A, 100), "sealed under the static key");
    assert_eq!(p.a.session.stats().drops_of(DropReason::NoSession), 1);
    p.run_until_up(10 * SEC).unwrap();
    assert!(p.send_data(Side::A, 100));
    let mut buf = vec![0u8; wire::BODY_OFFSET + 1501];
    let now = p.now;
    assert_eq!(
        p.a.session.seal_packet(now, &mut buf, 1501),
        Err(DropReason::BadPacketSize)
    );
    assert_eq!(
        p.a.session.seal_packet(now, &mut buf, 0),
        Err(DropReason::BadPacketSize)
    );
}

#[test]
fn ten_percent_loss_keeps_the_tunnel_and_rotations_going() {
    for seed in 10..14 {
        let faults = Faults {
            loss: 0.10,
            ..Faults::CLEAN
        };
        let mut p = Pair::with(faults, seed, |c| c.max_key_age = Duration::from_secs(30));
        p.run_until_up(30 * SEC).expect("up despite loss");
        p.run_for(600 * SEC, TRAFFIC);
        let keys = p.a.session.stats().keys;
        assert!(
            keys >= 15,
            "seed {seed}: only {keys} keys in 10 min at 30 s"
        );
        let ratio = delivered_ratio(&p);
        assert!(
            ratio > 0.85 && ratio < 0.95,
            "seed {seed}: delivered {ratio}"
        );
        // A lost handshake message is retransmitted, never fatal (W4).
        assert_eq!(
            p.a.session.stats().peer_deaths + p.b.session.stats().peer_deaths,
            0
        );
        assert_eq!(
            (p.a.ups, p.b.ups),
            (1, 1),
            "seed {seed}: the session was lost"
        );
        p.assert_sound();
    }
}

#[test]
fn reordering_is_absorbed_by_the_window() {
    let faults = Faults {
        reorder: 0.3,
        reorder_by: 40 * MS,
        ..Faults::CLEAN
    };
    let mut p = Pair::with(faults, 20, |c| c.max_key_age = Duration::from_secs(30));
    p.run_until_up(10 * SEC).unwrap();
    // 200 packets a second each way: a held-back packet is overtaken.
    p.run_for(300 * SEC, Some((5 * MS, 200)));
    let late = p.a.session.stats().rx_late + p.b.session.stats().rx_late;
    assert!(late > 100, "reordering produced only {late} late packets");
    assert!(delivered_ratio(&p) > 0.99, "{}", delivered_ratio(&p));
    p.assert_sound();
}

#[test]
fn duplicates_are_never_delivered_twice() {
    let faults = Faults {
        duplicate: 0.2,
        reorder: 0.1,
        reorder_by: 30 * MS,
        ..Faults::CLEAN
    };
    let mut p = Pair::with(faults, 30, |c| c.max_key_age = Duration::from_secs(30));
    p.run_until_up(10 * SEC).unwrap();
    p.run_for(300 * SEC, TRAFFIC);
    assert!(p.link.duplicated > 1000);
    // Every duplicate is refused: as a replay, or (the first handshake) as
    // not above under the static key, or, when it comes after its key's
    // grace period, as undecryptable; a few are still in flight at the end.
    let s = [p.a.session.stats(), p.b.session.stats()];
    let refused: u64 = s.iter().map(|s| s.bad_nonces + s.decrypt_failures).sum();
    assert!(
        refused <= p.link.duplicated && refused + 10 >= p.link.duplicated,
        "{refused}"
    );
    let replayed: u64 = s.iter().map(|s| s.drops_of(DropReason::Replayed)).sum();
    assert!(replayed * 100 >= p.link.duplicated * 95, "{replayed}");
    p.assert_sound();
}

#[test]
fn delay_spikes_beyond_the_handshake_interval_are_survived() {
    let faults = Faults {
        spike: 0.05,
        spike_by: 3 * SEC,
        ..Faults::CLEAN
    };
    let mut p = Pair::with(faults, 40, |c| c.max_key_age = Duration::from_secs(30));
    p.run_until_up(30 * SEC).unwrap();
    p.run_for(600 * SEC, TRAFFIC);
    assert!(p.a.session.stats().keys >= 15);
    assert_eq!((p.a.ups, p.b.ups), (1, 1));
    p.assert_sound();
}

#[test]
fn a_restarted_peer_is_back_in_one_round_trip_without_nonce_reuse() {
    for seed in 50..60 {
        let mut p = Pair::net_gw(Faults::CLEAN, seed);
        p.run_until_up(10 * SEC).unwrap();
        p.run_for(5 * SEC + Duration::from_millis(seed * 37), TRAFFIC);
        let side = if seed % 2 == 0 { Side::A } else { Side::B };
        p.restart(side);
        let took = p.run_until_up(30 * SEC).expect("back up");
        assert!(took < SEC, "seed {seed}: back after {took:?}");
        let other = p.peer(side.other());
        assert_eq!(other.session.stats().peer_restarts, 1, "seed {seed}");
        assert_eq!(other.ups, 2);
        p.run_for(5 * SEC, TRAFFIC);
        p.assert_sound();
    }
}

#[test]
fn repeated_restarts_at_random_moments_never_reuse_a_nonce() {
    let mut p = Pair::with(
        Faults {
            loss: 0.05,
            ..Faults::CLEAN
        },
        60,
        |c| {
            c.nonce_reset_incr = 16;
            c.max_key_packets = 5000;
        },
    );
    let mut rng = SeededEntropy::new(99);
    for _ in 0..40 {
        let wait = Duration::from_millis(rng.next_u64() % 4000);
        p.run_for(wait, TRAFFIC);
        let side = if rng.next_u64().is_multiple_of(2) {
            Side::A
        } else {
            Side::B
        };
        p.restart(side);
    }
    p.run_until_up(60 * SEC).expect("up after the last restart");
    assert_eq!(p.a.restarts + p.b.restarts, 40);
    p.assert_sound();
}

#[test]
fn peer_death_returns_to_init_and_undoes_the_network() {
    let mut p = Pair::net_gw(Faults::CLEAN, 70);
    p.run_until_up(10 * SEC).unwrap();
    p.link.faults.loss = 1.0;
    p.run_for(19 * SEC, None);
    assert!(p.a.network_up, "declared dead too early");
    p.run_for(2 * SEC, None);
    assert!(!p.a.network_up && !p.b.network_up);
    assert_eq!(p.a.session.state(), State::Init);
    assert!(!p.a.session.key_is_ephemeral());
    assert!(p.a.events.contains(&Event::PeerDied));
    // Up for about 20 s (until the death), then down.
    let now = p.now;
    let active = p.a.session.time_active(now);
    assert!(active >= 19 * SEC && active <= 21 * SEC, "{active:?}");
    assert!(p.a.session.time_inactive(now) < 2 * SEC);
    p.link.faults.loss = 0.0;
    let took = p.run_until_up(10 * SEC).expect("back");
    let now = p.now;
    assert!(p.a.session.time_inactive(now) >= took);
    assert_eq!(
        p.a.session.time_active(now) + p.a.session.time_inactive(now),
        now - Timestamp::ZERO
    );
    assert!(took <= 5 * SEC + 100 * MS, "{took:?}");
    p.assert_sound();
}

#[test]
fn hours_of_rotation_by_age_and_by_count() {
    let mut p = Pair::with(Faults::CLEAN, 80, |c| {
        c.max_key_age = Duration::from_secs(30);
        c.max_key_packets = 5000;
    });
    p.run_until_up(10 * SEC).unwrap();
    // One hour idle: rotation by age only, every 30 s.
    p.run_for(3600 * SEC, None);
    let by_age = p.a.session.stats().keys;
    assert!((119..=122).contains(&by_age), "{by_age} keys in an hour");
    // Two minutes at 1000 packets/s each way: rotation by count, checked on
    // every datagram (W18), the slave's direction counted too. 240,000
    // data packets under the master's eyes, a key per 5000 datagrams
    // (data keeps flowing under the old key during each switch).
    p.run_for(120 * SEC, Some((Duration::from_millis(1), 64)));
    let keys = p.a.session.stats().keys - by_age;
    assert!((44..=50).contains(&keys), "{keys} rotations");
    assert_eq!(
        p.a.session.stats().decrypt_failures + p.b.session.stats().decrypt_failures,
        0
    );
    assert!(delivered_ratio(&p) > 0.999, "{}", delivered_ratio(&p));
    assert_eq!((p.a.ups, p.b.ups), (1, 1));
    p.assert_sound();
}

#[test]
fn ten_thousand_rotations_in_well_under_a_minute() {
    let started = Instant::now();
    let mut p = Pair::with(Faults::CLEAN, 90, |c| {
        c.max_key_age = Duration::from_secs(30);
    });
    p.run_until_up(10 * SEC).unwrap();
    while p.a.session.stats().keys < 10_000 {
        p.run_for(3600 * SEC, None);
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(60),
        "10,000 rotations took {elapsed:?}"
    );
    assert!(p.a.session.stats().keys.abs_diff(p.b.session.stats().keys) <= 1);
    assert_eq!((p.a.ups, p.b.ups), (1, 1));
    p.assert_sound();
}

#[test]
fn captured_datagrams_replayed_are_all_dropped() {
    let mut p = Pair::with(Faults::CLEAN, 100, |c| {
        c.max_key_age = Duration::from_secs(30)
    });
    p.capture = Some(Vec::new());
    p.run_until_up(10 * SEC).unwrap();
    p.run_for(100 * SEC, TRAFFIC);
    let captured = p.capture.take().unwrap();
    // Let what is still in flight arrive: a replay is a second delivery.
    p.run_for(SEC, None);
    assert!(captured.len() > 3000);
    let delivered_before = p.b.delivered.len();
    let drops_before = p.b.session.stats().bad_nonces + p.b.session.stats().decrypt_failures;
    let mut replayed = 0u64;
    // In order, then reversed: nothing gets through, every one is counted.
    for (to, datagram) in captured.iter().chain(captured.iter().rev()) {
        if *to == Side::B {
            replayed += 1;
            let r = p.inject(Side::B, addr(Side::A), datagram.clone());
            assert!(r.is_err(), "a replayed datagram was accepted: {r:?}");
        }
    }
    let s = p.b.session.stats();
    assert_eq!(s.bad_nonces + s.decrypt_failures - drops_before, replayed);
    assert_eq!(p.b.delivered.len(), delivered_before);
    // The tunnel still works.
    p.run_for(10 * SEC, TRAFFIC);
    assert!(p.b.delivered.len() > delivered_before + 150);
    assert_eq!(p.b.ups, 1);
    p.assert_sound();
}

#[test]
fn replay_from_another_address_does_not_move_the_peer() {
    let mut p = Pair::net_gw(Faults::CLEAN, 101);
    p.capture = Some(Vec::new());
    p.run_until_up(10 * SEC).unwrap();
    p.run_for(2 * SEC, TRAFFIC);
    let captured = p.capture.take().unwrap();
    p.run_for(SEC, None);
    let attacker = "198.18.9.9:1234".parse().unwrap();
    for (to, datagram) in captured.iter().filter(|(to, _)| *to == Side::B) {
        let _ = to;
        assert!(p.inject(Side::B, attacker, datagram.clone()).is_err());
    }
    assert_eq!(p.b.session.peer(), Some(addr(Side::A)));
}

#[test]
fn an_authentic_datagram_from_a_new_address_moves_the_peer() {
    let mut p = Pair::net_gw(Faults::CLEAN, 102);
    p.run_until_up(10 * SEC).unwrap();
    // Seal a packet at A, deliver it to B as if A's NAT mapping changed.
    let mut buf = vec![0u8; wire::BODY_OFFSET + 64];
    let now = p.now;
    let n = p.a.session.seal_packet(now, &mut buf, 64).unwrap();
    buf.truncate(n);
    let moved: std::net::SocketAddr = "198.18.5.5:40000".parse().unwrap();
    let r = p.inject(Side::B, moved, buf);
    assert!(matches!(r, Ok(Some(_))), "{r:?}");
    assert_eq!(p.b.session.peer(), Some(moved));
    assert!(p.b.events.contains(&Event::PeerAddress(Some(moved))));
}

#[test]
fn a_forged_huge_nonce_does_not_move_the_window() {
    let mut p = Pair::net_gw(Faults::CLEAN, 110);
    p.run_until_up(10 * SEC).unwrap();
    p.run_for(5 * SEC, TRAFFIC);
    let highest = p.b.session.recv_nonce();
    let mut forged = vec![0u8; 125];
    forged[..24].copy_from_slice(&[0xff; 24]);
    let r = p.inject(Side::B, addr(Side::A), forged);
    assert_eq!(r, Err(DropReason::DecryptFailure));
    assert_eq!(p.b.session.recv_nonce(), highest);
    let before = p.b.delivered.len();
    p.run_for(5 * SEC, TRAFFIC);
    assert!(p.b.delivered.len() > before + 50);
    p.assert_sound();
}

#[test]
fn short_long_and_garbage_datagrams_are_counted_not_fatal() {
    let mut p = Pair::net_gw(Faults::CLEAN, 111);
    p.run_until_up(10 * SEC).unwrap();
    let from = addr(Side::A);
    for len in 0..41 {
        assert_eq!(
            p.inject(Side::B, from, vec![0xab; len]),
            Err(DropReason::TooShort)
        );
    }
    assert_eq!(
        p.inject(Side::B, from, vec![0; 1542]),
        Err(DropReason::TooLong)
    );
    let mut rng = SeededEntropy::new(5);
    for len in 41..=1541 {
        let mut d = vec![0u8; len];
        rng.fill(&mut d);
        assert_eq!(p.inject(Side::B, from, d), Err(DropReason::DecryptFailure));
    }
    let s = p.b.session.stats();
    assert_eq!(s.drops_of(DropReason::TooShort), 41);
    assert_eq!(s.decrypt_failures, 1501);
    p.run_for(5 * SEC, TRAFFIC);
    assert_eq!(p.b.ups, 1);
    p.assert_sound();
}

fn host_gw_pair(seed: u64) -> Pair {
    let (ka, kb) = static_keys();
    let mut gw = config(Role::HostGw, ka, None);
    gw.push = Some(host_push());
    let client = config(Role::Host, kb, Some(addr(Side::A)));
    Pair::new(gw, client, Faults::CLEAN, seed)
}

#[test]
fn host_gw_waits_silently_then_pushes_to_the_client() {
    let mut p = host_gw_pair(120);
    assert_eq!(p.a.session.state(), State::HostWait);
    assert_eq!(p.a.session.peer(), None);
    assert!(
        p.a.sent_nonces.is_empty(),
        "host-gw must not send while waiting"
    );
    let took = p.run_until_up(10 * SEC).unwrap();
    assert!(took < 100 * MS, "{took:?}");
    assert_eq!(p.a.session.peer(), Some(addr(Side::B)));
    assert_eq!(p.b.pushed, vec![Some(host_push())]);
    assert_eq!(p.a.pushed, vec![None]);
    p.run_for(10 * SEC, TRAFFIC);
    p.assert_sound();
}

#[test]
fn host_gw_returns_to_waiting_after_the_timeout_and_accepts_the_client_again() {
    let mut p = host_gw_pair(121);
    p.run_until_up(10 * SEC).unwrap();
    p.link.faults.loss = 1.0;
    p.run_for(21 * SEC, None);
    assert_eq!(p.a.session.state(), State::Init);
    p.run_for(115 * SEC, None);
    assert_eq!(p.a.session.state(), State::Init, "gave up too early");
    p.run_for(10 * SEC, None);
    assert_eq!(p.a.session.state(), State::HostWait);
    assert_eq!(p.a.session.peer(), None);
    assert!(p.a.events.contains(&Event::PeerAddress(None)));
    p.link.faults.loss = 0.0;
    let took = p.run_until_up(10 * SEC).expect("client accepted again");
    assert!(took <= 5 * SEC + 100 * MS);
    assert_eq!(p.a.ups, 2);
    p.assert_sound();
}

#[test]
fn a_bad_push_is_refused_and_the_tunnel_still_works() {
    let (ka, kb) = static_keys();
    let mut gw = config(Role::HostGw, ka, None);
    let mut push = host_push();
    push.network = "0.0.0.0/0".parse().unwrap();
    gw.push = Some(push);
    let client = config(Role::Host, kb, Some(addr(Side::A)));
    let mut p = Pair::new(gw, client, Faults::CLEAN, 122);
    p.run_until_up(10 * SEC).unwrap();
    assert_eq!(p.b.pushed, vec![None]);
    assert!(
        p.b.events
            .iter()
            .any(|e| matches!(e, Event::PushRefused(_)))
    );
    p.run_for(5 * SEC, TRAFFIC);
    assert!(p.b.delivered.len() > 50);
}

#[test]
fn a_push_that_would_take_the_gateway_or_too_much_is_refused_by_the_client() {
    // The gateway is at 198.18.0.1 (Side::A).
    let wide = vpnd_proto::config::MinPushedPrefix { v4: 2, v6: 3 };
    for (seed, network, min, refused) in [
        (
            123,
            "198.18.0.0/15",
            Default::default(),
            "contains the gateway's address 198.18.0.1",
        ),
        (
            124,
            "64.0.0.0/2",
            Default::default(),
            "wider than /8 (min_pushed_prefix_v4)",
        ),
        (125, "64.0.0.0/2", wide, ""),
    ] {
        let (ka, kb) = static_keys();
        let mut gw = config(Role::HostGw, ka, None);
        let mut push = host_push();
        push.network = network.parse().unwrap();
        gw.push = Some(push.clone());
        let mut client = config(Role::Host, kb, Some(addr(Side::A)));
        client.min_pushed_prefix = min;
        let mut p = Pair::new(gw, client, Faults::CLEAN, seed);
        p.run_until_up(10 * SEC).unwrap();
        let why: Vec<String> =
            p.b.events
                .iter()
                .filter_map(|e| match e {
                    Event::PushRefused(e) => Some(e.to_string()),
                    _ => None,
                })
                .collect();
        if refused.is_empty() {
            assert_eq!(p.b.pushed, vec![Some(push)], "{network}");
            assert!(why.is_empty(), "{network}: {why:?}");
        } else {
            assert_eq!(p.b.pushed, vec![None], "{network}");
            assert!(
                why.iter().any(|w| w.contains(refused)),
                "{network}: {why:?}"
            );
        }
    }
}

/// A source whose first two bytes (the peer id) are fixed.
struct FixedFirstId {
    first: bool,
    inner: SeededEntropy,
}

impl Entropy for FixedFirstId {
    fn fill(&mut self, dest: &mut [u8]) {
        if std::mem::take(&mut self.first) && dest.len() == 2 {
            dest.copy_from_slice(&[0x34, 0x12]);
        } else {
            self.inner.fill(dest);
        }
    }
}

#[test]
fn equal_peer_ids_are_redrawn_and_the_session_starts() {
    use vpnd_proto::session::Session;
    let (ka, kb) = static_keys();
    let now = Timestamp::ZERO;
    let mut a_cfg = config(Role::NetGw, ka, Some(addr(Side::B)));
    a_cfg.send_nonce = Nonce::from_u64(1000);
    let mut b_cfg = config(Role::NetGw, kb, Some(addr(Side::A)));
    b_cfg.send_nonce = Nonce::from_u64(5000);
    let mut a = Session::new(
        a_cfg,
        now,
        FixedFirstId {
            first: true,
            inner: SeededEntropy::new(1),
        },
    );
    let mut b = Session::new(
        b_cfg,
        now,
        FixedFirstId {
            first: true,
            inner: SeededEntropy::new(2),
        },
    );
    a.local_nonce_saved(now, Nonce::from_u64(1000 + 10_000));
    b.local_nonce_saved(now, Nonce::from_u64(5000 + 10_000));
    assert_eq!(a.peer_id(), b.peer_id());
    let tied = a.peer_id();
    // Shuttle datagrams with no loss until both are active.
    let mut t = now;
    for _ in 0..100 {
        t = t + MS;
        let mut moved = false;
        while let Some(x) = a.poll_transmit() {
            let mut d = x.datagram;
            let _ = b.handle_datagram(t, addr(Side::A), &mut d);
            moved = true;
        }
        while let Some(x) = b.poll_transmit() {
            let mut d = x.datagram;
            let _ = a.handle_datagram(t, addr(Side::B), &mut d);
            moved = true;
        }
        if !moved {
            break;
        }
    }
    assert!(a.peer_id() != tied || b.peer_id() != tied, "nobody redrew");
    assert!(
        a.state().is_active() && b.state().is_active(),
        "{:?} {:?}",
        a.state(),
        b.state()
    );
}

/// Delivered packets in the last `window` of traffic, as a ratio.
fn recovers(p: &mut Pair, window: Duration) -> f64 {
    let (sent, got) = (p.data_sent, p.a.delivered.len() + p.b.delivered.len());
    p.run_for(window, TRAFFIC);
    let sent = p.data_sent - sent;
    let got = p.a.delivered.len() + p.b.delivered.len() - got;
    got as f64 / sent.max(1) as f64
}

/// Replays every captured datagram to both sides; asserts none is taken.
fn replay_all(p: &mut Pair, captured: &[(Side, Vec<u8>)]) {
    for (to, datagram) in captured {
        let r = p.inject(*to, addr(to.other()), datagram.clone());
        assert!(r.is_err(), "a replayed datagram was accepted: {r:?}");
    }
}

#[test]
fn clock_jumps_forward_are_survived_and_replays_still_refused() {
    for (side, jump) in [
        (Side::A, 3 * 3600 * SEC),
        (Side::B, 400 * SEC),
        (Side::A, 21 * SEC),
    ] {
        let mut p = Pair::with(Faults::CLEAN, 600, |c| c.max_key_age = 30 * SEC);
        p.capture = Some(Vec::new());
        p.run_until_up(10 * SEC).unwrap();
        p.run_for(40 * SEC, TRAFFIC);
        // The host slept, or its clock was set ahead: every timer of one
        // side is due at once (peer dead, key too old, retransmissions).
        p.jump(side, jump, Duration::ZERO);
        let ratio = recovers(&mut p, 60 * SEC);
        assert!(ratio > 0.9, "{side:?} +{jump:?}: delivered {ratio}");
        assert!(p.a.network_up && p.b.network_up, "{side:?} +{jump:?}");
        let captured = p.capture.take().unwrap();
        p.run_for(SEC, None);
        replay_all(&mut p, &captured);
        p.assert_sound();
    }
}

#[test]
fn clock_jumps_back_are_survived_and_replays_still_refused() {
    for (side, back) in [
        (Side::A, 3600 * SEC),
        (Side::B, 25 * SEC),
        (Side::A, 5 * SEC),
    ] {
        let mut p = Pair::with(Faults::CLEAN, 601, |c| c.max_key_age = 30 * SEC);
        p.capture = Some(Vec::new());
        p.run_until_up(10 * SEC).unwrap();
        p.run_for(40 * SEC, TRAFFIC);
        // A clock that went back (the daemon's never does: CLOCK_BOOTTIME;
        // the session must not depend on it): its timers lie far ahead.
        p.jump(side, Duration::ZERO, back);
        let ratio = recovers(&mut p, 90 * SEC);
        assert!(ratio > 0.5, "{side:?} -{back:?}: delivered {ratio}");
        assert!(p.a.network_up && p.b.network_up, "{side:?} -{back:?}");
        let tail = recovers(&mut p, 30 * SEC);
        assert!(tail > 0.95, "{side:?} -{back:?}: then delivered {tail}");
        let captured = p.capture.take().unwrap();
        p.run_for(SEC, None);
        replay_all(&mut p, &captured);
        p.assert_sound();
    }
}

#[test]
fn a_restart_with_the_wall_clock_set_back_reuses_no_nonce() {
    // Peer::restart gives the new session a Unix time of zero: only the
    // nonce file keeps the counter going up. Under a clock jump as well.
    let mut p = Pair::with(Faults::CLEAN, 602, |c| c.max_key_age = 30 * SEC);
    p.capture = Some(Vec::new());
    p.run_until_up(10 * SEC).unwrap();
    p.run_for(20 * SEC, TRAFFIC);
    p.jump(Side::B, 600 * SEC, Duration::ZERO);
    p.restart(Side::B);
    assert!(recovers(&mut p, 30 * SEC) > 0.9);
    p.jump(Side::B, Duration::ZERO, 1200 * SEC);
    p.restart(Side::B);
    assert!(recovers(&mut p, 30 * SEC) > 0.9);
    let captured = p.capture.take().unwrap();
    p.run_for(SEC, None);
    replay_all(&mut p, &captured);
    p.assert_sound();
    assert_eq!(p.b.restarts, 2);
}
