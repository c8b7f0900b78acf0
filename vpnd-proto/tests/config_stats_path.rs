//! `stats_path` read alone (for `vpnd -s`): its default, its value, its
//! errors with file and line, the line rules of the whole parser, and no
//! need for a valid key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use vpnd_proto::config::{ConfigErrors, parse, parse_stats_path};

mod config_common;
use config_common::{SK, base};

fn ok(text: &str) -> PathBuf {
    parse_stats_path(Path::new("/etc/vpnd.conf"), text)
        .unwrap_or_else(|e| panic!("{e}\n---\n{text}"))
}

fn err(text: &str) -> ConfigErrors {
    match parse_stats_path(Path::new("/etc/vpnd.conf"), text) {
        Ok(p) => panic!("accepted:\n{text}\n{}", p.display()),
        Err(e) => e,
    }
}

#[test]
fn the_default_when_unset_and_the_value_when_set() {
    assert_eq!(ok(&base("net-gw")), Path::new("/var/run/vpnd_stats.sock"));
    assert_eq!(ok(""), Path::new("/var/run/vpnd_stats.sock"));
    let text = format!(
        "# vpnd\r\n{}  STATS_PATH :  /run/vpnd/a.sock \t\r\n",
        base("host")
    );
    assert_eq!(ok(&text), Path::new("/run/vpnd/a.sock"));
    // The same value the whole parser reads.
    assert_eq!(
        parse(Path::new("/etc/vpnd.conf"), &text)
            .unwrap()
            .stats_path,
        ok(&text)
    );
}

#[test]
fn a_missing_or_malformed_key_does_not_matter() {
    let bad_key = base("net-gw").replace(SK, "not-a-key");
    let without_keys: String = base("net-gw")
        .lines()
        .filter(|l| !l.contains("_sk") && !l.contains("_pk"))
        .map(|l| format!("{l}\n"))
        .collect();
    for text in [bad_key, without_keys, "role: gateway\nmtu: 1\n".to_string()] {
        let text = format!("{text}stats_path: /run/vpnd.sock\n");
        assert!(parse(Path::new("/etc/vpnd.conf"), &text).is_err(), "{text}");
        assert_eq!(ok(&text), Path::new("/run/vpnd.sock"), "{text}");
    }
}

#[test]
fn errors_name_the_file_and_line() {
    let e = err(&format!("{}stats_path: run/vpnd.sock\n", base("net-gw")));
    assert_eq!(
        e.to_string(),
        "/etc/vpnd.conf:5: stats_path: run/vpnd.sock: must be an absolute path"
    );
    let max = vpnd_proto::config::MAX_SOCKET_PATH;
    let long = format!("/{}", "s".repeat(max));
    assert_eq!(
        err(&format!("stats_path: {long}\n")).to_string(),
        format!("/etc/vpnd.conf:1: stats_path: {long}: a unix socket path is at most {max} bytes")
    );
    let e = err("stats_path: /run/a.sock\nstats_path: /run/b.sock\n");
    assert_eq!(
        e.to_string(),
        "/etc/vpnd.conf:2: stats_path: /run/b.sock: repeated (first set on line 1)"
    );
    assert_eq!(
        err("stats_path:\n").to_string(),
        "/etc/vpnd.conf:1: stats_path: empty value"
    );
}

#[test]
fn every_line_follows_the_parsers_rules() {
    // A misspelt name could be the socket's: not read past in silence.
    let e = err("stats-path: /run/vpnd.sock\nstats_path /run/vpnd.sock\n");
    let shown = e.to_string();
    assert!(
        shown.contains(":1: stats-path: /run/vpnd.sock: unknown parameter"),
        "{shown}"
    );
    assert!(
        shown.contains(":2: stats_path /run/vpnd.sock: expected 'name: value'"),
        "{shown}"
    );
    // A repeated key is named by its length only, as the parser does.
    let e = err(&format!("local_sk: {SK}\nlocal_sk: {SK}\n"));
    assert_eq!(
        e.to_string(),
        "/etc/vpnd.conf:2: local_sk: <secret, 64 characters>: repeated (first set on line 1)"
    );
}
