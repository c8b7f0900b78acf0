//! A lossy, reordering, duplicating link (the relay, both directions) under
//! 100 MB TCP transfers, as many as it takes for ten key rotations (keys
//! rotate every 5000 datagrams; a few datagrams are truncated or
//! bit-flipped on the way): each
//! transfer completes with a matching checksum, every datagram the relay
//! delivered is either accepted once or counted as a drop (no duplicate is
//! accepted), and the keys rotate at least ten times on the way.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use vpnd_tests::daemon::unauthenticated_drops;
use vpnd_tests::pair::{HOST_A, HOST_B, Pair};
use vpnd_tests::relay::{Dir, Faults, Relay, Report};
use vpnd_tests::traffic::{self, tcp_transfer};

/// One transfer. A rotation's handshake over a 10 % loss link takes up to
/// a retransmission (500 ms) whatever the packet budget says, and with the
/// offloads TCP moves 100 MB through this link in some three seconds: the
/// test sends transfers until the keys rotated ten times.
const TRANSFER: u64 = 100 * 1024 * 1024;
/// At most this many transfers.
const MAX_TRANSFERS: u32 = 12;

/// The relay's report and b's counters at a moment when nothing moves (the
/// report the same before and after reading the counters).
fn quiet_snapshot(
    relay: &Relay,
    db: &vpnd_tests::daemon::Daemon,
) -> (Report, BTreeMap<String, u64>) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let before = relay.report();
        std::thread::sleep(Duration::from_millis(200));
        let stats = db.stats();
        let after = relay.report();
        if before.a_to_b.delivered == after.a_to_b.delivered || Instant::now() > deadline {
            return (after, stats);
        }
    }
}

#[test]
fn a_transfer_survives_loss_reordering_and_duplication_with_rotations() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let pair = Pair::relayed("lossy", "max_key_packets: 5000\n");
    let relay = pair.start_relay(0x10557);
    let (_da, db) = pair.start_both();
    let faults = Faults {
        drop: 0.10,
        duplicate: 0.05,
        reorder: 0.10,
        max_displacement: 8,
        truncate: 0.005,
        bitflip: 0.005,
        ..Faults::default()
    };
    // Deltas from here: a's first datagrams reached b's address before b
    // listened.
    let (report0, stats0) = quiet_snapshot(&relay, &db);
    let keys_before = stats0["keys"];
    let overflow_before = pair.b.ns.udp_counter("RcvbufErrors");
    relay.set_faults(Dir::AtoB, faults);
    relay.set_faults(Dir::BtoA, faults);
    let started = Instant::now();
    let mut transfers = 0;
    loop {
        let t = tcp_transfer(&pair.a.ns, HOST_A, &pair.b.ns, HOST_B, TRANSFER);
        transfers += 1;
        t.assert_whole("through the lossy link");
        if db.stats()["keys"] - keys_before >= 10 || transfers == MAX_TRANSFERS {
            break;
        }
    }
    let took = started.elapsed();
    relay.set_faults(Dir::AtoB, Faults::default());
    relay.set_faults(Dir::BtoA, Faults::default());

    let (report, stats) = quiet_snapshot(&relay, &db);
    // Datagrams b's kernel dropped for a full socket buffer never reached
    // vpnd (the tests run a debug build).
    let overflow = pair.b.ns.udp_counter("RcvbufErrors") - overflow_before;
    let r = &report.a_to_b;
    let rotations = stats["keys"] - keys_before;
    eprintln!(
        "{} MB in {took:?} (seed {:#x}): a->b received {} dropped {} duplicated {} reordered {}; \
         b accepted {} dropped {} ({:?}), socket overflow {overflow}; {rotations} rotations",
        u64::from(transfers) * (TRANSFER >> 20),
        relay.seed,
        r.received,
        r.dropped,
        r.duplicated,
        r.reordered,
        stats["rx.packets"],
        unauthenticated_drops(&stats),
        stats
            .iter()
            .filter(|(k, v)| k.starts_with("drops.") && **v > 0)
            .collect::<Vec<_>>()
    );
    assert!(
        r.dropped > r.received / 20,
        "the relay dropped too little: {r:?}"
    );
    assert!(r.duplicated > 0 && r.reordered > 0 && r.truncated > 0 && r.flipped > 0);
    assert!(rotations >= 10, "{rotations} rotations");
    // No duplicate accepted: b accepted at most one copy of each distinct
    // datagram, and every datagram delivered is accounted for.
    assert!(
        stats["rx.packets"] <= r.distinct_delivered,
        "b accepted {} of {} distinct datagrams",
        stats["rx.packets"],
        r.distinct_delivered
    );
    assert_eq!(
        stats["rx.packets"] - stats0["rx.packets"] + unauthenticated_drops(&stats)
            - unauthenticated_drops(&stats0)
            + overflow,
        r.delivered - report0.a_to_b.delivered,
        "b's authenticated and refused datagrams vs. what the relay delivered"
    );
    assert!(stats["drops.replayed"] > 0, "duplicates counted as replays");
    assert!(traffic::ping(&pair.a.ns, HOST_A, HOST_B));
}
