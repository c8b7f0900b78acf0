//! Enters the network process's sandbox (chroot into the directory named
//! by its one argument, become nobody, no capabilities, no-new-privs, the
//! system-call filter), says so on stdout line by line, then waits until
//! stdin closes: the sandbox test reads it from outside through /proc
//! meanwhile.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};

use vpnd_net::sandbox::Sandbox;

/// nobody and nogroup.
const NOBODY: u32 = 65534;

fn main() {
    let root = std::env::args_os()
        .nth(1)
        .expect("usage: vpnd-sandboxed ROOT");
    let sandbox = Sandbox {
        root: root.into(),
        uid: NOBODY,
        gid: NOBODY,
    };
    let entered = sandbox.enter(&[]).map_err(|e| e.to_string());
    let mut out = std::io::stdout().lock();
    writeln!(out, "tid {}", rustix::thread::gettid().as_raw_nonzero()).unwrap();
    writeln!(out, "entered {entered:?}").unwrap();
    writeln!(
        out,
        "open /etc/passwd {}",
        std::fs::File::open("/etc/passwd").is_ok()
    )
    .unwrap();
    // (setuid(0) would now kill the process: the system-call filter. The
    // end-to-end tests prove that with the real network process.)
    writeln!(out, "ready").unwrap();
    out.flush().unwrap();
    drop(out);
    let _ = std::io::stdin().read(&mut [0u8; 1]);
}
