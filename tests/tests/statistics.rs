//! The stats socket of a running pair: every metric vpnd(8) documents, and
//! no other; counters that rise with traffic and never fall; a client that
//! holds its connection open (or eight of them) delays nobody else; and
//! `vpnd -s` prints the status block, `vpnd -s -j` the status as JSON.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::io::Read;
use std::os::unix::net::UnixStream;
use std::process::Output;
use std::time::Duration;

use vpnd_tests::daemon::parse_graphite;
use vpnd_tests::manual;
use vpnd_tests::pair::{HOST_A, HOST_B, OUTER_B, Pair, Side};
use vpnd_tests::traffic;

/// Counters that rise with every ping through the tunnel.
const TRAFFIC: [&str; 4] = ["rx.data_bytes", "tx.data_bytes", "rx.packets", "tx.packets"];

/// Gauges: they may fall.
const GAUGES: [&str; 3] = ["cur_sess_secs", "key_age_secs", "state"];

fn status_of(side: &Side) -> Output {
    side.ns
        .command(vpnd_tests::binary("vpnd"))
        .arg("-s")
        .arg("-c")
        .arg(&side.conf)
        .output()
        .unwrap()
}

#[test]
fn graphite_lines_are_the_documented_metrics_and_counters_rise() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let documented = manual::documented_metrics();
    assert!(documented.len() > 30, "vpnd(8) lists {documented:?}");
    let pair = Pair::new("graphite", "stats_prefix: gw_a.example\n");
    let (da, _db) = pair.start_both();

    let text = da.graphite_text();
    let unix_now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        assert_eq!(f.len(), 3, "{line:?}");
        assert!(f[0].starts_with("gw_a.example.vpnd."), "{line:?}");
        f[1].parse::<u64>().unwrap();
        let t: u64 = f[2].parse().unwrap();
        assert!(t.abs_diff(unix_now) < 60, "time of {line:?}");
    }
    let before = parse_graphite(&text);
    let names: BTreeSet<&String> = before.keys().collect();
    let documented_set: BTreeSet<&String> = documented.iter().collect();
    assert_eq!(names, documented_set, "metrics vs. vpnd(8)");
    let order: Vec<&str> = text
        .lines()
        .map(|l| {
            l.split(' ')
                .next()
                .unwrap()
                .trim_start_matches("gw_a.example.vpnd.")
        })
        .collect();
    assert_eq!(order, documented, "the documented order");

    assert!(traffic::ping_flood(&pair.a.ns, HOST_A, HOST_B, 50));
    let after = da.stats();
    for name in TRAFFIC {
        assert!(
            after[name] > before[name],
            "{name}: {before:?} -> {after:?}"
        );
    }
    for (name, value) in &before {
        if !GAUGES.contains(&name.as_str()) {
            assert!(
                after[name] >= *value,
                "{name} fell: {before:?} -> {after:?}"
            );
        }
    }
    assert!(after["tx.packets"] >= before["tx.packets"] + 50);
    // ACTIVE (MASTER) or ACTIVE (SLAVE): the peers' ids decide.
    assert!([5, 6].contains(&after["state"]), "{after:?}");
}

#[test]
fn silent_clients_holding_connections_delay_no_other_client() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let pair = Pair::new("statshold", "");
    let (da, _db) = pair.start_both();
    // More silent clients than the daemon lets wait for a request.
    let mut held: Vec<UnixStream> = (0..9)
        .map(|_| UnixStream::connect(&da.stats_path).unwrap())
        .collect();
    let served = da.stats();
    assert!(served.contains_key("keys"), "{served:?}");
    // The tunnel still carries traffic meanwhile.
    assert!(traffic::ping(&pair.a.ns, HOST_A, HOST_B));
    // The silent ones get their Graphite lines too, once their wait is
    // over; none is left hanging.
    for s in &mut held {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        assert!(parse_graphite(&text).contains_key("keys"), "{text:?}");
    }
    // Status while connections are held: still answered.
    let _held_again: Vec<UnixStream> = (0..8)
        .map(|_| UnixStream::connect(&da.stats_path).unwrap())
        .collect();
    let out = status_of(&pair.a);
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn vpnd_s_prints_role_state_peer_traffic_and_drops() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let pair = Pair::new("status", "");
    let (_da, _db) = pair.start_both();
    assert!(traffic::ping_flood(&pair.a.ns, HOST_A, HOST_B, 20));
    let out = status_of(&pair.a);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    let field = |name: &str| -> String {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .unwrap_or_else(|| panic!("no {name:?} in\n{text}"))
            .trim()
            .to_owned()
    };
    assert_eq!(field("vpnd"), env!("CARGO_PKG_VERSION"));
    assert_eq!(field("role"), "net-gw");
    assert!(field("state").starts_with("ACTIVE ("), "{text}");
    assert_eq!(field("peer"), format!("{OUTER_B}:4706"));
    assert!(field("session age").starts_with("0:0"), "{text}");
    assert!(field("key").starts_with("ephemeral, age 0:0"), "{text}");
    let packets = |dir: &str| -> u64 {
        let v = field(dir);
        let (_, p) = v.split_once(", ").unwrap();
        p.trim_end_matches(" packets").parse().unwrap()
    };
    assert!(packets("sent") >= 20 && packets("received") >= 20, "{text}");
    // The local nonce is the reset point the parent wrote at the start
    // (20 pings are far from the next); the remote one is 48 hex digits.
    let on_disk: String = std::fs::read(&pair.a.local_nonce_file)
        .unwrap()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(field("local nonce"), on_disk, "{text}");
    let remote = field("remote nonce");
    assert!(
        remote.len() == 48 && remote.bytes().all(|b| b.is_ascii_hexdigit()),
        "{text}"
    );
    let by_reason: Vec<(&str, u64)> = text
        .lines()
        .filter(|l| l.starts_with("  "))
        .map(|l| {
            let mut f = l.split_whitespace();
            (f.next().unwrap(), f.next().unwrap().parse().unwrap())
        })
        .collect();
    let total: u64 = by_reason.iter().map(|(_, n)| n).sum();
    assert_eq!(field("drops"), total.to_string(), "{text}");
    let reasons: Vec<&str> = by_reason.iter().map(|(r, _)| *r).collect();
    let documented: Vec<String> = manual::documented_metrics()
        .iter()
        .filter_map(|m| m.strip_prefix("drops.").map(str::to_owned))
        .collect();
    assert_eq!(reasons, documented, "{text}");
}

/// `vpnd -s -j`: one JSON object with the fields of the status block and
/// every documented metric as a 64-bit integer, agreeing with the
/// Graphite lines.
#[test]
fn vpnd_s_j_prints_the_status_as_json_every_counter_an_integer() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let pair = Pair::new("json", "");
    let (da, _db) = pair.start_both();
    assert!(traffic::ping_flood(&pair.a.ns, HOST_A, HOST_B, 20));
    let out = pair
        .a
        .ns
        .command(vpnd_tests::binary("vpnd"))
        .args(["-s", "-j", "-c"])
        .arg(&pair.a.conf)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["vpnd"], env!("CARGO_PKG_VERSION"), "{text}");
    assert_eq!(v["role"], "net-gw", "{text}");
    assert!(
        v["state"].as_str().unwrap().starts_with("ACTIVE ("),
        "{text}"
    );
    assert_eq!(v["peer"], format!("{OUTER_B}:4706"), "{text}");
    assert_eq!(v["key"], "ephemeral", "{text}");
    assert!(v["session_age_secs"].as_u64().is_some(), "{text}");
    assert!(v["last_heard_secs"].as_u64().is_some(), "{text}");
    assert!(v["max_key_age_secs"].as_u64().is_some(), "{text}");
    let on_disk: String = std::fs::read(&pair.a.local_nonce_file)
        .unwrap()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(v["local_nonce"], on_disk.as_str(), "{text}");
    let counters = v["counters"].as_object().unwrap();
    let names: BTreeSet<&String> = counters.keys().collect();
    let documented = manual::documented_metrics();
    assert_eq!(names, documented.iter().collect(), "{text}");
    for (name, value) in counters {
        assert!(value.is_u64(), "{name}: {value} in {text}");
    }
    assert!(counters["tx.packets"].as_u64().unwrap() >= 20, "{text}");
    let drops: u64 = counters
        .iter()
        .filter(|(n, _)| n.starts_with("drops."))
        .map(|(_, v)| v.as_u64().unwrap())
        .sum();
    assert_eq!(v["drops"].as_u64(), Some(drops), "{text}");
    // The same counters as the Graphite lines (taken after: they only
    // grow, and nothing flows now but the session's own messages).
    let graphite = parse_graphite(&da.graphite_text());
    for name in ["sessions", "keys", "peer_deaths", "udp_send_errors"] {
        assert_eq!(
            counters[name].as_u64(),
            graphite.get(name).copied(),
            "{name}: {text}"
        );
    }
}

#[test]
fn vpnd_s_without_a_daemon_names_the_socket_and_exits_69() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let pair = Pair::new("nostatus", "");
    let out = status_of(&pair.a);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(69), "{out:?}");
    assert!(
        err.contains(&pair.a.stats_path.display().to_string())
            && err.contains("is vpnd running with this configuration?"),
        "{err}"
    );
}

/// The stats socket is mode 660, root's and `stats_group`'s, whatever the
/// umask vpnd was started with (0 here, which would leave it 0777): a
/// monitoring user in the group runs `vpnd -s` without root, with a file
/// of its own naming the socket; a user outside the group cannot connect.
#[test]
fn the_stats_socket_is_mode_660_for_root_and_the_stats_group() {
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::process::CommandExt;
    if !vpnd_tests::can_run!() {
        return;
    }
    // nogroup (Debian) or nobody: some group without root in it.
    let monitors = 65534;
    let Some(group) = nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(monitors)).unwrap()
    else {
        assert!(
            std::env::var_os("CI").is_none_or(|v| v != "true"),
            "no group {monitors}"
        );
        eprintln!("SKIPPED: no group {monitors}");
        return;
    };
    let pair = Pair::new("statsgroup", &format!("stats_group: {}\n", group.name));
    let umask_zero = ["sh", "-c", "umask 000; exec \"$@\"", "sh"];
    let mut d = pair.a.start_wrapped(&pair.dir, &[], &umask_zero);
    d.wait_running(Duration::from_secs(20));
    let meta = std::fs::symlink_metadata(&pair.a.stats_path).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o660, "{meta:?}");
    assert_eq!((meta.uid(), meta.gid()), (0, monitors));

    let own = pair.dir.join("monitor.conf");
    vpnd_tests::pair::write_private(
        &own,
        &format!("stats_path: {}\n", pair.a.stats_path.display()),
    );
    std::os::unix::fs::chown(&own, Some(65534), Some(monitors)).unwrap();
    let as_user = |gid: u32| {
        std::process::Command::new(vpnd_tests::binary("vpnd"))
            .args(["-s", "-c"])
            .arg(&own)
            .uid(65534)
            .gid(gid)
            .output()
            .unwrap()
    };
    let out = as_user(monitors);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .any(|l| l.starts_with("role:") && l.ends_with(" net-gw")),
        "{out:?}"
    );
    // The same user in another group (not root's, not the socket's).
    let out = as_user(monitors - 1);
    assert_eq!(out.status.code(), Some(69), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Permission denied"),
        "{out:?}"
    );
}
