//! The FreeBSD port skeleton of `packaging/freebsd/net/vpnd` agrees with
//! the tree: its version, what it builds (the workspace's default
//! members), its rc.d script (a copy of the one in `etc/`), its crate list
//! (Cargo.lock's registry crates), its plist (every manual page and
//! sample), its pkg-message, and the UIDs/GIDs lines its README gives.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

fn tree(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(tree(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

const PORT: &str = "packaging/freebsd/net/vpnd";

#[test]
fn the_makefile_names_cargo_the_rc_script_and_the_user() {
    let makefile = read(&format!("{PORT}/Makefile"));
    let var = |name: &str| -> String {
        makefile
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("Makefile lacks {name}"))
            .trim()
            .to_owned()
    };
    assert_eq!(var("DISTVERSION"), env!("CARGO_PKG_VERSION"));
    assert_eq!(var("USES"), "cargo");
    assert_eq!(var("USE_RC_SUBR"), "vpnd");
    assert_eq!(var("USERS"), "_vpnd");
    assert_eq!(var("GROUPS"), "_vpnd");
    assert_eq!(var("LICENSE"), "ISC");
    assert!(tree("LICENSE").exists());
    assert!(makefile.ends_with(".include <bsd.port.mk>\n"));
}

/// The Makefile's `NAME=` value, tabs and all trimmed.
fn makefile_var(name: &str) -> String {
    read(&format!("{PORT}/Makefile"))
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}=")).map(str::to_owned))
        .unwrap_or_else(|| panic!("Makefile lacks {name}"))
        .trim()
        .to_owned()
}

#[test]
fn a_plain_cargo_build_builds_what_the_port_installs() {
    // cargo.mk's do-build is `cargo build` with no package: it builds the
    // default members, and do-install installs CARGO_INSTALL_PATH.
    let manifest = read("Cargo.toml");
    let line = manifest
        .lines()
        .find_map(|l| l.strip_prefix("default-members = "))
        .expect("the workspace names default-members");
    let members: Vec<&str> = line
        .trim_matches(['[', ']'])
        .split(',')
        .map(|m| m.trim().trim_matches('"'))
        .collect();
    let install = makefile_var("CARGO_INSTALL_PATH");
    let install: Vec<&str> = install.split_whitespace().collect();
    assert_eq!(members, install);
    assert_eq!(members, ["vpnd-priv", "vpnd-keygen"]);
}

#[test]
fn the_port_strips_both_binaries() {
    let makefile = read(&format!("{PORT}/Makefile"));
    assert!(
        makefile.lines().any(|l| l.trim()
            == "${STRIP_CMD} ${STAGEDIR}${PREFIX}/sbin/vpnd ${STAGEDIR}${PREFIX}/bin/vpnd-keygen"),
        "post-install does not strip sbin/vpnd and bin/vpnd-keygen"
    );
}

#[test]
fn the_ports_rc_script_is_a_real_copy_of_the_trees() {
    // The port directory is copied into the ports tree alone: a link out
    // of it would dangle there.
    for file in std::fs::read_dir(tree(&format!("{PORT}/files"))).unwrap() {
        let file = file.unwrap();
        let kind = std::fs::symlink_metadata(file.path()).unwrap().file_type();
        assert!(
            kind.is_file(),
            "{} is not a regular file",
            file.path().display()
        );
    }
    assert!(
        read(&format!("{PORT}/files/vpnd.in")) == read("etc/rc.d/vpnd.in"),
        "files/vpnd.in differs from etc/rc.d/vpnd.in: \
         cp etc/rc.d/vpnd.in {PORT}/files/vpnd.in"
    );
}

#[test]
fn the_pkg_message_is_ucl_and_says_how_to_set_up() {
    assert_eq!(makefile_var("SUB_FILES"), "pkg-message");
    let message = read(&format!("{PORT}/files/pkg-message.in"));
    // The Porter's Handbook, pkg-message: a file starting with "[" is UCL,
    // an array of objects with a type and a message.
    let lines: Vec<&str> = message.lines().collect();
    assert_eq!(lines.first(), Some(&"["));
    assert_eq!(lines.last(), Some(&"]"));
    assert_eq!(lines.get(1), Some(&"{ type: install"));
    assert_eq!(lines.get(2), Some(&"  message: <<EOM"));
    let end = lines
        .iter()
        .position(|l| *l == "EOM")
        .expect("EOM ends the message");
    assert_eq!(&lines[end + 1..], ["}", "]"]);
    let body = lines[3..end].join("\n");
    for needed in [
        "vpnd-keygen NAME",
        "chmod 600 %%PREFIX%%/etc/vpnd.conf",
        "vpnd -n -c %%PREFIX%%/etc/vpnd.conf",
        "service vpnd configtest",
        "sysrc vpnd_enable=YES",
        "service vpnd start",
        "vpnd_config",
        "vpnd_pidfile",
        "vpnd_flags",
        "vpnd_profiles",
    ] {
        assert!(body.contains(needed), "pkg-message lacks {needed:?}");
    }
}

#[test]
fn the_readme_gives_the_uids_and_gids_lines_for_the_user() {
    assert_eq!(makefile_var("USERS"), "_vpnd");
    let readme = read("packaging/freebsd/README");
    let entries: Vec<Vec<&str>> = readme
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("_vpnd:"))
        .map(|l| l.split(':').collect())
        .collect();
    assert_eq!(entries.len(), 2, "README: one UIDs and one GIDs line");
    // ports/UIDs is in master.passwd(5)'s format, ports/GIDs in group(5)'s.
    let (user, group) = (&entries[0], &entries[1]);
    assert_eq!(user.len(), 10, "{user:?}");
    assert_eq!(user[..2], ["_vpnd", "*"]);
    assert_eq!(user[4..7], ["", "0", "0"]);
    assert_eq!(user[8..], ["/nonexistent", "/usr/sbin/nologin"]);
    assert_eq!(group[..], ["_vpnd", "*", user[3], ""]);
    let uid: u32 = user[2].parse().unwrap();
    assert_eq!(user[2], user[3], "the UID and the GID are the same number");
    // Both files reserve 1000 and up ("DO NOT USE: 1000-65533").
    assert!((1..1000).contains(&uid), "{uid}");
}

#[test]
fn the_crate_list_is_cargo_locks() {
    let lock = read("Cargo.lock");
    let mut from_lock = Vec::new();
    for block in lock.split("[[package]]").skip(1) {
        let field = |name: &str| {
            block
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name} = \"")))
                .map(|v| v.trim_end_matches('"').to_owned())
        };
        if field("source").is_some_and(|s| s.starts_with("registry+")) {
            from_lock.push(format!(
                "{}-{}",
                field("name").unwrap(),
                field("version").unwrap()
            ));
        }
    }
    let listed: Vec<String> = read(&format!("{PORT}/Makefile.crates"))
        .replace("CARGO_CRATES=", "")
        .split_whitespace()
        .filter(|w| *w != "\\")
        .map(str::to_owned)
        .collect();
    assert_eq!(listed, from_lock, "run scripts/freebsd-crates");
}

#[test]
fn the_plist_holds_every_manual_page_and_sample() {
    let plist = read(&format!("{PORT}/pkg-plist"));
    for page in std::fs::read_dir(tree("man")).unwrap() {
        let name = page.unwrap().file_name().into_string().unwrap();
        let section = name.rsplit('.').next().unwrap();
        let entry = format!("share/man/man{section}/{name}.gz");
        assert!(plist.lines().any(|l| l == entry), "pkg-plist lacks {entry}");
    }
    for sample in std::fs::read_dir(tree("etc/examples")).unwrap() {
        let name = sample.unwrap().file_name().into_string().unwrap();
        let entry = format!("%%PORTEXAMPLES%%%%EXAMPLESDIR%%/{name}");
        assert!(plist.lines().any(|l| l == entry), "pkg-plist lacks {entry}");
    }
    for binary in ["sbin/vpnd", "bin/vpnd-keygen"] {
        assert!(
            plist.lines().any(|l| l == binary),
            "pkg-plist lacks {binary}"
        );
    }
}
