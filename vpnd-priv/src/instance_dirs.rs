//! The runtime and state directories of named instances: where they are
//! (the platform's; debug builds may move them for the tests), and, at
//! start, made when missing and refused when anyone but root could change
//! what root keeps in them.

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use vpnd_proto::config::InstanceDirs;

/// The runtime directory's mode: members of `stats_group` must reach the
/// statistics socket in it.
const RUNTIME_MODE: u32 = 0o755;
/// The state directory's mode: the nonce files are root's business alone.
const STATE_MODE: u32 = 0o700;

/// A directory the start cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {}: {reason}", path.display())]
pub struct DirError {
    /// "runtime directory" or "state directory".
    pub what: &'static str,
    /// The directory.
    pub path: PathBuf,
    /// What is wrong with it.
    pub reason: String,
}

/// This platform's directories. Debug builds (the tests) take them from
/// `VPND_TEST_RUNTIME_DIR` and `VPND_TEST_STATE_DIR` when set; release
/// builds always use the platform's.
pub fn dirs() -> InstanceDirs {
    #[allow(unused_mut)]
    let mut dirs = InstanceDirs::platform();
    #[cfg(debug_assertions)]
    {
        if let Some(p) = std::env::var_os("VPND_TEST_RUNTIME_DIR") {
            dirs.runtime = p.into();
        }
        if let Some(p) = std::env::var_os("VPND_TEST_STATE_DIR") {
            dirs.state = p.into();
        }
    }
    dirs
}

/// Makes the runtime directory (mode 755) and the state directory (mode
/// 700) if one of `paths`, the files and directories the start will use,
/// is in it and it is missing, and checks that each such directory is
/// this user's and writable by nobody else. Only the last component is
/// made: `/run`, `/var/lib` and `/var/db` are the system's.
pub fn prepare(dirs: &InstanceDirs, paths: &[&Path]) -> Result<(), DirError> {
    for (what, dir, mode) in [
        ("runtime directory", &dirs.runtime, RUNTIME_MODE),
        ("state directory", &dirs.state, STATE_MODE),
    ] {
        if paths.iter().any(|p| p.parent() == Some(dir.as_path())) {
            checked_dir(dir, mode).map_err(|reason| DirError {
                what,
                path: dir.clone(),
                reason,
            })?;
        }
    }
    Ok(())
}

/// `dir`, created with `mode` if missing, once it is a directory (not a
/// link to one) that only this user can change.
pub fn checked_dir(dir: &Path, mode: u32) -> Result<(), String> {
    match std::fs::DirBuilder::new().mode(mode).create(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
            return Err(format!("cannot create: {e}"));
        }
        _ => {}
    }
    let meta = std::fs::symlink_metadata(dir).map_err(|e| e.to_string())?;
    let uid = rustix::process::geteuid().as_raw();
    if !meta.is_dir() || meta.uid() != uid || meta.mode() & 0o022 != 0 {
        return Err(format!(
            "not a directory that only uid {uid} can write (mode {:o}, owner {})",
            meta.mode() & 0o7777,
            meta.uid()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn dirs_in(root: &Path) -> InstanceDirs {
        InstanceDirs {
            runtime: root.join("run"),
            state: root.join("state"),
        }
    }

    #[test]
    fn missing_directories_are_made_with_their_modes_when_used() {
        let root = tempfile::tempdir().unwrap();
        let dirs = dirs_in(root.path());
        let pid = dirs.runtime.join("alice.pid");
        prepare(&dirs, &[&pid, Path::new("/var/db/local_vpnd.nonce")]).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dirs.runtime), 0o755);
        assert!(!dirs.state.exists(), "made though nothing is in it");
        let nonce = dirs.state.join("local_alice.nonce");
        prepare(&dirs, &[&pid, &nonce]).unwrap();
        assert_eq!(mode(&dirs.state), 0o700);
        // Made already: taken as it is.
        prepare(&dirs, &[&pid, &nonce]).unwrap();
    }

    #[test]
    fn a_directory_others_can_write_or_a_missing_parent_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let dirs = dirs_in(root.path());
        std::fs::create_dir(&dirs.state).unwrap();
        std::fs::set_permissions(&dirs.state, std::fs::Permissions::from_mode(0o777)).unwrap();
        let nonce = dirs.state.join("local_alice.nonce");
        let e = prepare(&dirs, &[&nonce]).unwrap_err();
        assert_eq!(e.what, "state directory");
        assert!(e.to_string().contains("mode 777"), "{e}");
        let deep = InstanceDirs {
            runtime: root.path().join("no/such/run"),
            state: dirs.state.clone(),
        };
        let pid = deep.runtime.join("alice.pid");
        let e = prepare(&deep, &[&pid]).unwrap_err();
        assert!(
            e.to_string().starts_with("runtime directory ") && e.reason.contains("cannot create"),
            "{e}"
        );
    }
}
