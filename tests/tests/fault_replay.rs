//! Replays (W5): thousands of authentic datagrams recorded by the relay
//! and sent again, in order, reversed and interleaved, under the key they
//! were sealed with and after the keys rotated: none reaches the tun (each
//! carries a unique number, the receiver counts them), each is counted as
//! a drop, and the tunnel keeps working.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use vpnd_tests::daemon::{Daemon, unauthenticated_drops};
use vpnd_tests::numbered::{self, Receiver};
use vpnd_tests::pair::{HOST_A, HOST_B, Pair};
use vpnd_tests::relay::{Dir, Order};
use vpnd_tests::traffic;

const PORT: u16 = 9100;

/// Replays what the relay recorded towards b in `order`; asserts b drops
/// every one and the receiver sees none of them again.
fn replay_and_check(
    relay: &vpnd_tests::relay::Relay,
    db: &Daemon,
    rx: &Receiver,
    order: Order,
) -> usize {
    let before = db.stats();
    let total_before = rx.total();
    let n = relay.replay(Dir::AtoB, order);
    relay.wait_idle();
    // Until b has counted them all (it reads its socket as fast as they come).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while unauthenticated_drops(&db.stats()) < unauthenticated_drops(&before) + n as u64
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let after = db.stats();
    assert_eq!(
        rx.total(),
        total_before,
        "{order:?}: replayed datagrams reached the tun"
    );
    assert!(rx.repeated().is_empty(), "{order:?}: {:?}", rx.repeated());
    assert_eq!(
        unauthenticated_drops(&after) - unauthenticated_drops(&before),
        n as u64,
        "{order:?}: b's drops rose by other than the {n} replayed\nbefore {before:?}\nafter {after:?}"
    );
    // Meanwhile only a few genuine control datagrams were accepted.
    let accepted = after["rx.packets"] - before["rx.packets"];
    assert!(
        accepted <= 20,
        "{order:?}: {accepted} datagrams accepted during the replay"
    );
    n
}

#[test]
fn replayed_datagrams_are_never_delivered_before_or_after_rotations() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let pair = Pair::relayed("replay", "max_key_packets: 5000\n");
    let relay = pair.start_relay(0x7e91a);
    let (_da, db) = pair.start_both();
    let rx = Receiver::start(&pair.b.ns, HOST_B, PORT);

    relay.record(Dir::AtoB, true);
    numbered::send(&pair.a.ns, HOST_A, HOST_B, PORT, 0..3000, 200);
    // Nearly all: a loaded machine may lose a few on the way to the
    // receiver; what matters is that nothing arrives twice.
    assert!(
        rx.wait_for(2970, Duration::from_secs(20)),
        "only {} of 3000 arrived",
        rx.distinct()
    );
    rx.settle(Duration::from_secs(5));
    relay.record(Dir::AtoB, false);
    let keys_at_recording = db.stats()["keys"];

    // Under the key they were sealed with (or the one just before it).
    let mut replayed = replay_and_check(&relay, &db, &rx, Order::InOrder);
    replayed += replay_and_check(&relay, &db, &rx, Order::Interleaved);

    // Rotate the keys (every 5000 datagrams), then replay again.
    numbered::send(&pair.a.ns, HOST_A, HOST_B, PORT, 3000..15000, 100);
    assert!(
        rx.wait_for(14850, Duration::from_secs(30)),
        "only {} of 15000 arrived",
        rx.distinct()
    );
    rx.settle(Duration::from_secs(5));
    let keys = db.stats()["keys"];
    assert!(
        keys >= keys_at_recording + 2,
        "keys {keys_at_recording} -> {keys}"
    );
    replayed += replay_and_check(&relay, &db, &rx, Order::Reversed);
    replayed += replay_and_check(&relay, &db, &rx, Order::InOrder);

    assert!(replayed >= 4 * 3000, "replayed {replayed}");
    assert!(
        traffic::ping(&pair.a.ns, HOST_A, HOST_B),
        "the tunnel after the replays"
    );
    let before = rx.distinct();
    numbered::send(&pair.a.ns, HOST_A, HOST_B, PORT, 15000..15100, 100);
    assert!(rx.wait_for(before + 99, Duration::from_secs(10)));
    assert!(rx.repeated().is_empty());
    eprintln!(
        "replayed {replayed} datagrams (seed {:#x}): 0 delivered",
        relay.seed
    );
}
