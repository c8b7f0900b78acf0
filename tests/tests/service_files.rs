//! The service files of `etc/`: the FreeBSD rc.d script parses; the
//! systemd unit verifies; vpnd runs a tunnel with no more than the
//! capabilities the unit leaves it (and no-new-privs), and tells a
//! `Type=notify` service manager when it is up.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use vpnd_tests::pair::{HOST_A, HOST_B, Pair};
use vpnd_tests::traffic;

fn etc(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../etc")
        .join(name)
}

#[test]
fn the_rc_d_script_parses() {
    let script = etc("rc.d/vpnd.in");
    let out = Command::new("sh").arg("-n").arg(&script).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = std::fs::read_to_string(&script).unwrap();
    for needed in [
        "rcvar=vpnd_enable",
        ": ${vpnd_config:=",
        "start_precmd=\"vpnd_precmd\"",
        "${command} -n -c \"${vpnd_config}\"",
        "extra_commands=\"stats\"",
        "${command} -s -c \"${vpnd_config}\"",
        "vpnd_profiles",
        "run_rc_command \"$1\"",
    ] {
        assert!(text.contains(needed), "rc.d script lacks {needed:?}");
    }
}

#[test]
fn the_systemd_unit_verifies() {
    if !vpnd_tests::has_tools!("systemd-analyze") {
        return;
    }
    // verify checks that the programs exist: point it at the built vpnd.
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let unit = std::fs::read_to_string(etc("systemd/vpnd@.service")).unwrap();
    let vpnd = vpnd_tests::binary("vpnd");
    std::fs::write(
        dir.join("vpnd@.service"),
        unit.replace("/usr/sbin/vpnd", vpnd.to_str().unwrap()),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(dir.join("vpnd@site-b.service"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.trim().is_empty(), "{out:?}");
    for needed in [
        "Type=notify",
        "ExecStartPre=/usr/sbin/vpnd -n -c /etc/vpnd/%i.conf",
        "ExecStart=/usr/sbin/vpnd -f -c /etc/vpnd/%i.conf",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
    ] {
        assert!(unit.contains(needed), "unit lacks {needed:?}");
    }
}

/// `CapabilityBoundingSet=` of the unit, as setpriv(1) takes it.
fn unit_bounding_set() -> String {
    let unit = std::fs::read_to_string(etc("systemd/vpnd@.service")).unwrap();
    let caps = unit
        .lines()
        .find_map(|l| l.strip_prefix("CapabilityBoundingSet="))
        .expect("the unit sets CapabilityBoundingSet");
    let mut set = String::from("-all");
    for cap in caps.split_whitespace() {
        set.push_str(",+");
        set.push_str(&cap.trim_start_matches("CAP_").to_ascii_lowercase());
    }
    set
}

#[test]
fn a_tunnel_runs_with_the_units_capabilities_and_no_new_privs() {
    if !vpnd_tests::can_run!("setpriv") {
        return;
    }
    let set = unit_bounding_set();
    let pair = Pair::new("caps", "");
    let wrapper = ["setpriv", "--bounding-set", &set, "--no-new-privs", "--"];
    let mut da = pair.a.start_wrapped(&pair.dir, &[], &wrapper);
    da.wait_running(Duration::from_secs(20));
    let db = pair.start(&pair.b);
    assert!(
        traffic::wait_for_ping(&pair.a.ns, HOST_A, HOST_B, Duration::from_secs(30)),
        "no ping with the unit's capabilities ({set})\n--- a:\n{}\n--- b:\n{}",
        da.log_text(),
        db.log_text()
    );
    let status = std::fs::read_to_string(format!("/proc/{}/status", da.pid())).unwrap();
    assert!(status.contains("NoNewPrivs:\t1"), "{status}");
    let status = da.stop();
    assert!(status.success(), "{status}\n{}", da.log_text());
    let links = pair.a.ns.ip_output(&["link", "show"]);
    assert!(!links.contains(&pair.a.device), "tun left behind: {links}");
}

#[test]
fn the_service_manager_hears_ready_once_the_tunnel_is_set_up() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let pair = Pair::new("notify", "");
    let socket = pair.dir.join("notify");
    let manager = UnixDatagram::bind(&socket).unwrap();
    manager
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let da = pair
        .a
        .start_with_env(&pair.dir, &[("NOTIFY_SOCKET", socket.as_os_str())]);
    let mut buf = [0u8; 256];
    let n = manager
        .recv(&mut buf)
        .unwrap_or_else(|e| panic!("no notification: {e}\n{}", da.log_text()));
    assert_eq!(
        std::str::from_utf8(&buf[..n]).unwrap(),
        format!("READY=1\nMAINPID={}\n", da.pid())
    );
    // Ready means set up: the tun exists and the stats socket answers.
    let links = pair
        .a
        .ns
        .ip_output(&["link", "show", "dev", &pair.a.device]);
    assert!(links.contains("UP"), "{links}");
    assert!(da.stats().contains_key("keys"));
}
