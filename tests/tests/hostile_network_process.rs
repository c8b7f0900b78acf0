//! A network process that breaks the IPC protocol (a stand-in binary
//! behind the real parent): the parent kills it, undoes every network
//! change, removes its pid file and exits non-zero (STYLE.md, "The
//! privilege boundary").

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use vpnd_tests::pair::Pair;

/// Runs gateway a with the stand-in in `mode`; returns the parent's log.
fn stopped_and_clean(mode: &str, expected_in_log: &str) -> String {
    let pair = Pair::new("hostile", &format!("stats_prefix: {mode}\n"));
    let double = vpnd_tests::binary("vpnd-hostile-net");
    let mut d = pair.start_with_net_binary(&pair.a, &double);
    let status = d
        .wait_exit(Duration::from_secs(30))
        .unwrap_or_else(|| panic!("{mode}: parent still running\n{}", d.log_text()));
    let log = d.log_text();
    assert_eq!(status.code(), Some(70), "{mode}: {status}\n{log}");
    assert!(log.contains(expected_in_log), "{mode}: log:\n{log}");
    let routes = pair.a.ns.ip_output(&["route", "show"]);
    assert!(
        !routes.contains("198.19.2.0"),
        "{mode}: route left: {routes}"
    );
    let links = pair.a.ns.ip_output(&["link", "show"]);
    assert!(!links.contains(&pair.a.device), "{mode}: tun left: {links}");
    assert!(!pair.a.pid_file.exists(), "{mode}: pid file left");
    log
}

#[test]
fn a_second_network_up_after_one_applied_is_stopped_and_undone() {
    if vpnd_tests::can_run("a_second_network_up") {
        let log = stopped_and_clean("up_twice", "NetworkUp while the network is up");
        assert!(log.contains("network configured for the session"), "{log}");
    }
}

#[test]
fn pushed_values_for_a_net_gw_are_stopped() {
    if vpnd_tests::can_run("pushed_values_for_a_net_gw") {
        stopped_and_clean("pushed_for_net_gw", "pushed values in role net-gw");
    }
}

#[test]
fn network_down_before_up_is_stopped() {
    if vpnd_tests::can_run("network_down_before_up") {
        stopped_and_clean("down_first", "NetworkDown while the network is down");
    }
}

#[test]
fn an_undecodable_frame_is_stopped() {
    if vpnd_tests::can_run("an_undecodable_frame") {
        stopped_and_clean("garbage", "undecodable request");
    }
}

#[test]
fn descriptors_from_the_network_process_are_stopped() {
    if vpnd_tests::can_run("descriptors_from_the_network_process") {
        stopped_and_clean("descriptors", "sent descriptors");
    }
}

#[test]
fn a_local_nonce_going_backwards_is_stopped() {
    if vpnd_tests::can_run("a_local_nonce_going_backwards") {
        stopped_and_clean("nonce_backwards", "Local nonce going backwards");
    }
}

#[test]
fn a_network_process_that_never_greets_is_stopped() {
    if vpnd_tests::can_run("a_network_process_that_never_greets") {
        stopped_and_clean("silent", "no greeting within 10s");
    }
}
