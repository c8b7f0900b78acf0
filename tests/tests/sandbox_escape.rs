//! The network process cannot get out of its sandbox: a debug build of
//! vpnd makes it try one forbidden action right after entering it
//! (`VPND_TEST_SANDBOX_PROBE`), and the test watches from outside. Opening
//! a file fails (EACCES from the system-call filter, inside an empty
//! chroot); creating a socket, executing a program or becoming root again
//! kill the process (SIGSYS). Each time the parent undoes the network and
//! exits 70.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use vpnd_tests::pair::Pair;

/// SIGSYS on Linux.
const SIGSYS: i32 = 31;

fn probe(action: &str) -> String {
    let pair = Pair::new("probe", "");
    let mut d = pair.a.start_with_env(
        &pair.dir,
        &[("VPND_TEST_SANDBOX_PROBE", std::ffi::OsStr::new(action))],
    );
    let status = d
        .wait_exit(Duration::from_secs(20))
        .unwrap_or_else(|| panic!("{action}: vpnd still running\n{}", d.log_text()));
    let log = d.log_text();
    assert_eq!(status.code(), Some(70), "{action}: {log}");
    assert!(
        !log.contains("succeeded"),
        "{action}: the sandbox leaked\n{log}"
    );
    let links = pair.a.ns.ip_output(&["link", "show"]);
    assert!(
        !links.contains(&pair.a.device),
        "{action}: tun left: {links}"
    );
    assert!(!pair.a.pid_file.exists());
    log
}

fn killed_by_the_filter(action: &str) {
    let log = probe(action);
    assert!(
        log.contains(&format!(
            "network process: ended during start-up (killed by signal {SIGSYS})"
        )),
        "{action}: {log}"
    );
}

#[test]
fn the_network_process_cannot_open_a_file() {
    if vpnd_tests::can_run!() {
        let log = probe("open");
        assert!(
            log.contains("probe open: refused: Permission denied"),
            "{log}"
        );
        assert!(log.contains("exit status 98"), "{log}");
    }
}

#[test]
fn the_network_process_cannot_create_a_socket() {
    if vpnd_tests::can_run!() {
        killed_by_the_filter("socket");
    }
}

#[test]
fn the_network_process_cannot_execute_a_program() {
    if vpnd_tests::can_run!() {
        killed_by_the_filter("exec");
    }
}

#[test]
fn the_network_process_cannot_become_root_again() {
    if vpnd_tests::can_run!() {
        killed_by_the_filter("setuid");
    }
}
