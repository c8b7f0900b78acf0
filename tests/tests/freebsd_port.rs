//! The FreeBSD port skeleton of `packaging/freebsd/net/vpnd` agrees with
//! the tree: its version, its rc.d script (the one in `etc/`), its crate
//! list (Cargo.lock's registry crates), its plist (every manual page and
//! sample).

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

#[test]
fn the_ports_rc_script_is_the_trees() {
    assert_eq!(
        read(&format!("{PORT}/files/vpnd.in")),
        read("etc/rc.d/vpnd.in")
    );
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
