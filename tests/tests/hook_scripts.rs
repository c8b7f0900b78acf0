//! `up_script` and `down_script`: the parent runs them with the session's
//! values in `VPND_*` variables (a net-gw's configuration, a host-gw's
//! pushes, a host's pushed values) once the network is configured, and
//! `down_script` on every end it lives through: the peer restarted,
//! SIGTERM, the network process killed, the parent panicking. A failing or
//! hanging `up_script` is logged (the hanging one killed at the 10 s limit)
//! and the tunnel carries traffic; with `up_script_required: yes` the
//! session's network is rolled back instead.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use vpnd_tests::daemon::{Daemon, signal};
use vpnd_tests::pair::{HOST_A, HOST_B, Pair, Scratch, Side, write_private};
use vpnd_tests::site::{INNER_V4, OUTER_V4, Site};
use vpnd_tests::traffic;

/// One call of a script: its argument and its `VPND_*` variables.
type Call = (String, BTreeMap<String, String>);

/// Writes a script for `side` that records each call in `<name>.calls`,
/// then runs `then` (shell text: what it does besides), and names it as
/// both scripts in the side's configuration with `extra` lines. Returns
/// the record's path.
fn give_scripts(dir: &Scratch, side: &Side, then: &str, extra: &str) -> PathBuf {
    let record = dir.join(&format!("{}.calls", side.name));
    let script = dir.join(&format!("{}.hook", side.name));
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$# $1 $(env | grep '^VPND_' | sort | tr '\\n' ' ')\" >> {}\n{then}\n",
            record.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let conf = std::fs::read_to_string(&side.conf).unwrap();
    let lines = format!(
        "up_script: {s}\ndown_script: {s}\n{extra}",
        s = script.display()
    );
    write_private(&side.conf, &format!("{conf}{lines}"));
    record
}

/// The calls recorded so far.
fn calls(record: &Path) -> Vec<Call> {
    std::fs::read_to_string(record)
        .unwrap_or_default()
        .lines()
        .map(|line| {
            let mut words = line.split_whitespace();
            let argc = words.next().unwrap();
            assert_eq!(argc, "1", "one argument: {line}");
            let word = words.next().unwrap().to_owned();
            let vars = words
                .map(|w| {
                    let (k, v) = w.split_once('=').unwrap();
                    (k.to_owned(), v.to_owned())
                })
                .collect();
            (word, vars)
        })
        .collect()
}

/// The arguments of the calls.
fn words(record: &Path) -> Vec<String> {
    calls(record).into_iter().map(|(w, _)| w).collect()
}

/// Waits until the calls' arguments are `expected`, up to `timeout`.
fn wait_for_calls(record: &Path, expected: &[&str], timeout: Duration, d: &Daemon) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline && words(record) != expected {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(words(record), expected, "\n{}", d.log_text());
}

fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn net_gw_scripts_get_their_values_and_down_runs_on_restart_stop_and_death() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let pair = Pair::new("hookn", "");
    let rec_a = give_scripts(&pair.dir, &pair.a, "", "");
    let rec_b = give_scripts(&pair.dir, &pair.b, "", "");
    let (mut da, mut db) = pair.start_both();
    wait_for_calls(&rec_a, &["up"], Duration::from_secs(10), &da);
    let told = vars(&[
        ("VPND_DEVICE", pair.a.device.as_str()),
        ("VPND_MTU", "1431"),
        ("VPND_PEER", "198.18.0.2"),
        ("VPND_PEER_PORT", "4706"),
        ("VPND_REMOTE_NETWORK", "198.19.2.0/24"),
        ("VPND_ROLE", "net-gw"),
    ]);
    assert_eq!(calls(&rec_a), [("up".to_owned(), told.clone())]);

    // The peer restarts: the session ends (down) and a new one begins.
    db.kill_all();
    db = pair.start(&pair.b);
    wait_for_calls(&rec_a, &["up", "down", "up"], Duration::from_secs(30), &da);
    assert!(traffic::wait_for_ping(
        &pair.a.ns,
        HOST_A,
        HOST_B,
        Duration::from_secs(30)
    ));
    assert!(calls(&rec_a).iter().all(|(_, v)| *v == told));

    // SIGTERM: down, while the route is still there, and nothing after.
    assert!(da.stop().success(), "{}", da.log_text());
    assert_eq!(words(&rec_a), ["up", "down", "up", "down"]);

    // b's first parent was killed with SIGKILL: nothing ran for it. The
    // network process of the second killed: its parent runs down as it
    // undoes.
    wait_for_calls(&rec_b, &["up", "up"], Duration::from_secs(10), &db);
    signal(db.net_pid().unwrap(), nix::sys::signal::SIGKILL);
    let status = db.wait_exit(Duration::from_secs(15)).unwrap();
    assert_eq!(status.code(), Some(70), "{}", db.log_text());
    let b = calls(&rec_b);
    assert_eq!(words(&rec_b), ["up", "up", "down"], "{}", db.log_text());
    assert_eq!(b[1].1, b[2].1);
    assert_eq!(b[2].1["VPND_REMOTE_NETWORK"], "198.19.1.0/24");
}

#[test]
fn a_host_is_told_the_pushed_values_and_its_gateway_what_it_pushes() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let site = Site::new("hookh", OUTER_V4, INNER_V4, "", "");
    let rec_c = give_scripts(&site.dir, &site.client, "", "");
    let rec_g = give_scripts(&site.dir, &site.gateway, "", "");
    let (mut g, mut c) = site.start();
    wait_for_calls(&rec_c, &["up"], Duration::from_secs(10), &c);
    wait_for_calls(&rec_g, &["up"], Duration::from_secs(10), &g);
    assert_eq!(
        calls(&rec_c)[0].1,
        vars(&[
            ("VPND_DEVICE", site.client.device.as_str()),
            ("VPND_LOCAL_ADDRESS", "198.19.3.2"),
            ("VPND_MTU", "1431"),
            ("VPND_NAMESERVER", "198.19.1.53"),
            ("VPND_PEER", "198.18.1.1"),
            ("VPND_PEER_PORT", "4706"),
            ("VPND_REMOTE_NETWORK", "198.19.1.0/24"),
            ("VPND_ROLE", "host"),
            ("VPND_SEARCH_DOMAIN", "vpnd.test"),
        ])
    );
    assert_eq!(
        calls(&rec_g)[0].1,
        vars(&[
            ("VPND_DEVICE", site.gateway.device.as_str()),
            ("VPND_LOCAL_NETWORK", "198.19.1.0/24"),
            ("VPND_MTU", "1431"),
            ("VPND_NAMESERVER", "198.19.1.53"),
            ("VPND_PEER", "198.18.1.2"),
            ("VPND_PEER_PORT", "4706"),
            ("VPND_REMOTE_ADDRESS", "198.19.3.2"),
            ("VPND_ROLE", "host-gw"),
            ("VPND_SEARCH_DOMAIN", "vpnd.test"),
        ])
    );
    assert!(c.stop().success(), "{}", c.log_text());
    assert_eq!(words(&rec_c), ["up", "down"]);
    assert!(g.stop().success(), "{}", g.log_text());
    assert_eq!(words(&rec_g), ["up", "down"]);
}

#[test]
fn a_failing_or_hanging_up_script_is_logged_and_the_tunnel_carries_traffic() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let pair = Pair::new("hookf", "");
    let rec_a = give_scripts(&pair.dir, &pair.a, "[ \"$1\" = up ] && exit 3\nexit 0", "");
    let rec_b = give_scripts(
        &pair.dir,
        &pair.b,
        "[ \"$1\" = up ] && sleep 60\nexit 0",
        "",
    );
    let started = Instant::now();
    let (mut da, mut db) = pair.start_both();
    assert!(
        db.wait_for_log("killed after 10s", Duration::from_secs(20)),
        "{}",
        db.log_text()
    );
    assert!(started.elapsed() >= Duration::from_secs(10));
    let log = da.log_text();
    assert!(log.contains("a.hook up: exit status: 3"), "{log}");
    assert!(log.contains("the session keeps its network"), "{log}");
    assert!(traffic::ping(&pair.a.ns, HOST_A, HOST_B));
    assert!(traffic::ping(&pair.b.ns, HOST_B, HOST_A));
    // Each kept its network: its down_script runs at the stop all the same.
    for (d, rec) in [(&mut da, &rec_a), (&mut db, &rec_b)] {
        assert!(d.stop().success(), "{}", d.log_text());
        assert_eq!(words(rec), ["up", "down"], "{}", d.log_text());
    }
}

#[test]
fn a_required_up_script_that_fails_rolls_the_network_back() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let pair = Pair::new("hookr", "");
    let rec_a = give_scripts(
        &pair.dir,
        &pair.a,
        "[ \"$1\" = up ] && exit 3\nexit 0",
        "up_script_required: yes\n",
    );
    let mut da = pair.start(&pair.a);
    let _db = pair.start(&pair.b);
    assert!(
        da.wait_for_log(
            "up_script_required: the session's network is rolled back",
            Duration::from_secs(30)
        ),
        "{}",
        da.log_text()
    );
    let routes = pair.a.ns.ip_output(&["route", "show"]);
    assert!(!routes.contains("198.19.2.0"), "route left: {routes}");
    assert!(!traffic::ping(&pair.a.ns, HOST_A, HOST_B));
    assert!(da.stop().success(), "{}", da.log_text());
    assert_eq!(words(&rec_a), ["up"], "no down for a session rolled back");
}

#[test]
fn down_script_runs_from_the_panic_hook() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let pair = Pair::new("hookp", "");
    let rec_a = give_scripts(&pair.dir, &pair.a, "", "");
    // SIGUSR1 makes a debug build's parent panic where no destructor can
    // run (lifecycle.rs): only the panic hook undoes.
    let (mut da, _db) =
        pair.start_both_with_env(&[("VPND_TEST_PANIC_ON_USR1", std::ffi::OsStr::new("1"))]);
    wait_for_calls(&rec_a, &["up"], Duration::from_secs(10), &da);
    signal(da.pid(), nix::sys::signal::SIGUSR1);
    let status = da.wait_exit(Duration::from_secs(30)).unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(6), "not aborted: {status}");
    let a = calls(&rec_a);
    assert_eq!(words(&rec_a), ["up", "down"], "{}", da.log_text());
    assert_eq!(a[0].1, a[1].1);
}

#[test]
fn vpnd_n_refuses_a_script_missing_not_executable_or_writable_by_others() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let pair = Pair::new("hookc", "");
    let conf = std::fs::read_to_string(&pair.a.conf).unwrap();
    // a alone in a directory: b's file beside it takes the same port (in
    // its own namespace), which -n refuses between neighbours.
    let alone = pair.dir.join("a-alone");
    std::fs::create_dir(&alone).unwrap();
    let a_conf = alone.join("a.conf");
    let check = |script: &Path| {
        write_private(
            &a_conf,
            &format!("{conf}down_script: {}\n", script.display()),
        );
        let out = std::process::Command::new(vpnd_tests::binary("vpnd"))
            .args(["-n", "-c"])
            .arg(&a_conf)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let script = pair.dir.join("down");
    let (code, stderr) = check(&script);
    assert_eq!(code, Some(78), "{stderr}");
    assert!(
        stderr.contains(&format!("down_script {}: ", script.display())),
        "{stderr}"
    );
    std::fs::write(&script, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, stderr) = check(&script);
    assert_eq!(code, Some(78), "{stderr}");
    assert!(stderr.contains("not an executable file"), "{stderr}");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o775)).unwrap();
    let (code, stderr) = check(&script);
    assert_eq!(code, Some(78), "{stderr}");
    assert!(stderr.contains("writable by group or others"), "{stderr}");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (code, stderr) = check(&script);
    assert_eq!(code, Some(0), "{stderr}");
}
