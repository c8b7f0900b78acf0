//! The vpnd-keygen binary: files, modes, refusals and exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

use vpnd_crypto::{PublicKey, SecretKey};

fn keygen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vpnd-keygen"))
        .args(args)
        .output()
        .unwrap()
}

/// The secret and public key in the four lines, checked for shape.
fn keys(text: &str) -> (SecretKey, PublicKey) {
    let lines: Vec<_> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[0].starts_with("# Secret key"));
    assert!(lines[2].starts_with("# Public key"));
    let sk = SecretKey::from_hex(lines[1].strip_prefix("local_sk: ").unwrap()).unwrap();
    let pk = PublicKey::from_hex(lines[3].strip_prefix("remote_pk: ").unwrap()).unwrap();
    (sk, pk)
}

#[test]
fn writes_a_private_file_with_a_matching_pair() {
    let dir = tempfile::tempdir().unwrap();
    let name = dir.path().join("gw1");
    let out = keygen(&[name.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let file = dir.path().join("gw1.keypair");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&file).unwrap();
    let (sk, pk) = keys(&text);
    assert_eq!(sk.public_key(), pk);
    assert!(String::from_utf8_lossy(&out.stderr).contains("gw1.keypair"));
    assert!(
        out.stdout.is_empty(),
        "the secret must not go to stdout too"
    );
    // Another run gives another pair.
    let other = keygen(&[dir.path().join("gw2").to_str().unwrap()]);
    assert!(other.status.success());
    let (_, pk2) = keys(&std::fs::read_to_string(dir.path().join("gw2.keypair")).unwrap());
    assert_ne!(pk, pk2);
}

#[test]
fn never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let name = dir.path().join("gw");
    assert!(keygen(&[name.to_str().unwrap()]).status.success());
    let before = std::fs::read(dir.path().join("gw.keypair")).unwrap();
    let out = keygen(&[name.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(73));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("gw.keypair") && err.contains("cannot create"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(dir.path().join("gw.keypair")).unwrap(),
        before
    );
}

#[test]
fn prints_without_a_name() {
    let out = keygen(&[]);
    assert!(out.status.success());
    let (sk, pk) = keys(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(sk.public_key(), pk);
}

#[test]
fn failures_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/dir/gw");
    let out = keygen(&[missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(73));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no/such/dir/gw.keypair"));
    assert_eq!(keygen(&[""]).status.code(), Some(64));
    assert_eq!(keygen(&["--bogus"]).status.code(), Some(64));
    assert_eq!(keygen(&["a", "b"]).status.code(), Some(64));
    let v = keygen(&["-V"]);
    assert!(v.status.success());
    assert_eq!(
        String::from_utf8_lossy(&v.stdout),
        format!("vpnd-keygen {}\n", env!("CARGO_PKG_VERSION"))
    );
    let h = keygen(&["-h"]);
    assert!(h.status.success());
    assert!(String::from_utf8_lossy(&h.stdout).contains("NAME"));
}

#[test]
fn a_failed_write_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let name = dir.path().join("gw");
    // A file size limit of 0 lets the create succeed and the write fail
    // (EFBIG; SIGXFSZ is ignored so that the write returns the error).
    let out = Command::new("sh")
        .args(["-c", "trap '' XFSZ; ulimit -f 0; exec \"$0\" \"$1\""])
        .arg(env!("CARGO_BIN_EXE_vpnd-keygen"))
        .arg(&name)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(74), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("gw.keypair") && err.contains("cannot write"),
        "{err}"
    );
    assert!(!dir.path().join("gw.keypair").exists());
}

#[test]
fn a_failed_stdout_is_an_io_error() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vpnd-keygen"))
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(74), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("standard output"));
}
