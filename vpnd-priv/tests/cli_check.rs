//! The command line without the daemon: -V, -n on good and bad files and
//! on what the start would refuse on this system, -s reading only the
//! stats socket's path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

const GOOD: &str = "role: net-gw\n\
    local_sk: 845b920bda4cd49d251d3329144a0cf8bdaaa07502626fa87f08e80faedab11f\n\
    remote_pk: 9d8d78b9c9e6661e552f2f1af02095ee2f8743fa2e6183f41bb7077ef51b5379\n\
    remote_host: 198.18.0.2\n";

/// Writes `text` to `name` in `dir` with `mode`.
fn file(dir: &TempDir, name: &str, text: &str, mode: u32) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    p
}

fn vpnd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vpnd"))
        .args(args)
        .output()
        .unwrap()
}

fn check(path: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["-n", "-c", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    vpnd(&args)
}

#[test]
fn version() {
    let out = vpnd(&["-V"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("vpnd {}", env!("CARGO_PKG_VERSION"))
    );
}

/// What places a configuration on this system, in `dir`: the nonce
/// files, the pid file and the stats socket there, an empty chroot
/// directory (made here) and a user that exists everywhere.
fn placed(dir: &Path) -> String {
    let chroot = dir.join("empty");
    if !chroot.exists() {
        std::fs::create_dir(&chroot).unwrap();
    }
    std::fs::set_permissions(&chroot, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!(
        "user: nobody\nchroot_dir: {}\npid_file: {}\nstats_path: {}\n\
         local_nonce_file: {}\nremote_nonce_file: {}\n",
        chroot.display(),
        dir.join("vpnd.pid").display(),
        dir.join("stats.sock").display(),
        dir.join("local.nonce").display(),
        dir.join("remote.nonce").display()
    )
}

/// GOOD, placed in `dir`.
fn with_nonce_files(dir: &Path) -> String {
    format!("{GOOD}{}", placed(dir))
}

/// The public key of GOOD's `local_sk`.
const GOOD_PK: &str = "7a46e129fd805047448437e4744f1f1576be8c449fdf57e0c580d36c5cfc6668";

#[test]
fn a_good_file_is_ok_and_printed_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let path = file(&dir, "vpnd.conf", &with_nonce_files(dir.path()), 0o600);
    let out = check(&path, &[]);
    assert!(out.status.success(), "{out:?}");
    let d = dir.path().display();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "local_nonce_file {d}/local.nonce: absent (the send counter starts from the clock)\n\
             remote_nonce_file {d}/remote.nonce: absent (every nonce of the peer is new)\n\
             public key: {GOOD_PK} (the peer's remote_pk)\n\
             {}: configuration OK\n",
            path.display()
        )
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = check(&path, &["-v"]);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("local_sk: <redacted>") && shown.contains("max_key_age: 60"),
        "{shown}"
    );
    assert!(!shown.contains("845b920b"));
}

/// `vpnd -n` prints both nonce values (a poisoned remote one flagged),
/// and refuses, as the start does, nonce files it would not start from.
#[test]
fn the_check_shows_both_nonces_and_refuses_unsafe_nonce_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    // The nonce files in a directory of their own: the configuration's
    // directory must stay safe when the nonces' is made unsafe below.
    let d = &dir.path().join("nonces");
    std::fs::create_dir(d).unwrap();
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700)).unwrap();
    let path = file(&dir, "vpnd.conf", &with_nonce_files(d), 0o600);
    let local = [0x11u8; 24];
    // Far beyond any clock, not at the top: written, flagged.
    let mut remote = [0u8; 24];
    remote[23] = 0x7f;
    std::fs::write(d.join("local.nonce"), local).unwrap();
    std::fs::write(d.join("remote.nonce"), remote).unwrap();
    let out = check(&path, &[]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let local_line = format!(
        "local_nonce_file {}/local.nonce: {} (above every nonce sent)\n",
        d.display(),
        "11".repeat(24)
    );
    assert!(stdout.contains(&local_line), "{stdout}");
    let remote_line = format!(
        "remote_nonce_file {}/remote.nonce: {}7f (ahead of the clock: ",
        d.display(),
        "00".repeat(23)
    );
    assert!(stdout.contains(&remote_line), "{stdout}");

    // Writable by the group: refused like a bad configuration, by name.
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o770)).unwrap();
    let out = check(&path, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert!(
        stderr.contains(&format!("{}: owner uid ", d.display()))
            && stderr.contains("mode 770: a directory writable by group or others"),
        "{stderr}"
    );
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700)).unwrap();
    // At the top of the nonce space: corrupt data, as at the start.
    std::fs::write(d.join("remote.nonce"), [0xff; 24]).unwrap();
    let out = check(&path, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(65), "{stderr}");
    assert!(stderr.contains("at the top of the nonce space"), "{stderr}");
}

/// The user and the chroot directory as the start checks them: root
/// refused, a directory others can write refused, both reported at once
/// with the exit status of the first, by parameter and value.
#[test]
fn a_root_user_and_a_chroot_others_can_write_are_refused_as_the_start_refuses_them() {
    let dir = tempfile::tempdir().unwrap();
    let good = with_nonce_files(dir.path());
    let chroot = dir.path().join("empty");
    let as_root = good.replace("user: nobody", "user: root");
    let out = check(&file(&dir, "vpnd.conf", &as_root, 0o600), &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(67), "{err}");
    assert!(
        err.contains(
            "vpnd: user root: has uid or gid 0; the network process must run unprivileged"
        ),
        "{err}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("configuration OK"));

    std::fs::set_permissions(&chroot, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = check(&file(&dir, "vpnd.conf", &good, 0o600), &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    let open = format!(
        "vpnd: chroot_dir {}: is writable by group or others (mode 0777; chmod 755)",
        chroot.display()
    );
    assert!(err.contains(&open), "{err}");

    let out = check(&file(&dir, "vpnd.conf", &as_root, 0o600), &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(67), "{err}");
    assert!(
        err.contains("vpnd: user root: ") && err.contains(&open),
        "{err}"
    );

    std::fs::remove_dir(&chroot).unwrap();
    let out = check(&file(&dir, "vpnd.conf", &good, 0o600), &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(
        err.contains(&format!("vpnd: chroot_dir {}: ", chroot.display())),
        "{err}"
    );
}

/// A nonce file whose directory does not exist cannot be written: the
/// start's exit status, the parameter and the missing directory named.
#[test]
fn a_nonce_file_in_a_missing_directory_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir");
    let text = with_nonce_files(dir.path()).replace(
        &format!(
            "local_nonce_file: {}",
            dir.path().join("local.nonce").display()
        ),
        &format!(
            "local_nonce_file: {}",
            missing.join("local.nonce").display()
        ),
    );
    let out = check(&file(&dir, "vpnd.conf", &text, 0o600), &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(73), "{err}");
    assert!(
        err.contains(&format!(
            "vpnd: local_nonce_file {}/local.nonce: cannot write: the directory {} does not exist",
            missing.display(),
            missing.display()
        )),
        "{err}"
    );
}

/// `vpnd -n` prints this side's public key: the one vpnd-keygen printed
/// with the secret key.
#[test]
fn the_public_key_printed_is_the_one_vpnd_keygen_gave_with_the_secret_key() {
    let keygen = Path::new(env!("CARGO_BIN_EXE_vpnd")).with_file_name("vpnd-keygen");
    assert!(
        keygen.exists(),
        "{} is missing: run `cargo build --workspace --bins` first",
        keygen.display()
    );
    let out = Command::new(&keygen).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let pair = String::from_utf8(out.stdout).unwrap();
    let value = |name: &str| -> String {
        pair.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} in {pair}"))
            .to_owned()
    };
    let dir = tempfile::tempdir().unwrap();
    let text = with_nonce_files(dir.path()).replace(
        "local_sk: 845b920bda4cd49d251d3329144a0cf8bdaaa07502626fa87f08e80faedab11f",
        &format!("local_sk: {}", value("local_sk")),
    );
    let out = check(&file(&dir, "vpnd.conf", &text, 0o600), &[]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "public key: {} (the peer's remote_pk)\n",
            value("remote_pk")
        )),
        "{stdout}\n{pair}"
    );
}

/// The pid file and the stats socket must be free, as the start needs
/// them (exit 75, another instance runs); held together by one running
/// process they are this configuration's running vpnd, said and not
/// refused (a check before a restart); stale ones are fine.
#[test]
fn the_pid_file_and_stats_socket_must_be_free_or_this_configurations() {
    let dir = tempfile::tempdir().unwrap();
    let path = file(&dir, "vpnd.conf", &with_nonce_files(dir.path()), 0o600);
    let pid_file = dir.path().join("vpnd.pid");
    let socket = dir.path().join("stats.sock");
    // This test's own process is alive: it holds the pid file.
    let me = std::process::id();
    std::fs::write(&pid_file, format!("{me}\n")).unwrap();
    let out = check(&path, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "{err}");
    assert!(
        err.contains(&format!(
            "vpnd: pid_file {}: vpnd is already running as pid {me}",
            pid_file.display()
        )),
        "{err}"
    );

    let listener = UnixListener::bind(&socket).unwrap();
    let out = check(&path, &[]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "pid_file {}: vpnd runs as pid {me}, listening on stats_path {}: this configuration's",
            pid_file.display(),
            socket.display()
        )),
        "{stdout}"
    );

    // A pid that cannot exist (above pid_max): stale.
    std::fs::write(&pid_file, "2147483000\n").unwrap();
    let out = check(&path, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "{err}");
    assert!(
        err.contains(&format!(
            "vpnd: stats_path {}: in use: another vpnd is listening on it",
            socket.display()
        )),
        "{err}"
    );

    // Nobody listens on the socket left behind: the start replaces it.
    drop(listener);
    let out = check(&path, &[]);
    assert!(out.status.success(), "{out:?}");
    assert!(socket.exists() && pid_file.exists());
}

/// The programs root runs must be there to run, as the start needs
/// them: a missing `ip_path` (Linux) stops it with its exit status, a
/// host's missing `resolvconf_path` is warned about, as the start warns.
#[test]
fn programs_root_runs_must_be_runnable() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    if cfg!(target_os = "linux") {
        let text = format!(
            "{}ip_path: {}\n",
            with_nonce_files(dir.path()),
            missing.display()
        );
        let out = check(&file(&dir, "vpnd.conf", &text, 0o600), &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(71), "{err}");
        assert!(
            err.contains(&format!(
                "vpnd: {}: cannot run: ip_path: not an executable file",
                missing.display()
            )),
            "{err}"
        );
    }
    let host = with_nonce_files(dir.path()).replace("role: net-gw", "role: host")
        + &format!("resolvconf_path: {}\n", missing.display());
    let out = check(&file(&dir, "vpnd.conf", &host, 0o600), &[]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!(
            "vpnd: warning: resolvconf_path {}: not an executable file",
            missing.display()
        )),
        "{out:?}"
    );
}

/// `vpnd -s -j` asks for `status json` and prints the answer as it came
/// once it is a JSON object of printable ASCII; anything else from the
/// network process is refused, exit 69, and not printed.
#[test]
fn status_json_is_asked_for_and_printed_only_when_valid() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("stats.sock");
    let text = format!("{GOOD}stats_path: {}\n", socket.display());
    let path = file(&dir, "vpnd.conf", &text, 0o600);
    let json = "{\"vpnd\":\"0.1.0\",\"counters\":{\"keys\":18446744073709551615}}\n";
    for (answer, ok) in [
        (json, true),
        ("{\"peer\":\"\u{1b}]0;owned\u{7}\"}\n", false),
        ("{\"vpnd\":", false),
    ] {
        let listener = UnixListener::bind(&socket).unwrap();
        let daemon = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            stream.read_to_end(&mut request).unwrap();
            stream.write_all(answer.as_bytes()).unwrap();
            request
        });
        let out = vpnd(&["-s", "-j", "-c", path.to_str().unwrap()]);
        // Were vpnd never to connect, this one ends the wait for it.
        drop(UnixStream::connect(&socket));
        assert_eq!(daemon.join().unwrap(), b"status json\n", "{out:?}");
        std::fs::remove_file(&socket).unwrap();
        if ok {
            assert!(out.status.success(), "{out:?}");
            assert_eq!(String::from_utf8_lossy(&out.stdout), json);
        } else {
            assert_eq!(out.status.code(), Some(69), "{answer:?}: {out:?}");
            assert!(out.stdout.is_empty(), "{out:?}");
            assert!(
                String::from_utf8_lossy(&out.stderr).contains("answered with no valid status JSON"),
                "{out:?}"
            );
        }
    }
    // -j belongs to -s.
    assert_eq!(
        vpnd(&["-j", "-n", "-c", path.to_str().unwrap()])
            .status
            .code(),
        Some(64)
    );
}

#[test]
fn every_error_of_a_bad_file_with_exit_78() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{GOOD}max_key_age: 5\nbogus: x\n");
    let path = file(&dir, "vpnd.conf", &text, 0o600);
    let out = check(&path, &[]);
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    let p = path.display();
    assert!(
        err.contains(&format!(
            "{p}:5: max_key_age: 5: must be a whole number from 30 to 3600"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("{p}:6: bogus: x: unknown parameter")),
        "{err}"
    );
    // A list of errors reads as vpnd's, line by line.
    assert!(err.lines().count() >= 2, "{err}");
    assert!(err.lines().all(|l| l.starts_with("vpnd: ")), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn a_missing_file_is_named_with_exit_66() {
    let out = check(Path::new("/nonexistent/vpnd.conf"), &[]);
    assert_eq!(out.status.code(), Some(66));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err,
        "vpnd: configuration file /nonexistent/vpnd.conf: cannot read: No such file or directory\n",
        "the system's own words, without Rust's (os error N)"
    );
}

/// Under systemd, standard error is the journal's stream
/// (`JOURNAL_STREAM` names it): each line starts with its priority, so
/// that `journalctl -p warning` finds the warnings. With the variable
/// inherited but standard error elsewhere, no priorities.
#[test]
fn on_the_journal_each_line_carries_its_priority() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], stream: Option<&str>| {
        let log = dir.path().join("stderr");
        let err = std::fs::File::create(&log).unwrap();
        let meta = err.metadata().unwrap();
        let own = format!("{}:{}", meta.dev(), meta.ino());
        let out = Command::new(env!("CARGO_BIN_EXE_vpnd"))
            .args(args)
            .env("JOURNAL_STREAM", stream.unwrap_or(&own))
            .stderr(err)
            .output()
            .unwrap();
        (out.status.code(), std::fs::read_to_string(&log).unwrap())
    };
    let text = format!("{GOOD}max_key_age: 5\nbogus: x\n");
    let bad = file(&dir, "bad.conf", &text, 0o600);
    let bad = bad.to_str().unwrap();
    let (code, err) = run(&["-n", "-c", bad], None);
    assert_eq!(code, Some(78));
    assert_eq!(err.lines().count(), 2, "{err}");
    assert!(err.lines().all(|l| l.starts_with("<3>vpnd: ")), "{err}");
    let (_, err) = run(&["-n", "-c", bad], Some("1:1"));
    assert!(err.lines().all(|l| l.starts_with("vpnd: ")), "{err}");

    // A warning: -s on a file others can read.
    let socket = dir.path().join("stats.sock");
    let text = format!("{GOOD}stats_path: {}\n", socket.display());
    let open = file(&dir, "open.conf", &text, 0o644);
    let (code, err) = run(&["-s", "-c", open.to_str().unwrap()], None);
    assert_eq!(code, Some(69), "{err}");
    let mut lines = err.lines();
    assert!(
        lines.next().unwrap().starts_with("<4>vpnd: warning: "),
        "{err}"
    );
    assert!(lines.all(|l| l.starts_with("<3>vpnd: ")), "{err}");

    let (code, err) = run(&["--bogus"], None);
    assert_eq!(code, Some(64));
    assert_eq!(
        err,
        "<3>vpnd: unexpected argument '--bogus' found\n<3>usage: vpnd [-fnsVv] [-c file]\n"
    );
}

#[test]
fn a_file_readable_or_writable_by_others_is_refused_with_exit_78() {
    let dir = tempfile::tempdir().unwrap();
    for mode in [0o644, 0o640, 0o620, 0o604] {
        let path = file(&dir, "vpnd.conf", GOOD, mode);
        let out = check(&path, &[]);
        assert_eq!(out.status.code(), Some(78), "{mode:o}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!(
                "configuration file {}: mode {mode:04o}: readable or writable by group or others",
                path.display()
            )) && err.contains("chmod 600"),
            "{err}"
        );
        assert!(out.stdout.is_empty());
    }
}

/// True when running as root; otherwise SKIPPED (fails under CI).
fn as_root(what: &str) -> bool {
    if rustix::process::geteuid().is_root() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none_or(|v| v != "true"),
        "{what} needs root under CI"
    );
    eprintln!("SKIPPED: {what}: not root");
    false
}

#[test]
fn a_file_of_another_user_is_refused_with_exit_78() {
    if !as_root("chown") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = file(&dir, "vpnd.conf", GOOD, 0o600);
    std::os::unix::fs::chown(&path, Some(65534), None).unwrap();
    let out = check(&path, &[]);
    assert_eq!(out.status.code(), Some(78), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "configuration file {}: owned by uid 65534, not root",
            path.display()
        )),
        "{err}"
    );
}

#[test]
fn a_file_in_a_directory_others_can_write_is_refused_with_exit_78() {
    let dir = tempfile::tempdir().unwrap();
    let path = file(&dir, "vpnd.conf", GOOD, 0o600);
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = check(&path, &[]);
    assert_eq!(out.status.code(), Some(78), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "directory {}: mode 0777: writable by group or others",
            dir.path().display()
        )),
        "{err}"
    );
}

/// `ip_path` (Linux) and a host's `resolvconf_path` are run by root: a
/// program that anyone else can write, or that sits in a directory anyone
/// else can write, is refused, naming the parameter and what is wrong.
#[test]
fn programs_root_runs_must_be_writable_by_root_alone() {
    if !as_root("programs owned by root") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let program = file(&dir, "bin/program", "#!/bin/sh\n", 0o755);
    let host = format!(
        "role: host\n\
         local_sk: {}\n\
         remote_pk: {}\n\
         remote_host: 198.18.0.2\n",
        "11".repeat(32),
        "22".repeat(32)
    ) + &placed(dir.path());
    let mut parameters = vec!["resolvconf_path"];
    if cfg!(target_os = "linux") {
        parameters.push("ip_path");
    }
    for parameter in parameters {
        let text = format!("{host}{parameter}: {}\n", program.display());
        let path = file(&dir, "vpnd.conf", &text, 0o600);
        let out = check(&path, &[]);
        assert!(out.status.success(), "{parameter}: {out:?}");

        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o775)).unwrap();
        let out = check(&path, &[]);
        assert_eq!(out.status.code(), Some(78), "{parameter}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!(
                "{parameter} {}: directory {}: mode 0775: writable by group or others",
                program.display(),
                bin.display()
            )),
            "{err}"
        );
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();

        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o757)).unwrap();
        let err = String::from_utf8_lossy(&check(&path, &[]).stderr).into_owned();
        assert!(
            err.contains(&format!(
                "file {}: mode 0757: writable by group or others",
                program.display()
            )),
            "{err}"
        );
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();

        std::os::unix::fs::chown(&program, Some(65534), None).unwrap();
        let out = check(&path, &[]);
        assert_eq!(out.status.code(), Some(78), "{parameter}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("owned by uid 65534, not root"),
            "{out:?}"
        );
        std::os::unix::fs::chown(&program, Some(0), None).unwrap();
    }
    // A program that is not there yet, where anyone could put one.
    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let text = format!("{host}resolvconf_path: {}/resolvconf\n", open.display());
    let out = check(&file(&dir, "vpnd.conf", &text, 0o600), &[]);
    assert_eq!(out.status.code(), Some(78), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!(
            "directory {}: mode 1777: writable by group or others",
            open.display()
        )),
        "{out:?}"
    );
}

/// A bad command line: one line saying what is wrong, then the usage
/// line, as BSD programs write them; exit status 64.
#[test]
fn usage_errors_exit_64() {
    for (args, error) in [
        (&["--bogus"][..], "unexpected argument '--bogus' found"),
        (
            &["-c"][..],
            "a value is required for '--config <FILE>' but none was supplied",
        ),
        (&["-x"][..], "unexpected argument '-x' found"),
    ] {
        let out = vpnd(args);
        assert_eq!(out.status.code(), Some(64), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("vpnd: {error}\nusage: vpnd [-fnsVv] [-c file]\n"),
            "{args:?}"
        );
        assert!(out.stdout.is_empty());
    }
    let help = vpnd(&["-h"]);
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--config"));
}

/// The sample configurations of `etc/examples/`, keys filled in as their
/// comments say, pass `vpnd -n`; as shipped, they fail on the key lines
/// only (nobody runs a sample by mistake).
#[test]
fn the_sample_configurations_check_once_keys_are_filled_in() {
    let dir = tempfile::tempdir().unwrap();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../etc/examples");
    // Each in a directory of its own: `vpnd -n` refuses instances of one
    // directory that share a port (all three take the default).
    for role in ["net-gw", "host-gw", "host"] {
        for sub in ["shipped", "filled"] {
            std::fs::create_dir_all(dir.path().join(sub).join(role)).unwrap();
        }
        let text = std::fs::read_to_string(examples.join(format!("{role}.conf"))).unwrap();
        let shipped = file(&dir, &format!("shipped/{role}/{role}.conf"), &text, 0o600);
        let out = check(&shipped, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(78), "{role}: {err}");
        let errors: Vec<&str> = err.lines().filter(|l| l.contains(".conf:")).collect();
        assert_eq!(errors.len(), 2, "{role}: {err}");
        assert!(
            err.contains("local_sk") && err.contains("remote_pk"),
            "{role}: {err}"
        );

        // Placed on this system: the samples' user and paths are what
        // the packages create.
        let mine = placed(dir.path());
        let placed_here: Vec<&str> = mine.lines().filter_map(|l| l.split(':').next()).collect();
        let filled: String = text
            .lines()
            .filter(|l| {
                !l.split(':')
                    .next()
                    .is_some_and(|n| placed_here.contains(&n))
            })
            .map(|l| match l.split_once(": ") {
                Some(("local_sk", _)) => format!("local_sk: {}", "11".repeat(32)),
                Some(("remote_pk", _)) => format!("remote_pk: {}", "22".repeat(32)),
                _ => l.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
            + &mine;
        let conf = file(&dir, &format!("filled/{role}/{role}.conf"), &filled, 0o600);
        let out = check(&conf, &["-v"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{role}: {out:?}");
        assert!(stdout.contains(&format!("role: {role}\n")), "{stdout}");
        assert!(stdout.ends_with("configuration OK\n"), "{stdout}");
    }
}

/// `vpnd -s` reads `stats_path` alone: with a key that is malformed or
/// missing, which `vpnd -n` refuses, it still asks the socket and prints
/// the answer, or names the socket when nobody listens there.
#[test]
fn status_reads_the_socket_path_without_a_valid_key() {
    let dir = tempfile::tempdir().unwrap();
    let bad_key = GOOD.replace("845b920bda", "not-a-key-");
    let no_key: String = GOOD
        .lines()
        .filter(|l| !l.starts_with("local_sk"))
        .map(|l| format!("{l}\n"))
        .collect();
    for (name, text) in [("bad-key", bad_key), ("no-key", no_key)] {
        let socket = dir.path().join(format!("{name}.sock"));
        let text = format!("{text}stats_path: {}\n", socket.display());
        let path = file(&dir, &format!("{name}.conf"), &text, 0o600);
        let out = check(&path, &[]);
        assert_eq!(out.status.code(), Some(78), "{name}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("local_sk"),
            "{name}: {out:?}"
        );

        let listener = UnixListener::bind(&socket).unwrap();
        let daemon = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            stream.read_to_end(&mut request).unwrap();
            stream.write_all(b"vpnd: the status\n").unwrap();
            request
        });
        let out = vpnd(&["-s", "-c", path.to_str().unwrap()]);
        assert!(out.status.success(), "{name}: {out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "vpnd: the status\n");
        assert_eq!(daemon.join().unwrap(), b"status\n");

        std::fs::remove_file(&socket).unwrap();
        let out = vpnd(&["-s", "-c", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(69), "{name}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!(
                "cannot connect to the stats socket {}",
                socket.display()
            )),
            "{name}: {err}"
        );
    }
}

/// `vpnd -s` reads `stats_path` alone and runs nothing: a file others can
/// read is warned about there, not refused.
#[test]
fn status_only_warns_about_a_file_others_can_read() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("stats.sock");
    let text = format!("{GOOD}stats_path: {}\n", socket.display());
    let path = file(&dir, "vpnd.conf", &text, 0o644);
    let listener = UnixListener::bind(&socket).unwrap();
    let daemon = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = Vec::new();
        stream.read_to_end(&mut request).unwrap();
        stream.write_all(b"vpnd: the status\n").unwrap();
    });
    let out = vpnd(&["-s", "-c", path.to_str().unwrap()]);
    daemon.join().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "vpnd: the status\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("vpnd: warning: ") && err.contains("mode 0644"),
        "{err}"
    );
}
