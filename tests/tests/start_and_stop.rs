//! Starting: without `-f` the command returns once the daemon is up (0) or
//! with its start-up error and exit code; every unsafe or missing
//! prerequisite is refused with a message naming it, before anything is
//! configured. Stopping: the network process exits when its parent dies.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt;
use std::process::Output;
use std::time::{Duration, Instant};

use vpnd_tests::daemon::signal;
use vpnd_tests::pair::{Pair, write_private};

/// `vpnd -c CONF` (daemonizing) in side a's namespace.
fn start_daemonized(pair: &Pair) -> Output {
    pair.a
        .ns
        .command(vpnd_tests::binary("vpnd"))
        .arg("-c")
        .arg(&pair.a.conf)
        .output()
        .unwrap()
}

fn assert_nothing_configured(pair: &Pair) {
    let links = pair.a.ns.ip_output(&["link", "show"]);
    assert!(!links.contains(&pair.a.device), "tun created: {links}");
    assert!(!pair.a.pid_file.exists(), "pid file left");
}

fn pid_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn the_daemon_detaches_once_up_and_stops_on_sigterm() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let pair = Pair::new("daemon", "");
    let out = start_daemonized(&pair);
    assert!(out.status.success(), "{out:?}");
    // Up means: the pid file names a running daemon that is not the
    // command we ran, and its network process runs.
    let pid: u32 = std::fs::read_to_string(&pair.a.pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(pid_alive(pid));
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap();
    assert!(!children.trim().is_empty(), "no network process");
    // The daemon, which held the secret key, writes no core file.
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let core: Vec<&str> = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max core file size"))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(core[..2], ["0", "0"], "{limits}");
    let links = pair.a.ns.ip_output(&["link", "show", &pair.a.device]);
    assert!(links.contains("UP"), "{links}");
    // The daemon holds no directory busy: it left the one it was started
    // in (this test's) for the root.
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap(),
        std::path::Path::new("/")
    );
    signal(pid, nix::sys::signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(15);
    while pid_alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!pid_alive(pid), "daemon still running");
    assert_nothing_configured(&pair);
}

/// Rewrites a's configuration with `line` added (or a parameter replaced)
/// and checks that starting fails with `code` and `message`.
fn refused(pair: &Pair, code: i32, message: &str) {
    let out = start_daemonized(pair);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {stderr}");
    assert!(stderr.contains(message), "stderr: {stderr}");
    assert_nothing_configured(pair);
}

fn set_param(pair: &Pair, name: &str, value: &str) {
    let text = std::fs::read_to_string(&pair.a.conf).unwrap();
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with(&format!("{name}:")))
        .map(str::to_owned)
        .collect();
    lines.push(format!("{name}: {value}"));
    write_private(&pair.a.conf, &(lines.join("\n") + "\n"));
}

#[test]
fn missing_or_unsafe_prerequisites_are_refused_by_name() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let pair = Pair::new("prereq", "");

    set_param(&pair, "user", "no-such-user-vpnd");
    refused(&pair, 67, "user no-such-user-vpnd: no such user");
    set_param(&pair, "user", "root");
    refused(&pair, 67, "user root: has uid or gid 0");
    set_param(&pair, "user", "nobody");

    let missing = pair.dir.join("missing");
    set_param(&pair, "chroot_dir", &missing.to_string_lossy());
    refused(&pair, 78, "missing: No such file or directory");
    let open = pair.dir.join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    set_param(&pair, "chroot_dir", &open.to_string_lossy());
    refused(&pair, 78, "is writable by group or others");
    let owned = pair.dir.join("owned");
    std::fs::create_dir(&owned).unwrap();
    std::os::unix::fs::chown(&owned, Some(65534), None).unwrap();
    set_param(&pair, "chroot_dir", &owned.to_string_lossy());
    refused(&pair, 78, "is not owned by root");
    set_param(
        &pair,
        "chroot_dir",
        &pair.dir.join("empty").to_string_lossy(),
    );

    // Nonce files: truncated, oversized, or where nothing can be written,
    // each refused by name; never a silent start from zero.
    std::fs::write(&pair.a.local_nonce_file, [7u8; 10]).unwrap();
    refused(&pair, 65, "holds 10 bytes, not 24");
    let remote_nonce = pair.dir.join("a.remote_nonce");
    std::fs::write(&remote_nonce, [7u8; 25]).unwrap();
    std::fs::remove_file(&pair.a.local_nonce_file).unwrap();
    refused(&pair, 65, "a.remote_nonce: holds 25 bytes, not 24");
    std::fs::remove_file(&remote_nonce).unwrap();
    let nowhere = pair.dir.join("no-such-dir/local.nonce");
    set_param(&pair, "local_nonce_file", &nowhere.to_string_lossy());
    // Named by its parameter, with the directory that is missing.
    refused(
        &pair,
        73,
        &format!(
            "local_nonce_file {}: cannot write: the directory {} does not exist",
            nowhere.display(),
            pair.dir.join("no-such-dir").display()
        ),
    );
    // A directory where the file should be is a configuration error.
    let dir_in_place = pair.dir.join("nonce-dir");
    std::fs::create_dir(&dir_in_place).unwrap();
    std::fs::write(dir_in_place.join("x"), b"").unwrap();
    set_param(&pair, "local_nonce_file", &dir_in_place.to_string_lossy());
    refused(
        &pair,
        78,
        "nonce-dir: owner uid 0, mode 755: not a regular file",
    );
    // Root does not read or write where another user could plant a
    // link: a directory the group can write, a link in the file's place.
    let shared = pair.dir.join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o770)).unwrap();
    let in_shared = shared.join("local.nonce");
    set_param(&pair, "local_nonce_file", &in_shared.to_string_lossy());
    refused(
        &pair,
        78,
        &format!(
            "{}: owner uid 0, mode 770: a directory writable by group or others",
            shared.display()
        ),
    );
    let target = pair.dir.join("target");
    std::fs::write(&target, [7u8; 24]).unwrap();
    let link = pair.dir.join("link.nonce");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    set_param(&pair, "local_nonce_file", &link.to_string_lossy());
    refused(
        &pair,
        78,
        "link.nonce: owner uid 0, mode 777: a symbolic link",
    );
    assert_eq!(std::fs::read(&target).unwrap(), [7u8; 24]);
    set_param(
        &pair,
        "local_nonce_file",
        &pair.a.local_nonce_file.to_string_lossy(),
    );

    set_param(&pair, "ip_path", "/nonexistent/ip");
    refused(
        &pair,
        71,
        "/nonexistent/ip: cannot run: ip_path: not an executable file",
    );
    set_param(&pair, "ip_path", "/sbin/ip");

    // What root runs, and the configuration itself, must be root's to
    // change alone: a program reached through a directory anyone can
    // write, and a configuration others can read, are refused.
    let open_bin = pair.dir.join("open-bin");
    std::fs::create_dir(&open_bin).unwrap();
    std::fs::set_permissions(&open_bin, std::fs::Permissions::from_mode(0o777)).unwrap();
    let ip = open_bin.join("ip");
    std::os::unix::fs::symlink("/sbin/ip", &ip).unwrap();
    set_param(&pair, "ip_path", &ip.to_string_lossy());
    refused(
        &pair,
        78,
        &format!(
            "ip_path {}: directory {}: mode 0777: writable by group or others",
            ip.display(),
            open_bin.display()
        ),
    );
    set_param(&pair, "ip_path", "/sbin/ip");
    std::fs::set_permissions(&pair.a.conf, std::fs::Permissions::from_mode(0o640)).unwrap();
    refused(
        &pair,
        78,
        "mode 0640: readable or writable by group or others",
    );
    std::fs::set_permissions(&pair.a.conf, std::fs::Permissions::from_mode(0o600)).unwrap();

    set_param(&pair, "remote_host", "no-such-host.invalid");
    refused(&pair, 68, "remote_host no-such-host.invalid");
    set_param(&pair, "remote_host", "198.18.0.2");

    // Another vpnd holds the pid file.
    std::fs::write(&pair.a.pid_file, format!("{}\n", std::process::id())).unwrap();
    let out = start_daemonized(&pair);
    assert_eq!(out.status.code(), Some(75), "{out:?}");
    std::fs::remove_file(&pair.a.pid_file).unwrap();

    // And with everything fixed it starts.
    let mut d = pair.start(&pair.a);
    assert!(d.stop().success());
}

#[test]
fn the_network_process_exits_when_its_parent_dies() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let pair = Pair::new("orphan", "");
    let mut d = pair.start(&pair.a);
    let net = d.net_pid().unwrap();
    signal(d.pid(), nix::sys::signal::SIGKILL);
    d.wait_exit(Duration::from_secs(10)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while pid_alive(net) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!pid_alive(net), "network process outlived its parent");
    // With its last descriptor gone, the tun (and its routes) went too.
    let links = pair.a.ns.ip_output(&["link", "show"]);
    assert!(!links.contains(&pair.a.device), "tun left: {links}");
}
