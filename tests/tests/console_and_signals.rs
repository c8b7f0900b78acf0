//! The operator's handles on a running vpnd: SIGUSR1 and the console
//! command `stats` (root's standard input is read by the parent, which
//! relays it to the network process through a pipe) make the network
//! process log its state and counters; a
//! console line that is not a command reaches the peer as a debug string
//! and is logged there, a stream of them only up to the log budget.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use vpnd_tests::daemon::signal;
use vpnd_tests::pair::Pair;

const DUMP: &str = "net: --- vpnd statistics ---";

#[test]
fn usr1_and_the_stats_command_dump_the_state_and_a_line_reaches_the_peer() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let pair = Pair::new("console", "");
    let (mut da, db) = pair.start_both();
    let t = Duration::from_secs(10);
    // The network process holds a pipe the parent relays the console
    // into, never the parent's standard input itself (root's terminal).
    let stdin = std::fs::read_link(format!("/proc/{}/fd/0", da.pid())).unwrap();
    let net = da.net_pid().expect("network process");
    let held: Vec<_> = std::fs::read_dir(format!("/proc/{net}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.unwrap().path()).ok())
        .collect();
    assert!(!held.contains(&stdin), "{stdin:?} in {held:?}");

    signal(da.pid(), nix::sys::signal::SIGUSR1);
    assert!(da.wait_for_log(DUMP, t), "{}", da.log_text());
    for line in [
        "NET GW is ACTIVE",
        "sessions: 1",
        "decrypt failures: 0",
        "TX nonce: ",
    ] {
        assert!(da.wait_for_log(line, t), "{line}: {}", da.log_text());
    }
    // Every line vpnd(8) shows, in its order, at the default level.
    let documented = vpnd_tests::manual::documented_dump();
    assert!(documented.len() >= 19, "vpnd(8) shows {documented:?}");
    assert!(da.wait_for_log("net: RX nonce: ", t), "{}", da.log_text());
    let log = da.log_text();
    let dumped: Vec<&str> = log
        .lines()
        .filter_map(|l| l.split_once("net: ").map(|(_, rest)| rest))
        .skip_while(|l| !l.starts_with("--- vpnd statistics"))
        .take(documented.len())
        .collect();
    for (shown, logged) in documented.iter().zip(&dumped) {
        // The part before the values: "data bytes rx/tx", "NET GW is ACTIVE".
        let head = shown.split(':').next().unwrap().split(" (").next().unwrap();
        assert!(
            logged.starts_with(head),
            "{logged:?} vs. vpnd(8)'s {shown:?}"
        );
    }
    assert_eq!(dumped.len(), documented.len(), "{log}");

    assert!(!db.log_text().contains(DUMP));
    da.type_line("hello from the console of a");
    assert!(
        db.wait_for_log("net: peer says: hello from the console of a", t),
        "{}",
        db.log_text()
    );
    da.type_line("");
    da.type_line("stats");
    let dumps = || da.log_text().matches(DUMP).count();
    let deadline = std::time::Instant::now() + t;
    while dumps() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(dumps(), 2, "{}", da.log_text());

    // A stream of lines: the peer logs a few and counts the rest, it does
    // not log one line per datagram.
    for i in 0..50 {
        da.type_line(&format!("line {i} of a stream"));
    }
    assert!(
        db.wait_for_log("net: peer says: line 3 of a stream", t),
        "{}",
        db.log_text()
    );
    std::thread::sleep(Duration::from_secs(1));
    let logged = db.log_text().matches("net: peer says: ").count();
    assert_eq!(logged, 5, "{}", db.log_text());
}
