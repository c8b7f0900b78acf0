//! The operator's handles on a running vpnd: SIGUSR1 and the console
//! command `stats` make the network process log its state and counters; a
//! console line that is not a command reaches the peer as a debug string
//! and is logged there.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use vpnd_tests::daemon::signal;
use vpnd_tests::pair::Pair;

const DUMP: &str = "net: --- vpnd statistics ---";

#[test]
fn usr1_and_the_stats_command_dump_the_state_and_a_line_reaches_the_peer() {
    if !vpnd_tests::can_run("usr1_and_the_stats_command") {
        return;
    }
    let pair = Pair::new("console", "");
    let (mut da, db) = pair.start_both();
    let t = Duration::from_secs(10);

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
}
