//! Clocks: one peer's network process runs in a time namespace whose
//! monotonic and boot clocks are ten days ahead (as after a long uptime or
//! a suspend); then it is killed and restarted with its clocks only one
//! day ahead (they went back). The tunnel works each time, carries a
//! checksummed transfer, and no nonce repeats on the wire.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::time::Duration;

use vpnd_tests::daemon::Daemon;
use vpnd_tests::pair::{HOST_A, HOST_B, Pair};
use vpnd_tests::traffic::{self, tcp_transfer};

const DAY: u64 = 86_400;

/// Starts b with its network process in a new time namespace, `ahead`
/// seconds ahead (unshare(1) without --fork: vpnd itself stays in ours,
/// the process it starts enters the new one).
fn start_ahead(pair: &Pair, ahead: u64) -> Daemon {
    let secs = ahead.to_string();
    let wrapper = [
        "unshare",
        "--time",
        "--monotonic",
        &secs,
        "--boottime",
        &secs,
    ];
    let mut d = pair.b.start_wrapped(&pair.dir, &[], &wrapper);
    d.wait_running(Duration::from_secs(20));
    d
}

fn check_offsets(d: &Daemon, ahead: u64) {
    let net = d.net_pid().unwrap();
    let own = std::fs::read_link("/proc/self/ns/time").unwrap();
    let theirs = std::fs::read_link(format!("/proc/{net}/ns/time")).unwrap();
    assert_ne!(own, theirs, "the network process shares our time namespace");
    let offsets = std::fs::read_to_string(format!("/proc/{net}/timens_offsets")).unwrap();
    for clock in ["monotonic", "boottime"] {
        assert!(
            offsets
                .lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>()[..2]
                    == [clock, &ahead.to_string()]),
            "{clock} not {ahead} s ahead: {offsets}"
        );
    }
}

#[test]
fn a_peer_whose_clocks_run_days_ahead_or_went_back_keeps_the_tunnel() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let pair = Pair::relayed("clock", "nonce_reset_incr: 100\n");
    let relay = pair.start_relay(0xc10c);
    let _da = pair.start(&pair.a);
    for (round, ahead) in [10 * DAY, DAY].into_iter().enumerate() {
        let mut db = start_ahead(&pair, ahead);
        check_offsets(&db, ahead);
        assert!(
            traffic::wait_for_ping(&pair.a.ns, HOST_A, HOST_B, Duration::from_secs(30)),
            "round {round}: no tunnel with b's clocks {ahead} s ahead\n{}",
            db.log_text()
        );
        let t = tcp_transfer(&pair.a.ns, HOST_A, &pair.b.ns, HOST_B, 20 << 20);
        t.assert_whole(&format!("round {round}"));
        let stats = db.stats();
        assert!(
            stats["key_age_secs"] < 60 && stats["cur_sess_secs"] < 60,
            "{stats:?}"
        );
        db.kill_all();
    }
    let report = relay.report();
    for nonces in [&report.a_to_b.nonces, &report.b_to_a.nonces] {
        let mut seen = HashSet::new();
        assert!(
            nonces.iter().all(|n| seen.insert(*n)),
            "a nonce was sent twice"
        );
    }
}
