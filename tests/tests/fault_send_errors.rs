//! Send errors (W3): while the route to its peer refuses every datagram
//! (a `prohibit` route: sendto fails at once, locally), a starting peer's
//! handshake messages all fail. Its timers are armed regardless: once the
//! route is back, the next retransmission brings the session up, and the
//! failures were counted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use vpnd_tests::pair::{HOST_A, HOST_B, OUTER_A, Pair};
use vpnd_tests::traffic;

#[test]
fn failed_sends_during_the_handshake_do_not_stall_it() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let pair = Pair::new("senderr", "");
    let _da = pair.start(&pair.a);
    let blocked = format!("{OUTER_A}/32");
    pair.b.ns.ip(&["route", "add", "prohibit", &blocked]);
    let db = pair.start(&pair.b);
    // Two PEER_INFO intervals (5 s): b tries again and again, each time
    // failing, and answers a's PEER_INFO, failing too.
    std::thread::sleep(Duration::from_secs(11));
    let s = db.stats();
    let errors = s["udp_send_errors"];
    assert!(errors >= 3, "failed sends not retried: {s:?}");
    assert!(!traffic::ping(&pair.b.ns, HOST_B, HOST_A));

    pair.b.ns.ip(&["route", "del", "prohibit", &blocked]);
    let unblocked = Instant::now();
    assert!(
        traffic::wait_for_ping(&pair.b.ns, HOST_B, HOST_A, Duration::from_secs(15)),
        "no session after the route came back\n{}",
        db.log_text()
    );
    eprintln!(
        "{errors} sends failed; session up {:?} after the route came back",
        unblocked.elapsed()
    );
}
