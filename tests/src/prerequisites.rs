//! Whether a test can run here: root and the tools it needs. Under
//! `CI=true` a missing prerequisite fails the test (tests never skip in
//! CI); elsewhere the test says SKIPPED with its own name and passes.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// What a test needs besides itself.
#[derive(Debug, Clone, Copy)]
pub struct Needs<'a> {
    /// Running as root (namespaces, tun devices, chroot).
    pub root: bool,
    /// Programs that must be found on `PATH` (or in /sbin, /usr/sbin).
    pub tools: &'a [&'a str],
}

/// True when `needs` are met; otherwise panics under `CI=true` and says
/// SKIPPED elsewhere. Call it through [`can_run!`](crate::can_run) or
/// [`has_tools!`](crate::has_tools), which name the test themselves.
pub fn met(test: &str, needs: Needs<'_>) -> bool {
    let missing = if needs.root && !rustix::process::geteuid().is_root() {
        Some("root")
    } else {
        needs.tools.iter().copied().find(|tool| !found(tool))
    };
    match missing {
        None => true,
        Some(what) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{test}: needs {what}, which CI must provide")
        }
        Some(what) => {
            eprintln!("SKIPPED {test}: needs {what}");
            false
        }
    }
}

/// Whether `tool` is an executable file in a `PATH` directory or in the
/// system directories a root shell has (`sudo` may leave them out).
fn found(tool: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .any(|dir| executable(&dir.join(tool)))
}

fn executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The test's name as libtest prints it and `--exact` takes it, from the
/// type name of a function defined inside the test
/// (`crate::module::test::here`): the crate and the `here` dropped.
pub fn test_name(here: &'static str) -> &'static str {
    let inside_crate = here.split_once("::").map_or(here, |(_, rest)| rest);
    inside_crate.strip_suffix("::here").unwrap_or(inside_crate)
}

/// The name of the test this is written in, as libtest prints it.
#[macro_export]
macro_rules! test_name {
    () => {{
        fn here() {}
        $crate::prerequisites::test_name(::std::any::type_name_of_val(&here))
    }};
}

/// True when the test this is written in can run: as root, with `ip` and
/// each tool named (`can_run!("setpriv")`). Under `CI=true` a missing one
/// fails the test; elsewhere the test says SKIPPED by its real name.
#[macro_export]
macro_rules! can_run {
    ($($tool:literal),* $(,)?) => {
        $crate::prerequisites::met(
            $crate::test_name!(),
            $crate::prerequisites::Needs { root: true, tools: &["ip", $($tool),*] },
        )
    };
}

/// True when the tools named are there (no root needed): like
/// [`can_run!`](crate::can_run) otherwise.
#[macro_export]
macro_rules! has_tools {
    ($($tool:literal),+ $(,)?) => {
        $crate::prerequisites::met(
            $crate::test_name!(),
            $crate::prerequisites::Needs { root: false, tools: &[$($tool),+] },
        )
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_name_is_the_tests_own() {
        assert_eq!(
            crate::test_name!(),
            "prerequisites::tests::the_name_is_the_tests_own"
        );
        assert_eq!(
            super::test_name("net_gw_pair::keys_rotate::here"),
            "keys_rotate"
        );
    }

    #[test]
    fn a_tool_is_found_on_the_path() {
        assert!(super::found("sh"));
        assert!(!super::found("vpnd-no-such-tool"));
    }
}
