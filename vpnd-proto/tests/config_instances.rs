//! Instances named by the file: `vpnd.conf` keeps the historical
//! defaults, `NAME.conf` derives its device and files from NAME in the
//! runtime and state directories, a value set in the file wins, and a
//! name that cannot give what is unset is an error naming the file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use vpnd_proto::config::{
    Config, ConfigErrors, InstanceDirs, Secrets, defaults, parse, parse_in, parse_stats_path_in,
};

mod config_common;
use config_common::base;

fn dirs() -> InstanceDirs {
    InstanceDirs {
        runtime: "/run/vpnd".into(),
        state: "/var/lib/vpnd".into(),
    }
}

fn ok(path: &str, text: &str) -> Config {
    parse_in(Path::new(path), text, &dirs()).unwrap_or_else(|e| panic!("{e}\n---\n{text}"))
}

fn err(path: &str, text: &str) -> ConfigErrors {
    match parse_in(Path::new(path), text, &dirs()) {
        Ok(c) => panic!("accepted:\n{text}\n{c:?}"),
        Err(e) => e,
    }
}

/// device, pid_file, stats_path and the two nonce files.
fn files(c: &Config) -> [String; 5] {
    [
        c.device.to_string(),
        c.pid_file.display().to_string(),
        c.stats_path.display().to_string(),
        c.local_nonce_file.display().to_string(),
        c.remote_nonce_file.display().to_string(),
    ]
}

#[test]
fn the_default_file_keeps_the_historical_defaults() {
    for path in [
        "/etc/vpnd.conf",
        "/usr/local/etc/vpnd.conf",
        "/etc/vpnd/vpnd.conf",
    ] {
        let c = ok(path, &base("host-gw"));
        assert_eq!(c.instance, None);
        assert_eq!(
            files(&c),
            [
                "tun0",
                defaults::PID_FILE,
                defaults::STATS_PATH,
                defaults::LOCAL_NONCE_FILE,
                defaults::REMOTE_NONCE_FILE
            ]
        );
    }
}

#[test]
fn a_named_file_derives_device_and_files_from_its_name() {
    let c = ok("/etc/vpnd/alice.conf", &base("host-gw"));
    assert_eq!(c.instance.as_ref().unwrap().as_str(), "alice");
    let device = if cfg!(target_os = "netbsd") {
        return; // NetBSD: a named instance sets device (below)
    } else {
        "vpnd-alice"
    };
    assert_eq!(
        files(&c),
        [
            device,
            "/run/vpnd/alice.pid",
            "/run/vpnd/alice_stats.sock",
            "/var/lib/vpnd/local_alice.nonce",
            "/var/lib/vpnd/remote_alice.nonce"
        ]
    );
    // -s finds the same socket.
    let alone =
        parse_stats_path_in(Path::new("/etc/vpnd/alice.conf"), &base("host-gw"), &dirs()).unwrap();
    assert_eq!(alone, c.stats_path);
    // Printed, the derived values are written out and parse back the same.
    let printed = c.to_text(Secrets::Included);
    assert!(
        printed.contains("pid_file: /run/vpnd/alice.pid\n"),
        "{printed}"
    );
    assert_eq!(ok("/etc/vpnd/alice.conf", &printed), c);
}

#[test]
fn the_platforms_directories_are_the_default() {
    let c = parse(Path::new("/etc/vpnd/bob.conf"), &base("net-gw")).unwrap();
    assert_eq!(
        c.pid_file,
        PathBuf::from(defaults::RUNTIME_DIR).join("bob.pid")
    );
    assert_eq!(
        c.local_nonce_file,
        PathBuf::from(defaults::STATE_DIR).join("local_bob.nonce")
    );
}

#[test]
fn what_the_file_sets_wins() {
    let text = format!(
        "{}device: tun7\npid_file: /run/a.pid\nstats_path: /run/a.sock\n\
         local_nonce_file: /var/db/l\nremote_nonce_file: /var/db/r\n",
        base("host")
    );
    let c = ok("/etc/vpnd/alice.conf", &text);
    assert_eq!(
        files(&c),
        [
            "tun7",
            "/run/a.pid",
            "/run/a.sock",
            "/var/db/l",
            "/var/db/r"
        ]
    );
}

#[test]
fn a_file_name_that_is_no_instance_name_is_an_error_when_something_follows_from_it() {
    let e = err("/etc/vpnd/alice.old.conf", &base("host-gw"));
    assert_eq!(e.0.len(), 1, "{e}");
    let shown = e.to_string();
    assert!(
        shown.starts_with(
            "/etc/vpnd/alice.old.conf: the file name \"alice.old.conf\" gives no instance name"
        ),
        "{shown}"
    );
    assert!(
        shown.ends_with(
            ": set device, stats_prefix, local_nonce_file, remote_nonce_file, stats_path, pid_file, or name the file NAME.conf"
        ),
        "{shown}"
    );
    // With everything set, the name does not matter.
    let text = format!(
        "{}device: tun7\nstats_prefix: gw\npid_file: /run/a.pid\nstats_path: /run/a.sock\n\
         local_nonce_file: /var/db/l\nremote_nonce_file: /var/db/r\n",
        base("host-gw")
    );
    assert_eq!(ok("/etc/vpnd/alice.old.conf", &text).instance, None);
}

#[test]
fn a_derived_value_that_does_not_fit_is_an_error_naming_the_parameter() {
    if cfg!(target_os = "netbsd") {
        return;
    }
    // 11 characters: vpnd-laptop-0042 is one too many for a device.
    let e = err("/etc/vpnd/laptop-0042.conf", &base("host"));
    assert_eq!(
        e.to_string(),
        "/etc/vpnd/laptop-0042.conf: device: unset, and vpnd-laptop-0042 (from the instance name laptop-0042) is longer than 15 characters: set device, or shorten the file's name to 10 characters"
    );
    assert!(
        ok(
            "/etc/vpnd/laptop-0042.conf",
            &format!("{}device: lt42\n", base("host"))
        )
        .instance
        .is_some()
    );
    // A socket path past the limit of sun_path.
    let long = InstanceDirs {
        runtime: PathBuf::from(format!("/{}", "r".repeat(100))),
        state: "/var/lib/vpnd".into(),
    };
    let e = parse_in(Path::new("/etc/vpnd/alice.conf"), &base("host"), &long).unwrap_err();
    assert!(
        e.to_string().contains(": stats_path: ")
            && e.to_string().contains("a unix socket path is at most"),
        "{e}"
    );
}
