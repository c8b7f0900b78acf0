//! Instances on the command line: `vpnd -n -v` shows what a named file
//! derives, `vpnd -s` finds a named instance's socket, and `vpnd -n`
//! refuses instances of one directory that would share a device, a port
//! or a file, naming both files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::{Command, Output};

/// A host-gw file: the keys, `extra`, and nothing that names a file but
/// a user and a chroot directory that exist everywhere (`vpnd -n` checks
/// them).
fn host_gw(extra: &str) -> String {
    format!(
        "role: host-gw\nlocal_sk: {}\nremote_pk: {}\nlocal_network: 198.19.1.0/24\n\
         host_addr: 198.19.3.2/24\nuser: nobody\nchroot_dir: /\n{extra}",
        "11".repeat(32),
        "22".repeat(32)
    )
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// `vpnd ARGS -c CONF`, the runtime and state directories in `dir`.
fn vpnd(dir: &Path, args: &[&str], conf: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vpnd"))
        .env("VPND_TEST_RUNTIME_DIR", dir.join("run"))
        .env("VPND_TEST_STATE_DIR", dir.join("state"))
        .args(args)
        .arg("-c")
        .arg(conf)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_named_file_shows_what_it_derives_and_the_default_file_what_it_always_had() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let alice = dir.join("alice.conf");
    write(&alice, &host_gw(""));
    let out = vpnd(dir, &["-n", "-v"], &alice);
    assert!(out.status.success(), "{out:?}");
    let shown = text(&out.stdout);
    let d = dir.display();
    let mut expected = vec![
        format!("pid_file: {d}/run/alice.pid\n"),
        format!("stats_path: {d}/run/alice_stats.sock\n"),
        format!("local_nonce_file: {d}/state/local_alice.nonce\n"),
        format!("remote_nonce_file: {d}/state/remote_alice.nonce\n"),
    ];
    if cfg!(target_os = "linux") {
        expected.push("device: vpnd-alice\n".to_owned());
    }
    for line in expected {
        assert!(shown.contains(&line), "{line:?} not in\n{shown}");
    }
    // -n changes nothing on the system: the directories are the start's.
    assert!(!dir.join("run").exists() && !dir.join("state").exists());

    let default = dir.join("vpnd.conf");
    write(&default, &host_gw(""));
    let shown = text(&vpnd(dir, &["-n", "-v"], &default).stdout);
    for line in [
        "device: tun0\n",
        "pid_file: /var/run/vpnd.pid\n",
        "stats_path: /var/run/vpnd_stats.sock\n",
        "local_nonce_file: /var/db/local_vpnd.nonce\n",
    ] {
        assert!(shown.contains(line), "{line:?} not in\n{shown}");
    }
}

#[test]
fn status_asks_a_named_instances_own_socket() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir(dir.join("run")).unwrap();
    let bob = dir.join("bob.conf");
    write(&bob, &host_gw(""));
    let listener = UnixListener::bind(dir.join("run/bob_stats.sock")).unwrap();
    let daemon = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = Vec::new();
        stream.read_to_end(&mut request).unwrap();
        stream.write_all(b"vpnd: bob's status\n").unwrap();
    });
    let out = vpnd(dir, &["-s"], &bob);
    daemon.join().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(text(&out.stdout), "vpnd: bob's status\n");
}

/// `vpnd -n -c PATH` in `dir`: exit code and standard error.
fn check(dir: &Path, path: &Path) -> (Option<i32>, String) {
    let out = vpnd(dir, &["-n"], path);
    (out.status.code(), text(&out.stderr))
}

#[test]
fn instances_of_one_directory_that_share_a_port_device_or_file_are_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (alice, bob, carol) = (
        dir.join("alice.conf"),
        dir.join("bob.conf"),
        dir.join("carol.conf"),
    );
    write(&alice, &host_gw("local_port: 4711\n"));
    write(&bob, &host_gw("local_port: 4712\n"));
    // Not a configuration at all: not this check's business.
    write(&carol, "local_port: 4711\nbogus: 1\n");
    for path in [&alice, &bob] {
        let (code, err) = check(dir, path);
        assert_eq!(code, Some(0), "{}: {err}", path.display());
    }

    // bob copied from alice, port and all.
    write(&bob, &host_gw("local_port: 4711\n"));
    let (code, err) = check(dir, &bob);
    assert_eq!(code, Some(78), "{err}");
    assert_eq!(
        err,
        format!(
            "vpnd: {}: local_port 4711: also local_port of {}; two instances cannot share it\n",
            bob.display(),
            alice.display()
        )
    );
    let (code, err) = check(dir, &alice);
    assert_eq!(code, Some(78), "{err}");
    assert!(err.contains(&bob.display().to_string()), "{err}");

    // A file named in one that the other derives.
    let theirs = dir.join("run/alice.pid");
    write(
        &bob,
        &host_gw(&format!(
            "local_port: 4712\nstats_path: {}\n",
            theirs.display()
        )),
    );
    let (code, err) = check(dir, &bob);
    assert_eq!(code, Some(78), "{err}");
    assert!(
        err.contains(&format!(
            "{}: stats_path {}: also pid_file of {}",
            bob.display(),
            theirs.display(),
            alice.display()
        )),
        "{err}"
    );
}
