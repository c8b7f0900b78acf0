//! The service files of `etc/`: the FreeBSD rc.d script parses and its
//! commands check the configuration first (under a stand-in rc.subr); the
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
        ": ${vpnd_pidfile:=\"/var/run/vpnd.pid\"}",
        "pidfile=\"${vpnd_pidfile}\"",
        "extra_commands=\"configtest stats\"",
        "configtest_cmd=\"vpnd_configtest\"",
        "start_precmd=\"vpnd_configtest\"",
        "restart_precmd=\"vpnd_configtest\"",
        "${command} -n -c \"${vpnd_config}\" || return 1",
        "stats_cmd=\"vpnd_stats\"",
        "${command} -s -c \"${vpnd_config}\"",
        "vpnd_profiles",
        "run_rc_command \"$1\"",
    ] {
        assert!(text.contains(needed), "rc.d script lacks {needed:?}");
    }
}

/// What the rc.d script uses of rc.subr(8), after libexec/rc/rc.subr's
/// run_rc_command: only the script's commands are known (start, stop,
/// restart and extra_commands); `${cmd}_precmd` runs first and a failure
/// ends the command; restart runs restart_precmd, then stop and,
/// whatever stop returned, start (each with its own precmd); `${cmd}_cmd` replaces the default action,
/// which is printed here instead of run.
const RC_SUBR: &str = r#"
load_rc_config() { :; }
run_rc_command() {
	rc_arg=$1
	case " start stop restart ${extra_commands} " in
	*" ${rc_arg} "*) ;;
	*) echo "unknown directive ${rc_arg}" >&2; return 1 ;;
	esac
	eval _cmd=\$${rc_arg}_cmd _precmd=\$${rc_arg}_precmd
	if [ -n "${_precmd}" ]; then
		eval "${_precmd}" || return 1
	fi
	if [ -n "${_cmd}" ]; then
		eval "${_cmd}"
		return
	fi
	case ${rc_arg} in
	restart) ( run_rc_command stop ); ( run_rc_command start ) ;;
	*) echo "${rc_arg}: ${command} ${command_args} (pid file ${pidfile})" ;;
	esac
}
"#;

/// A vpnd for the rc.d script: `-n` passes unless STUB_BROKEN is set, `-n
/// -v` prints the configuration's pid_file as STUB_PID_FILE, and every
/// call is logged to STUB_LOG.
const VPND: &str = r#"#!/bin/sh
echo "vpnd $*" >>"$STUB_LOG"
case "$1 $2" in
"-n -v") echo "role: net-gw"; echo "pid_file: $STUB_PID_FILE" ;;
"-n -c")
	if [ -n "$STUB_BROKEN" ]; then
		echo "$3:2: local_sk: x: not a key" >&2
		exit 1
	fi
	echo "$3: configuration OK" ;;
esac
"#;

/// The rc.d script installed under a scratch prefix, with the stand-ins.
struct RcScript {
    dir: tempfile::TempDir,
}

impl RcScript {
    fn new() -> RcScript {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let prefix = dir.path();
        std::fs::create_dir_all(prefix.join("sbin")).unwrap();
        std::fs::create_dir_all(prefix.join("etc/rc.d")).unwrap();
        // vpnd refuses a configuration in a directory others can write,
        // whatever the umask made of it.
        std::fs::set_permissions(prefix.join("etc"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        std::fs::write(prefix.join("rc.subr"), RC_SUBR).unwrap();
        let script = std::fs::read_to_string(etc("rc.d/vpnd.in"))
            .unwrap()
            .replace(". /etc/rc.subr", &format!(". {}/rc.subr", prefix.display()))
            .replace("%%PREFIX%%", prefix.to_str().unwrap());
        for (path, text) in [("sbin/vpnd", VPND), ("etc/rc.d/vpnd", script.as_str())] {
            std::fs::write(prefix.join(path), text).unwrap();
            std::fs::set_permissions(prefix.join(path), std::fs::Permissions::from_mode(0o755))
                .unwrap();
        }
        RcScript { dir }
    }

    fn prefix(&self) -> String {
        self.dir.path().display().to_string()
    }

    /// `service vpnd ARGS` with these rc.conf variables (and stand-in
    /// settings): its exit status, standard output and error, and the
    /// vpnd calls it made.
    fn run(&self, args: &[&str], vars: &[(&str, &str)]) -> (bool, String, String, Vec<String>) {
        let log = self.dir.path().join("calls");
        let _ = std::fs::remove_file(&log);
        let out = Command::new("sh")
            .arg(self.dir.path().join("etc/rc.d/vpnd"))
            .args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("STUB_LOG", &log)
            .env("STUB_PID_FILE", "/var/run/vpnd.pid")
            .envs(vars.iter().copied())
            .output()
            .unwrap();
        let calls = std::fs::read_to_string(&log).unwrap_or_default();
        let prefix = self.prefix();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).replace(&prefix, "PREFIX"),
            String::from_utf8_lossy(&out.stderr).replace(&prefix, "PREFIX"),
            calls
                .lines()
                .map(|l| l.replace(&prefix, "PREFIX"))
                .collect(),
        )
    }
}

#[test]
fn the_rc_d_scripts_configtest_runs_vpnd_n_and_checks_the_pid_file() {
    let rc = RcScript::new();
    let (ok, out, err, calls) = rc.run(&["configtest"], &[]);
    assert!(ok, "{out}{err}");
    assert_eq!(out, "PREFIX/etc/vpnd.conf: configuration OK\n");
    assert_eq!(
        calls,
        [
            "vpnd -n -c PREFIX/etc/vpnd.conf",
            "vpnd -n -v -c PREFIX/etc/vpnd.conf"
        ]
    );
    let (ok, _, err, _) = rc.run(&["configtest"], &[("STUB_BROKEN", "1")]);
    assert!(!ok);
    assert!(err.contains("local_sk: x: not a key"), "{err}");
    // The configuration writes its pid elsewhere: rc.subr would lose
    // track of the daemon.
    let (ok, _, err, _) = rc.run(&["configtest"], &[("STUB_PID_FILE", "/var/run/x.pid")]);
    assert!(!ok);
    assert!(
        err.contains("pid_file is /var/run/x.pid") && err.contains("pid_file: /var/run/vpnd.pid"),
        "{err}"
    );
    let (ok, ..) = rc.run(
        &["configtest"],
        &[
            ("STUB_PID_FILE", "/var/run/x.pid"),
            ("vpnd_pidfile", "/var/run/x.pid"),
        ],
    );
    assert!(ok);
}

#[test]
fn the_rc_d_script_checks_before_start_and_before_restart_stops() {
    let rc = RcScript::new();
    let (ok, out, err, _) = rc.run(&["start"], &[]);
    assert!(ok, "{out}{err}");
    assert!(out.ends_with(
        "start: PREFIX/sbin/vpnd -c PREFIX/etc/vpnd.conf (pid file /var/run/vpnd.pid)\n"
    ));
    let (ok, out, ..) = rc.run(&["start"], &[("STUB_BROKEN", "1")]);
    assert!(!ok && !out.contains("start:"), "{out}");
    // A broken configuration leaves the running vpnd alone.
    let (ok, out, ..) = rc.run(&["restart"], &[("STUB_BROKEN", "1")]);
    assert!(!ok && !out.contains("stop:"), "{out}");
    let (ok, out, _, calls) = rc.run(&["restart"], &[]);
    assert!(ok, "{out}");
    let stop = out.find("stop:").unwrap();
    assert!(out[..stop].contains("configuration OK"), "{out}");
    assert!(out[stop..].contains("configuration OK\nstart:"), "{out}");
    assert_eq!(calls.len(), 4, "two checks of two calls each: {calls:?}");
}

#[test]
fn the_rc_d_scripts_profiles_have_their_own_config_and_pid_file() {
    let rc = RcScript::new();
    let (ok, out, err, calls) = rc.run(
        &["configtest", "site_b"],
        &[
            ("vpnd_profiles", "site_b"),
            ("STUB_PID_FILE", "/var/run/vpnd/site_b.pid"),
        ],
    );
    assert!(ok, "{out}{err}");
    assert_eq!(calls[0], "vpnd -n -c PREFIX/etc/vpnd/site_b.conf");
    // A name that cannot be part of an rc.conf variable's is refused.
    let (ok, _, err, calls) = rc.run(&["configtest", "site-b"], &[("vpnd_profiles", "site-b")]);
    assert!(!ok && calls.is_empty(), "{calls:?}");
    assert!(err.contains("profile site-b: a name of letters"), "{err}");
    // Without a profile argument, every profile in turn.
    let (ok, out, _, calls) = rc.run(
        &["configtest"],
        &[
            ("vpnd_profiles", "a b"),
            ("STUB_PID_FILE", "/var/run/p.pid"),
            ("vpnd_a_pidfile", "/var/run/p.pid"),
            ("vpnd_b_pidfile", "/var/run/p.pid"),
            ("vpnd_b_config", "/etc/b.conf"),
        ],
    );
    assert!(ok, "{out}");
    assert!(out.starts_with("===> vpnd profile: a\n"), "{out}");
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.starts_with("vpnd -n -c"))
            .collect::<Vec<_>>(),
        [
            "vpnd -n -c PREFIX/etc/vpnd/a.conf",
            "vpnd -n -c /etc/b.conf"
        ]
    );
}

#[test]
fn the_rc_d_scripts_configtest_reads_the_real_vpnds_pid_file() {
    // The stand-in vpnd prints what the script expects; the real one must
    // too (vpnd -n -v: "pid_file: PATH").
    let rc = RcScript::new();
    let prefix = rc.dir.path();
    std::fs::remove_file(prefix.join("sbin/vpnd")).unwrap();
    std::os::unix::fs::symlink(vpnd_tests::binary("vpnd"), prefix.join("sbin/vpnd")).unwrap();
    let conf = |extra: &str| {
        use std::os::unix::fs::PermissionsExt;
        let path = prefix.join("etc/vpnd.conf");
        // A user and a chroot directory that exist everywhere, the nonce
        // files here: vpnd -n checks them on this system.
        let text = format!(
            "role: net-gw\nlocal_sk: {}\nremote_pk: {}\nremote_host: 198.18.0.2\n\
             user: nobody\nchroot_dir: /\nlocal_nonce_file: {}\nremote_nonce_file: {}\n{extra}",
            "11".repeat(32),
            "22".repeat(32),
            prefix.join("local.nonce").display(),
            prefix.join("remote.nonce").display()
        );
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    };
    conf("");
    let (ok, out, err, _) = rc.run(&["configtest"], &[]);
    assert!(ok, "{out}{err}");
    // vpnd -n names the nonce files' values first.
    assert!(out.starts_with("local_nonce_file "), "{out}");
    assert!(
        out.ends_with("\nPREFIX/etc/vpnd.conf: configuration OK\n"),
        "{out}"
    );
    conf("pid_file: /var/run/other.pid\n");
    let (ok, _, err, _) = rc.run(&["configtest"], &[]);
    assert!(
        !ok && err.contains("pid_file is /var/run/other.pid"),
        "{err}"
    );
}

#[test]
fn a_profiles_instance_has_the_pid_file_the_rc_d_script_expects() {
    // A profile's file is the instance of its name, whose pid file the
    // real vpnd derives as the script assumes, with nothing set (the
    // runtime directory FreeBSD's, as the debug build takes it).
    use std::os::unix::fs::PermissionsExt;
    let rc = RcScript::new();
    let prefix = rc.dir.path();
    std::fs::remove_file(prefix.join("sbin/vpnd")).unwrap();
    std::os::unix::fs::symlink(vpnd_tests::binary("vpnd"), prefix.join("sbin/vpnd")).unwrap();
    let confs = prefix.join("etc/vpnd");
    std::fs::create_dir(&confs).unwrap();
    std::fs::set_permissions(&confs, std::fs::Permissions::from_mode(0o700)).unwrap();
    let path = confs.join("site_b.conf");
    // A user and a chroot directory that exist everywhere (vpnd -n checks
    // them); the nonce files in the state directory the start makes.
    let text = format!(
        "role: net-gw\nlocal_sk: {}\nremote_pk: {}\nremote_host: 198.18.0.2\n\
         user: nobody\nchroot_dir: /\n",
        "11".repeat(32),
        "22".repeat(32)
    );
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (ok, out, err, _) = rc.run(
        &["configtest", "site_b"],
        &[
            ("vpnd_profiles", "site_b"),
            ("VPND_TEST_RUNTIME_DIR", "/var/run/vpnd"),
        ],
    );
    assert!(ok, "{out}{err}");
    assert!(
        out.ends_with("\nPREFIX/etc/vpnd/site_b.conf: configuration OK\n"),
        "{out}"
    );
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
        "ExecStart=/usr/sbin/vpnd -f -c /etc/vpnd/%i.conf",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "Wants=network-online.target",
        "RuntimeDirectory=vpnd",
        "RuntimeDirectoryPreserve=yes",
        "StateDirectory=vpnd",
        "StateDirectoryMode=0700",
    ] {
        assert!(unit.contains(needed), "unit lacks {needed:?}");
    }
}

/// The values of `key=` in the unit, split at blanks.
fn unit_values(key: &str) -> Vec<String> {
    let unit = std::fs::read_to_string(etc("systemd/vpnd@.service")).unwrap();
    let prefix = format!("{key}=");
    unit.lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .flat_map(|v| v.split_whitespace().map(str::to_owned))
        .collect()
}

/// A configuration or command-line error is not restarted every 5 s: the
/// exit statuses vpnd gives them are in `RestartPreventExitStatus=`, and
/// nothing runs before vpnd itself (systemd ignores an `ExecStartPre=`'s
/// status there). Started after the name service: the peer is resolved
/// at start.
#[test]
fn the_systemd_unit_does_not_restart_what_cannot_pass() {
    let prevented = unit_values("RestartPreventExitStatus");
    assert!(unit_values("ExecStartPre").is_empty());
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("bad.conf");
    std::fs::write(&conf, "role: net-gw\nbogus: x\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let vpnd = vpnd_tests::binary("vpnd");
    let missing = dir.path().join("missing.conf");
    let flag = |f: &'static str| std::ffi::OsStr::new(f);
    for args in [
        vec![flag("--bogus")],
        vec![flag("-f"), flag("-c"), conf.as_os_str()],
        vec![flag("-f"), flag("-c"), missing.as_os_str()],
    ] {
        let out = Command::new(&vpnd).args(&args).output().unwrap();
        let code = out.status.code().unwrap().to_string();
        assert!(
            prevented.contains(&code),
            "{args:?} exits {code}, restarted: {prevented:?}"
        );
    }
    for code in ["64", "65", "66", "67", "78"] {
        assert!(
            prevented.contains(&code.to_owned()),
            "{code}: {prevented:?}"
        );
    }
    // A peer that does not resolve yet, another instance still stopping:
    // these may pass, and are restarted.
    for code in ["68", "75"] {
        assert!(
            !prevented.contains(&code.to_owned()),
            "{code}: {prevented:?}"
        );
    }
    let after = unit_values("After");
    for needed in ["network-online.target", "nss-lookup.target"] {
        assert!(after.iter().any(|a| a == needed), "After= lacks {needed}");
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

/// Under systemd, vpnd's standard error is the journal's stream, which
/// `JOURNAL_STREAM` names: every line starts with its priority, the
/// network process's lines that the parent relays too (a warning `<4>`),
/// so that `journalctl -p warning` finds them.
#[test]
fn on_the_journal_relayed_lines_carry_their_priority() {
    if !vpnd_tests::can_run!("stat") {
        return;
    }
    let pair = Pair::new("journal", "");
    // What systemd does: the variable names the stream standard error is.
    let wrapper = [
        "sh",
        "-c",
        "export JOURNAL_STREAM=\"$(stat -L -c %d:%i /proc/self/fd/2)\"; exec \"$@\"",
        "sh",
    ];
    let mut da = pair.a.start_wrapped(&pair.dir, &[], &wrapper);
    da.wait_running(Duration::from_secs(20));
    let mut db = pair.start(&pair.b);
    assert!(
        traffic::wait_for_ping(&pair.a.ns, HOST_A, HOST_B, Duration::from_secs(30)),
        "no ping\n--- a:\n{}\n--- b:\n{}",
        da.log_text(),
        db.log_text()
    );
    // b starts again: a's network process warns that its peer restarted.
    db.stop();
    let db = pair.start(&pair.b);
    let warned = da.wait_for_log("net: warning: peer restarted", Duration::from_secs(30));
    da.stop();
    drop(db);
    let log = da.log_text();
    assert!(warned, "{log}");
    for line in log.lines() {
        let priority = match line.as_bytes() {
            [b'<', p @ b'3'..=b'7', b'>', ..] => *p,
            _ => panic!("a line without its priority: {line:?}\n{log}"),
        };
        let text = &line[3..];
        assert!(text.starts_with("vpnd["), "{line:?}");
        if text.contains(" net: ") {
            let expected = if text.contains(" net: warning: ") {
                b'4'
            } else if text.contains(" net: error: ") {
                b'3'
            } else {
                priority.max(b'5')
            };
            assert_eq!(priority, expected, "{line:?}");
        }
    }
    assert!(
        log.lines()
            .any(|l| l.starts_with("<4>vpnd[") && l.contains(" net: warning: peer restarted")),
        "{log}"
    );
}
