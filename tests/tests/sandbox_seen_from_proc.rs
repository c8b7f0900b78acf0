//! The sandbox, checked from outside through /proc: a helper binary
//! (`vpnd-sandboxed`) enters it and waits, and the test reads the
//! helper's credentials, capabilities, no-new-privs, system-call filter
//! and root directory.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use vpnd_tests::pair::Scratch;

/// nobody and nogroup, whom the helper becomes.
const NOBODY: u32 = 65534;

fn status_field<'a>(status: &'a str, name: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| {
            l.strip_prefix(name)
                .map(|v| v.trim_start_matches(':').trim())
        })
        .unwrap_or_else(|| panic!("{name} missing"))
}

#[test]
fn the_sandbox_leaves_nothing_of_root() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let dir = Scratch::new("sandbox");
    let root = dir.join("empty");
    let mut child = Command::new(env!("CARGO_BIN_EXE_vpnd-sandboxed"))
        .arg(&root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut said = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line == "ready";
        said.push(line);
        if done {
            break;
        }
    }
    let pid = child.id();
    let tid: u32 = said
        .iter()
        .find_map(|l| l.strip_prefix("tid "))
        .unwrap_or_else(|| panic!("no tid in {said:?}"))
        .parse()
        .unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")).unwrap();
    let proc_root = std::fs::read_link(format!("/proc/{pid}/root")).unwrap();
    drop(child.stdin.take());
    let exit = child.wait().unwrap();

    assert!(said.contains(&"entered Ok(())".to_owned()), "{said:?}");
    assert!(
        said.contains(&"open /etc/passwd false".to_owned()),
        "{said:?}"
    );
    let ids = format!("{NOBODY}\t{NOBODY}\t{NOBODY}\t{NOBODY}");
    assert_eq!(status_field(&status, "Uid"), ids);
    assert_eq!(status_field(&status, "Gid"), ids);
    assert_eq!(status_field(&status, "Groups"), NOBODY.to_string());
    for caps in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(status_field(&status, caps), "0000000000000000", "{caps}");
    }
    assert_eq!(status_field(&status, "NoNewPrivs"), "1");
    assert_eq!(status_field(&status, "Seccomp"), "2", "filter mode");
    assert_eq!(proc_root, root);
    assert!(exit.success(), "the sandboxed helper ended with {exit}");
}
