//! Two site gateways end to end: internal hosts reach each other through
//! the tunnel (ICMP and 100 MB of TCP with matching checksums), keys
//! rotate under load without a decrypt failure, the route to the remote
//! network exists only while the session is up, and SIGTERM leaves
//! nothing configured; keys rotate as well when every datagram leaves by a
//! socket connected to the peer (FreeBSD's way).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use vpnd_tests::pair::{HOST_A, HOST_B, Pair};
use vpnd_tests::traffic::{self, tcp_transfer};

const HUNDRED_MB: u64 = 100 * 1024 * 1024;

#[test]
fn internal_hosts_reach_each_other_and_sigterm_cleans_up() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let pair = Pair::new("pair", "");
    let (mut da, mut db) = pair.start_both();
    assert!(traffic::ping(&pair.a.ns, HOST_A, HOST_B));
    assert!(traffic::ping(&pair.b.ns, HOST_B, HOST_A));
    let routes = pair
        .a
        .ns
        .ip_output(&["route", "show", "dev", &pair.a.device]);
    assert!(routes.contains("198.19.2.0/24"), "route on a: {routes}");

    let t = tcp_transfer(&pair.a.ns, HOST_A, &pair.b.ns, HOST_B, HUNDRED_MB);
    t.assert_whole("through the tunnel");

    let stats = da.stats();
    assert!(stats["tx.data_bytes"] >= HUNDRED_MB, "{stats:?}");
    assert_eq!(stats["decrypt_failures"], 0, "{stats:?}");

    let status = da.stop();
    assert!(status.success(), "vpnd a: {status}\n{}", da.log_text());
    let links = pair.a.ns.ip_output(&["link", "show"]);
    assert!(!links.contains(&pair.a.device), "tun left behind: {links}");
    let routes = pair.a.ns.ip_output(&["route", "show"]);
    assert!(
        !routes.contains("198.19.2.0"),
        "route left behind: {routes}"
    );
    assert!(!pair.a.pid_file.exists(), "pid file left behind");
    assert!(!pair.a.stats_path.exists(), "stats socket left behind");
    assert!(db.stop().success());
}

#[test]
fn keys_rotate_at_least_ten_times_under_load_without_decrypt_failures() {
    if !vpnd_tests::can_run!() {
        return;
    }
    // 5000 is the smallest max_key_packets the configuration takes.
    let pair = Pair::new("rot", "max_key_packets: 5000\n");
    let (da, db) = pair.start_both();
    let before = da.stats()["keys"];
    let t = tcp_transfer(&pair.a.ns, HOST_A, &pair.b.ns, HOST_B, HUNDRED_MB);
    t.assert_whole("rotating keys");
    let (sa, sb) = (da.stats(), db.stats());
    let rotations = sa["keys"] - before;
    assert!(rotations >= 10, "only {rotations} rotations: {sa:?}");
    for s in [&sa, &sb] {
        assert_eq!(s["decrypt_failures"], 0, "{s:?}");
        assert_eq!(s["drops.decrypt_failure"], 0, "{s:?}");
    }
}

#[test]
fn keys_rotate_with_connected_sockets_on_both_sides() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let pair = Pair::new("conn", "max_key_packets: 5000\n");
    let connected = std::ffi::OsStr::new("connected");
    let (mut da, mut db) = pair.start_both_with_env(&[("VPND_UDP_SENDS", connected)]);
    let before = da.stats()["keys"];
    let t = tcp_transfer(&pair.a.ns, HOST_A, &pair.b.ns, HOST_B, HUNDRED_MB);
    t.assert_whole("connected sockets, rotating keys");
    let (sa, sb) = (da.stats(), db.stats());
    assert!(sa["keys"] - before >= 10, "{sa:?}");
    for (d, s) in [(&da, &sa), (&db, &sb)] {
        assert_eq!(s["decrypt_failures"], 0, "{s:?}");
        let log = d.log_text();
        assert!(
            log.contains("UDP: sends leave by a socket connected to the peer"),
            "{log}"
        );
        assert_eq!(
            log.matches("by a socket connected to it").count(),
            1,
            "{log}"
        );
    }
    for d in [&mut da, &mut db] {
        let status = d.stop();
        assert!(status.success(), "{status}\n{}", d.log_text());
    }
}
