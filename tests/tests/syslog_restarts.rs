//! A daemonized vpnd logs to syslog through the parent alone: the network
//! process's lines are relayed, and when syslogd restarts (its socket
//! removed and made anew) both processes' lines reach the new one. A
//! datagram socket at a path of the test's stands in for syslogd (debug
//! builds take it from `VPND_TEST_SYSLOG_PATH`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use vpnd_tests::daemon::signal;
use vpnd_tests::pair::Pair;

/// A stand-in for syslogd's socket at `path`.
fn syslogd(path: &Path) -> UnixDatagram {
    let s = UnixDatagram::bind(path).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    s
}

/// Reads messages until one contains `text`, up to 15 s; every message
/// read so far in `seen`.
fn wait_for(s: &UnixDatagram, text: &str, seen: &mut Vec<String>) -> bool {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut buf = [0u8; 8192];
    while Instant::now() < deadline {
        if let Ok(n) = s.recv(&mut buf) {
            let m = String::from_utf8_lossy(&buf[..n]).into_owned();
            let found = m.contains(text);
            seen.push(m);
            if found {
                return true;
            }
        }
    }
    false
}

/// Running: neither gone nor a zombie (nobody here reaps a daemon).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .is_some_and(|r| r.trim_start().starts_with('Z'))
    })
}

/// The daemon's pid; stopped (TERM, waited for) when dropped, so that a
/// failing test leaves no daemon behind.
struct Running(u32);

impl Drop for Running {
    fn drop(&mut self) {
        signal(self.0, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(15);
        while alive(self.0) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn both_processes_lines_reach_syslog_after_it_restarts() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let pair = Pair::new("syslog", "");
    let path = pair.dir.join("log");
    let first = syslogd(&path);
    let out = pair
        .a
        .ns
        .command(vpnd_tests::binary("vpnd"))
        .env("VPND_TEST_SYSLOG_PATH", &path)
        .arg("-c")
        .arg(&pair.a.conf)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let pid: u32 = std::fs::read_to_string(&pair.a.pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let running = Running(pid);
    let mut seen = Vec::new();
    let dump = "net: --- vpnd statistics ---";
    let refused_reload = "parent: SIGHUP: vpnd does not reload";
    signal(pid, Signal::SIGUSR1);
    assert!(wait_for(&first, dump, &mut seen), "{seen:#?}");
    assert!(
        seen.iter()
            .any(|m| m.contains(&format!("vpnd[{pid}]: parent: "))),
        "{seen:#?}"
    );

    // syslogd restarts.
    drop(first);
    std::fs::remove_file(&path).unwrap();
    let second = syslogd(&path);
    let mut after = Vec::new();
    signal(pid, Signal::SIGHUP);
    assert!(wait_for(&second, refused_reload, &mut after), "{after:#?}");
    signal(pid, Signal::SIGUSR1);
    assert!(wait_for(&second, dump, &mut after), "{after:#?}");

    // The parent's sends block while a datagram socket's queue is full,
    // as they would for a stuck syslogd: the stand-in goes before the
    // stop, so that the lines of the stop fail instead.
    drop(second);
    drop(running);
    assert!(!alive(pid), "daemon still running");
}
