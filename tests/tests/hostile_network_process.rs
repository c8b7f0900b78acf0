//! A network process that breaks the IPC protocol (a stand-in binary
//! behind the real parent): the parent kills it, undoes every network
//! change, removes its pid file and exits non-zero (doc/design.md, "The
//! privilege boundary").

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use vpnd_crypto::Nonce;
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
    if vpnd_tests::can_run!() {
        let log = stopped_and_clean("up_twice", "NetworkUp while the network is up");
        assert!(log.contains("network configured for the session"), "{log}");
    }
}

#[test]
fn pushed_values_for_a_net_gw_are_stopped() {
    if vpnd_tests::can_run!() {
        stopped_and_clean("pushed_for_net_gw", "pushed values in role net-gw");
    }
}

#[test]
fn network_down_before_up_is_stopped() {
    if vpnd_tests::can_run!() {
        stopped_and_clean("down_first", "NetworkDown while the network is down");
    }
}

#[test]
fn an_undecodable_frame_is_stopped() {
    if vpnd_tests::can_run!() {
        stopped_and_clean("garbage", "undecodable request");
    }
}

#[test]
fn descriptors_from_the_network_process_are_stopped() {
    if vpnd_tests::can_run!() {
        stopped_and_clean("descriptors", "sent descriptors");
    }
}

#[test]
fn a_local_nonce_going_backwards_is_stopped() {
    if vpnd_tests::can_run!() {
        stopped_and_clean("nonce_backwards", "Local nonce going backwards");
    }
}

#[test]
fn a_local_nonce_at_the_top_is_stopped_unwritten_and_a_restart_works() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let pair = Pair::new("poisonl", "stats_prefix: poison_local\n");
    // What an earlier run left: below the clock.
    let earlier = Nonce::from_time_and_random(vpnd_net::clock::unix_time() - 3600, [1; 16]);
    std::fs::write(&pair.a.local_nonce_file, earlier.as_bytes()).unwrap();
    let double = vpnd_tests::binary("vpnd-hostile-net");
    let mut d = pair.start_with_net_binary(&pair.a, &double);
    let status = d
        .wait_exit(Duration::from_secs(30))
        .unwrap_or_else(|| panic!("parent still running\n{}", d.log_text()));
    let log = d.log_text();
    assert_eq!(status.code(), Some(70), "{status}\n{log}");
    let top = format!(
        "Local nonce {} at the top of the nonce space",
        "ff".repeat(24)
    );
    assert!(log.contains(&top), "{log}");
    assert_eq!(
        std::fs::read(&pair.a.local_nonce_file).unwrap(),
        earlier.as_bytes(),
        "the nonce file changed"
    );
    // The real network process starts from the file and the tunnel
    // comes up.
    let (mut da, mut db) = pair.start_both();
    assert!(da.stop().success(), "{}", da.log_text());
    assert!(db.stop().success(), "{}", db.log_text());
}

#[test]
fn a_remote_nonce_far_ahead_is_warned_of_and_shown_by_the_check() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let pair = Pair::new("poisonr", "stats_prefix: poison_remote\n");
    let double = vpnd_tests::binary("vpnd-hostile-net");
    let mut d = pair.start_with_net_binary(&pair.a, &double);
    let far = format!("{}7f", "00".repeat(23));
    let warning = format!("remote nonce jumped far ahead: from none to {far}, beyond what a peer");
    assert!(
        d.wait_for_log(&warning, Duration::from_secs(20)),
        "{}",
        d.log_text()
    );
    let log = d.log_text();
    let refused = format!(
        "refused: remote nonce {}: at the top of the nonce space",
        "ff".repeat(24)
    );
    assert!(log.contains(&refused), "{log}");
    assert!(d.try_exit().is_none(), "a remote value stopped vpnd\n{log}");
    assert!(d.stop().success(), "{}", d.log_text());
    // a alone in a directory: b's file beside it takes the same port (in
    // another namespace), which `vpnd -n` refuses.
    let alone = pair.dir.join("a-alone");
    std::fs::create_dir(&alone).unwrap();
    let conf = alone.join("a.conf");
    std::fs::copy(&pair.a.conf, &conf).unwrap();
    let out = std::process::Command::new(vpnd_tests::binary("vpnd"))
        .args(["-n", "-c"])
        .arg(&conf)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    let shown = format!(
        "remote_nonce_file {}: {far} (ahead of the clock",
        pair.dir.join("a.remote_nonce").display()
    );
    assert!(stdout.contains(&shown), "{stdout}");
}

#[test]
fn a_connected_socket_asked_for_where_sends_name_their_destination_is_stopped() {
    if vpnd_tests::can_run!() {
        stopped_and_clean(
            "connect_unneeded",
            "ConnectPeer while sends name their destination",
        );
    }
}

#[test]
fn connected_sockets_beyond_the_budget_are_refused_and_vpnd_runs_on() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let pair = Pair::new("connfl", "stats_prefix: connect_flood\n");
    let double = vpnd_tests::binary("vpnd-hostile-net");
    let env = [
        ("VPND_TEST_NET_BINARY", double.as_os_str()),
        ("VPND_UDP_SENDS", std::ffi::OsStr::new("connected")),
    ];
    let mut d = pair.a.start_with_env(&pair.dir, &env);
    let refused =
        "not connecting a socket to 198.18.0.2:5059: more than 20 connected sockets in a minute";
    assert!(
        d.wait_for_log(refused, Duration::from_secs(20)),
        "{}",
        d.log_text()
    );
    assert!(d.try_exit().is_none(), "{}", d.log_text());
    let log = d.log_text();
    assert_eq!(
        log.matches("by a socket connected to it").count(),
        20,
        "{log}"
    );
    let status = d.stop();
    assert!(status.success(), "{status}\n{log}");
}

#[test]
fn lookups_of_the_peer_name_beyond_the_rate_are_refused_and_vpnd_runs_on() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let pair = Pair::new("resfl", "stats_prefix: resolve_flood\n");
    let double = vpnd_tests::binary("vpnd-hostile-net");
    let mut d = pair.start_with_net_binary(&pair.a, &double);
    assert!(
        d.wait_for_log("resolve_flood: 4 refused", Duration::from_secs(20)),
        "{}",
        d.log_text()
    );
    let log = d.log_text();
    assert!(
        log.contains("resolve_flood: the name has 198.18.0.2:4706"),
        "{log}"
    );
    assert_eq!(
        log.matches("refused: ResolvePeer: more than one per 10 s")
            .count(),
        4,
        "{log}"
    );
    assert!(d.try_exit().is_none(), "{log}");
    let status = d.stop();
    assert!(status.success(), "{status}\n{log}");
}

#[test]
fn a_network_process_that_never_greets_is_stopped() {
    if vpnd_tests::can_run!() {
        stopped_and_clean("silent", "no greeting within 10s");
    }
}

#[test]
fn a_flood_of_requests_that_wait_for_no_answer_is_refused_counted_and_stopped() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let log = stopped_and_clean(
        "flood",
        "more than 20 nonce writes in 10s asked for while one waited",
    );
    let configured = log.matches("network configured for the session").count();
    assert!(
        (1..=31).contains(&configured),
        "{configured} sessions configured\n{log}"
    );
    assert!(
        log.contains("requests from the network process refused"),
        "{log}"
    );
}

#[test]
fn what_the_network_process_writes_to_stderr_reaches_root_escaped_cut_and_marked_as_its() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let pair = Pair::new("stderr", "stats_prefix: stderr_escapes\n");
    let double = vpnd_tests::binary("vpnd-hostile-net");
    let mut d = pair.start_with_net_binary(&pair.a, &double);
    assert!(
        d.wait_for_log("after the long line", Duration::from_secs(20)),
        "{}",
        d.log_text()
    );
    let log = d.log_text();
    assert!(!log.contains('\x1b') && !log.contains('\x07'), "{log:?}");
    assert!(!log.contains('\u{202e}'), "{log:?}");
    assert!(
        log.contains(
            "] net: error: \\u{1b}]0;owned\\u{7}\\u{1b}[2Jred \\u{202e}gnp.exe\\u{202c}\n"
        ),
        "{log}"
    );
    let posing: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("network configured"))
        .collect();
    assert_eq!(posing.len(), 1, "{log}");
    assert!(posing[0].contains("] net: vpnd[1] parent: "), "{log}");
    let long = log.lines().find(|l| l.contains("yyyy")).unwrap();
    assert!(long.len() < 4200 && long.ends_with("y [cut]"), "{long}");
    assert!(
        log.contains("] net: warning: after the long line\n"),
        "{log}"
    );
    d.stop();
}

#[test]
fn sessions_beyond_the_rate_are_refused_counted_and_vpnd_runs_on() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let pair = Pair::new("upflood", "stats_prefix: up_flood\n");
    let double = vpnd_tests::binary("vpnd-hostile-net");
    let mut d = pair.start_with_net_binary(&pair.a, &double);
    // 40 sessions at once: the burst configured, the rest refused, and the
    // network process told how many.
    assert!(
        d.wait_for_log("up_flood done", Duration::from_secs(60)),
        "{}",
        d.log_text()
    );
    assert!(d.try_exit().is_none(), "{}", d.log_text());
    let log = d.log_text();
    let configured = log.matches("network configured for the session").count();
    assert!((30..=32).contains(&configured), "{configured}\n{log}");
    let refused = 40 - configured;
    assert!(
        log.contains(&format!("refused_requests {refused}\n")),
        "{refused} refused\n{log}"
    );
    assert!(
        log.contains("more than 30 sessions at once or one per 2 s"),
        "{log}"
    );
    let status = d.stop();
    assert!(status.success(), "{status}\n{log}");
    let routes = pair.a.ns.ip_output(&["route", "show"]);
    assert!(!routes.contains("198.19.2.0"), "route left: {routes}");
}
