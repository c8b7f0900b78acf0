//! The vpnd-keygen binary: files, modes, refusals and exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output, Stdio};

use vpnd_crypto::{PublicKey, SecretKey};

fn keygen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vpnd-keygen"))
        .args(args)
        .output()
        .unwrap()
}

/// `vpnd-keygen ARGS` with `input` on standard input.
fn keygen_with_input(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vpnd-keygen"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A refusal may come before all of it is read: a broken pipe is fine.
    let _ = child.stdin.take().unwrap().write_all(input);
    child.wait_with_output().unwrap()
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
        err.contains("gw.keypair") && err.contains("cannot create: File exists\n"),
        "the system's words, without Rust's (os error N): {err}"
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
    let empty = keygen(&[""]);
    assert_eq!(empty.status.code(), Some(64));
    assert_eq!(
        String::from_utf8_lossy(&empty.stderr),
        "vpnd-keygen: the name is empty\n"
    );
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

/// `-y` reads a secret key and prints the `remote_pk` line of its public
/// key: from a .keypair file, a vpnd.conf, or the key alone.
#[test]
fn y_prints_the_public_key_of_a_secret_key() {
    let dir = tempfile::tempdir().unwrap();
    let name = dir.path().join("gw");
    assert!(keygen(&[name.to_str().unwrap()]).status.success());
    let pair = std::fs::read_to_string(dir.path().join("gw.keypair")).unwrap();
    let (sk, pk) = keys(&pair);
    let expected = format!("remote_pk: {}\n", pk.to_hex());
    let conf = format!(
        "role: net-gw\nlocal_sk: {}\nremote_pk: {}\nremote_host: 198.18.0.2\n",
        sk.expose_hex(),
        "22".repeat(32)
    );
    for input in [
        pair.clone(),
        conf,
        sk.expose_hex(),
        format!("{}\n", sk.expose_hex()),
    ] {
        let out = keygen_with_input(&["-y"], input.as_bytes());
        assert!(out.status.success(), "{out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
        assert!(out.stderr.is_empty(), "{out:?}");
    }
}

/// What is wrong with the input is said, naming the line, never showing
/// the key; exit status 65 (data error). `-y` takes no name.
#[test]
fn y_refuses_what_is_not_one_secret_key() {
    let sk = "845b920bda4cd49d251d3329144a0cf8bdaaa07502626fa87f08e80faedab11f";
    for (input, said) in [
        (
            String::new(),
            "standard input: no secret key: expected a local_sk line",
        ),
        (
            format!("remote_pk: {sk}\n"),
            "standard input: no secret key: expected a local_sk line",
        ),
        (
            format!("role: host\nlocal_sk: {}\n", &sk[..60]),
            "standard input: line 2: local_sk: a key is 64 hex digits, this one has 60",
        ),
        (
            format!("local_sk: {sk}\nlocal_sk: {sk}\n"),
            "standard input: line 2: local_sk repeated (first on line 1)",
        ),
        (
            "x".repeat(70 * 1024),
            "standard input: more than 65536 bytes",
        ),
    ] {
        let out = keygen_with_input(&["-y"], input.as_bytes());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(65), "{err}");
        assert!(err.starts_with(&format!("vpnd-keygen: {said}")), "{err}");
        assert!(!err.contains(&sk[..60]), "the key shown: {err}");
        assert!(out.stdout.is_empty());
    }
    let out = keygen_with_input(&["-y", "gw"], sk.as_bytes());
    assert_eq!(out.status.code(), Some(64), "{out:?}");
}
