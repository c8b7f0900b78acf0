//! How vpnd ends: the network process killed (the parent undoes the
//! network, removes its pid file and exits non-zero), the parent panicking
//! (its panic hook kills the network process and undoes everything, with
//! no destructor's help), and a whole peer
//! killed and restarted (the session comes back; no nonce ever repeats on
//! the wire, captured in the namespace).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::time::Duration;

use vpnd_tests::capture::Capture;
use vpnd_tests::daemon::signal;
use vpnd_tests::pair::{HOST_A, HOST_B, OUTER_A, Pair};
use vpnd_tests::traffic;

#[test]
fn killing_the_network_process_unconfigures_and_exits_non_zero() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let pair = Pair::new("kill", "");
    let (mut da, _db) = pair.start_both();
    let routes = pair.a.ns.ip_output(&["route", "show"]);
    assert!(routes.contains("198.19.2.0/24"), "{routes}");
    let net = da.net_pid().unwrap();
    signal(net, nix::sys::signal::SIGKILL);
    let status = da
        .wait_exit(Duration::from_secs(15))
        .unwrap_or_else(|| panic!("parent still running:\n{}", da.log_text()));
    assert_eq!(status.code(), Some(70), "{}", da.log_text());
    assert!(
        da.log_text().contains("killed by signal 9"),
        "{}",
        da.log_text()
    );
    let routes = pair.a.ns.ip_output(&["route", "show"]);
    assert!(!routes.contains("198.19.2.0"), "route left: {routes}");
    let links = pair.a.ns.ip_output(&["link", "show"]);
    assert!(!links.contains(&pair.a.device), "tun left: {links}");
    assert!(!pair.a.pid_file.exists(), "pid file left");
    assert!(!pair.a.stats_path.exists(), "stats socket left");
}

#[test]
fn a_panic_in_the_parent_undoes_everything_without_unwinding() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let pair = Pair::new("panic", "");
    // SIGUSR1 makes a debug build's parent panic where no unwinding can
    // reach a destructor, as every panic of a release build aborts.
    let (mut da, _db) =
        pair.start_both_with_env(&[("VPND_TEST_PANIC_ON_USR1", std::ffi::OsStr::new("1"))]);
    let routes = pair.a.ns.ip_output(&["route", "show"]);
    assert!(routes.contains("198.19.2.0/24"), "{routes}");
    let net = da.net_pid().unwrap();
    signal(da.pid(), nix::sys::signal::SIGUSR1);
    let status = da
        .wait_exit(Duration::from_secs(30))
        .unwrap_or_else(|| panic!("parent still running:\n{}", da.log_text()));
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(6), "not aborted: {status}");
    let log = da.log_text();
    assert!(
        log.contains("a forced panic; undoing every change"),
        "{log}"
    );
    assert!(
        !std::path::Path::new(&format!("/proc/{net}")).exists(),
        "network process left running\n{log}"
    );
    let routes = pair.a.ns.ip_output(&["route", "show"]);
    assert!(
        !routes.contains("198.19.2.0"),
        "route left: {routes}\n{log}"
    );
    let links = pair.a.ns.ip_output(&["link", "show"]);
    assert!(!links.contains(&pair.a.device), "tun left: {links}");
    assert!(!pair.a.pid_file.exists(), "pid file left\n{log}");
    assert!(!pair.a.stats_path.exists(), "stats socket left\n{log}");
}

#[test]
fn a_peer_killed_and_restarted_comes_back_without_repeating_a_nonce() {
    if !vpnd_tests::can_run!() {
        return;
    }
    // Small increments: the nonce file is rewritten often, so kills land
    // near writes too.
    let pair = Pair::new("restart", "nonce_reset_incr: 100\nmax_key_packets: 5000\n");
    let capture = Capture::start(&pair.a.ns.name, OUTER_A.parse().unwrap(), 4706);
    let (mut da, _db) = pair.start_both();
    let mut delays = [0u64, 150, 700, 30, 400].into_iter();
    for round in 0..5 {
        // Traffic, so that nonces advance past persisted values.
        traffic::ping_flood(&pair.a.ns, HOST_A, HOST_B, 300);
        std::thread::sleep(Duration::from_millis(delays.next().unwrap_or(0)));
        da.kill_all();
        assert!(da.try_exit().is_some(), "round {round}: still running");
        da = pair.start(&pair.a);
        assert!(
            traffic::wait_for_ping(&pair.a.ns, HOST_A, HOST_B, Duration::from_secs(30)),
            "round {round}: no session after the restart\n{}",
            da.log_text()
        );
    }
    let nonces = capture.finish_nonces();
    // 5 rounds of 300 pings, and the handshakes.
    assert!(nonces.len() > 1500, "captured only {}", nonces.len());
    let mut seen = HashSet::new();
    let repeated: Vec<_> = nonces.iter().filter(|n| !seen.insert(**n)).collect();
    assert!(repeated.is_empty(), "{} nonces sent twice", repeated.len());
}

#[test]
fn the_route_goes_when_the_peer_dies_and_returns_with_it() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let pair = Pair::new("death", "");
    let (da, mut db) = pair.start_both();
    db.kill_all();
    // The peer is declared dead after 20 s without an authenticated
    // datagram; then the session's changes are undone.
    let deadline = std::time::Instant::now() + Duration::from_secs(40);
    let route_gone = || {
        !pair
            .a
            .ns
            .ip_output(&["route", "show"])
            .contains("198.19.2.0")
    };
    while !route_gone() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(route_gone(), "route still there\n{}", da.log_text());
    assert!(
        da.log_text()
            .contains("network unconfigured: session ended")
    );
    // The tun stays up while vpnd runs.
    let link = pair.a.ns.ip_output(&["link", "show", &pair.a.device]);
    assert!(link.contains("UP"), "{link}");
    let _db = pair.start(&pair.b);
    assert!(traffic::wait_for_ping(
        &pair.a.ns,
        HOST_A,
        HOST_B,
        Duration::from_secs(30)
    ));
}
