//! The kernel offloads end to end (tun checksum, TSO and USO; UDP GSO and
//! GRO): 500 MB each way at once through the tunnel, checksummed on both
//! ends, with the offloads and without (`VPND_OFFLOAD=off`); and keys
//! rotating under that load without a segment lost. The wire carries one
//! MTU-sized packet per datagram either way (the interop tests and the
//! relay tests check the datagrams themselves). The network processes'
//! memory stays flat under the load.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::ffi::OsStr;

use vpnd_tests::daemon::{Daemon, all_drops as drops};
use vpnd_tests::pair::{HOST_A, HOST_B, Pair};
use vpnd_tests::traffic::{Transfer, tcp_transfer};

const EACH_WAY: u64 = 500 * 1024 * 1024;

/// `bytes` from a to b and from b to a, at the same time.
fn both_ways(pair: &Pair, bytes: u64) -> (Transfer, Transfer) {
    std::thread::scope(|s| {
        let ab = s.spawn(|| tcp_transfer(&pair.a.ns, HOST_A, &pair.b.ns, HOST_B, bytes));
        let ba = s.spawn(|| tcp_transfer(&pair.b.ns, HOST_B, &pair.a.ns, HOST_A, bytes));
        (ab.join().unwrap(), ba.join().unwrap())
    })
}

fn delta(after: &BTreeMap<String, u64>, before: &BTreeMap<String, u64>, key: &str) -> u64 {
    after[key] - before[key]
}

fn logged(d: &Daemon, line: &str) {
    assert!(
        d.log_text().contains(line),
        "no {line:?} in\n{}",
        d.log_text()
    );
}

#[test]
fn with_offloads_500_mb_each_way_arrive_whole_split_and_joined() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let pair = Pair::new("offload-on", "");
    let (da, db) = pair.start_both();
    for d in [&da, &db] {
        logged(
            d,
            "offloads: tun checksum, tun TSO, tun USO, UDP GSO, UDP GRO",
        );
    }
    // A first transfer touches every buffer (they are allocated at start,
    // their pages on first use); the network processes' memory must not
    // grow beyond that under 500 MB each way.
    let (warm_ab, warm_ba) = both_ways(&pair, 20 << 20);
    warm_ab.assert_whole("warm-up a to b");
    warm_ba.assert_whole("warm-up b to a");
    let net_pids = [da.net_pid().unwrap(), db.net_pid().unwrap()];
    let rss_before = net_pids.map(|p| vpnd_tests::procstat::rss_kb(p).unwrap());
    let before = (da.stats(), db.stats());
    let (ab, ba) = both_ways(&pair, EACH_WAY);
    ab.assert_whole("a to b");
    ba.assert_whole("b to a");
    let after = (da.stats(), db.stats());
    let rss_after = net_pids.map(|p| vpnd_tests::procstat::rss_kb(p).unwrap());
    for (before, after) in rss_before.iter().zip(&rss_after) {
        assert!(
            *after <= before + 64,
            "network process RSS {before} kB -> {after} kB"
        );
    }
    for (name, b, a) in [("a", &before.0, &after.0), ("b", &before.1, &after.1)] {
        // Both ends sent (data one way, acknowledgments the other) and
        // received: the kernel's large packets were split, and the peer's
        // segments joined.
        assert!(delta(a, b, "offload_split") > 1000, "{name}: {a:?}");
        assert!(delta(a, b, "offload_joined") > 1000, "{name}: {a:?}");
        assert_eq!(delta(a, b, "offload_refused"), 0, "{name}");
        assert_eq!(drops(a), drops(b), "{name}: drops during the transfer");
    }
}

#[test]
fn without_offloads_500_mb_each_way_arrive_whole() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let pair = Pair::new("offload-off", "");
    let (da, db) = pair.start_both_with_env(&[("VPND_OFFLOAD", OsStr::new("off"))]);
    for d in [&da, &db] {
        logged(d, "offloads: none (VPND_OFFLOAD=off)");
    }
    let (ab, ba) = both_ways(&pair, EACH_WAY);
    ab.assert_whole("a to b");
    ba.assert_whole("b to a");
    for d in [&da, &db] {
        let s = d.stats();
        assert_eq!(
            (s["offload_split"], s["offload_joined"]),
            (0, 0),
            "nothing split or joined without offloads"
        );
    }
}

#[test]
fn keys_rotate_under_full_load_and_no_segment_is_lost() {
    if !vpnd_tests::can_run!() {
        return;
    }
    // A rotation every 20,000 datagrams: some 25 during the transfer.
    let pair = Pair::new("offload-rotate", "max_key_packets: 20000\n");
    let (da, db) = pair.start_both();
    let before = (da.stats(), db.stats());
    // A segment lost anywhere on the way (a datagram dropped by vpnd, by
    // a socket or by the tun) reaches the receiver after its successors:
    // its TCP queues it out of order. (The sender's retransmission count
    // is no measure: a tail-loss probe on a busy machine counts there
    // without any loss.)
    let out_of_order = || pair.b.ns.netstat_counter("TcpExt", "TCPOFOQueue");
    let overflow = |ns: &vpnd_tests::netns::Netns| ns.udp_counter("RcvbufErrors");
    let ofo_before = out_of_order();
    let overflow_before = (overflow(&pair.a.ns), overflow(&pair.b.ns));
    let t = tcp_transfer(&pair.a.ns, HOST_A, &pair.b.ns, HOST_B, EACH_WAY);
    t.assert_whole("a to b");
    let after = (da.stats(), db.stats());
    let rotations = delta(&after.0, &before.0, "keys");
    assert!(rotations >= 10, "{rotations} rotations");
    for (name, b, a) in [("a", &before.0, &after.0), ("b", &before.1, &after.1)] {
        assert_eq!(
            drops(a),
            drops(b),
            "{name}: datagrams dropped across rotations"
        );
        assert_eq!(delta(a, b, "udp_send_errors"), 0, "{name}: send errors");
        assert_eq!(
            delta(a, b, "tun_write_errors"),
            0,
            "{name}: tun write errors"
        );
    }
    assert_eq!(
        (overflow(&pair.a.ns), overflow(&pair.b.ns)),
        overflow_before,
        "datagrams lost in a full socket buffer"
    );
    assert_eq!(
        out_of_order() - ofo_before,
        0,
        "segments the receiver got out of order (one was lost before them)"
    );
}
