//! Restarts (W2, W3): one peer killed with SIGKILL (parent and network
//! process) twenty times, at random moments: in the middle of its start
//! and handshake, right after it wrote a nonce file, and under traffic.
//! Every time the tunnel comes back, and no nonce ever repeats on the wire
//! in either direction (the relay logs every datagram's nonce).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use vpnd_tests::daemon::Daemon;
use vpnd_tests::pair::{HOST_A, HOST_B, Pair};
use vpnd_tests::relay::Rng;
use vpnd_tests::traffic;

const ROUNDS: usize = 21;

/// When a round kills the peer.
#[derive(Debug, Clone, Copy)]
enum Moment {
    /// Within its first 300 ms: starting, or in the handshake.
    Handshake,
    /// Within milliseconds of a nonce file being replaced.
    AfterPersist,
    /// At a random point under traffic.
    UnderTraffic,
}

fn mtime(path: &std::path::Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Kills `d` once its local nonce file changes (or after 5 s), with pings
/// flowing meanwhile so that nonces advance.
fn kill_after_persist(pair: &Pair, d: &mut Daemon) -> bool {
    let file = &pair.b.local_nonce_file;
    let first = mtime(file);
    let ns = pair.b.ns.name.clone();
    let flood = std::thread::spawn(move || {
        vpnd_tests::netns::Netns::named(&ns)
            .command("ping")
            .args(["-q", "-f", "-c", "3000", "-w", "3", "-I", HOST_B, HOST_A])
            .output()
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = false;
    while Instant::now() < deadline {
        if mtime(file) != first {
            seen = true;
            break;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    d.kill_all();
    let _ = flood.join();
    seen
}

#[test]
fn a_peer_killed_twenty_times_comes_back_and_never_repeats_a_nonce() {
    if !vpnd_tests::can_run!() {
        return;
    }
    // Nonce files rewritten every 16 datagrams: kills land near writes.
    let pair = Pair::relayed("restarts", "nonce_reset_incr: 16\nmax_key_packets: 5000\n");
    let relay = pair.start_relay(0xdead);
    let (da, mut db) = pair.start_both();
    let mut rng = Rng::new(relay.seed);
    let mut after_persist = 0;
    for round in 0..ROUNDS {
        let moment = [
            Moment::Handshake,
            Moment::AfterPersist,
            Moment::UnderTraffic,
        ][round % 3];
        match moment {
            Moment::Handshake => {
                db.kill_all();
                db = pair.b.start_with_env(&pair.dir, &[]);
                std::thread::sleep(Duration::from_millis(rng.range(0, 300)));
                db.kill_all();
            }
            Moment::AfterPersist => {
                after_persist += usize::from(kill_after_persist(&pair, &mut db));
            }
            Moment::UnderTraffic => {
                traffic::ping_flood(&pair.b.ns, HOST_B, HOST_A, 1000);
                std::thread::sleep(Duration::from_millis(rng.range(0, 1500)));
                db.kill_all();
            }
        }
        assert!(db.try_exit().is_some(), "round {round}: still running");
        let restarted = Instant::now();
        db = pair.start(&pair.b);
        assert!(
            traffic::wait_for_ping(&pair.b.ns, HOST_B, HOST_A, Duration::from_secs(30)),
            "round {round} ({moment:?}): no tunnel after the restart\n{}",
            db.log_text()
        );
        eprintln!(
            "round {round} ({moment:?}): tunnel back after {:?}",
            restarted.elapsed()
        );
    }
    assert!(
        after_persist >= ROUNDS / 3 - 1,
        "only {after_persist} kills right after a write"
    );
    let report = relay.report();
    for (dir, nonces) in [
        ("b to a", &report.b_to_a.nonces),
        ("a to b", &report.a_to_b.nonces),
    ] {
        let mut seen = HashSet::new();
        let repeated = nonces.iter().filter(|n| !seen.insert(**n)).count();
        assert_eq!(
            repeated,
            0,
            "{dir}: {repeated} of {} nonces sent twice",
            nonces.len()
        );
        eprintln!("{dir}: {} datagrams, every nonce unique", nonces.len());
    }
    assert!(report.b_to_a.nonces.len() > 5000, "{}", da.log_text());
}
