//! The sandbox, checked from outside through /proc: the test re-executes
//! itself as a child that enters the sandbox and waits, and reads the
//! child's credentials, capabilities, no-new-privs, system-call filter and
//! root directory.
//! Needs root: skipped with a note outside CI, fails under CI=true.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};

use vpnd_net::sandbox::Sandbox;

const CHILD: &str = "VPND_SANDBOX_CHILD";
const NOBODY: u32 = 65534;

/// The child's side: runs only when re-executed with `CHILD` set.
#[test]
fn sandbox_child_entry() {
    let Some(root) = std::env::var_os(CHILD) else {
        return;
    };
    let sandbox = Sandbox {
        root: root.into(),
        uid: NOBODY,
        gid: NOBODY,
    };
    let entered = sandbox.enter().map_err(|e| e.to_string());
    let mut out = std::io::stdout().lock();
    writeln!(out, "@@tid {}", rustix::thread::gettid().as_raw_nonzero()).unwrap();
    writeln!(out, "@@entered {entered:?}").unwrap();
    writeln!(
        out,
        "@@open /etc/passwd {}",
        std::fs::File::open("/etc/passwd").is_ok()
    )
    .unwrap();
    // (setuid(0) would now kill the process: the system-call filter. The
    // end-to-end tests prove that with the real network process.)
    writeln!(out, "@@ready").unwrap();
    out.flush().unwrap();
    drop(out);
    let _ = std::io::stdin().read(&mut [0u8; 1]);
}

/// Removes the empty root however the test ends.
struct EmptyDir(std::path::PathBuf);

impl Drop for EmptyDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

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
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    if !rustix::process::geteuid().is_root() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run this test as root"
        );
        eprintln!("skipped: needs root");
        return;
    }
    let root = std::env::temp_dir().join(format!("vpnd-empty-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir(&root).unwrap();
    let _cleanup = EmptyDir(root.clone());
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "sandbox_child_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, &root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // libtest prints "test NAME ... " before the child's own lines: ours
    // carry a marker.
    let mut said = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let Some((_, ours)) = line.split_once("@@") else {
            continue;
        };
        let done = ours == "ready";
        said.push(ours.to_owned());
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
    // Read the child's last words, so it does not die of a broken pipe.
    for _ in lines {}
    child.wait().unwrap();

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
}
