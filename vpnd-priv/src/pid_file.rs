//! The pid file: created exclusively, refused while another vpnd runs,
//! replaced when stale, removed on exit.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rustix::process::{Pid, test_kill_process};

/// Why the pid file could not be created.
#[derive(Debug, thiserror::Error)]
pub enum PidFileError {
    /// Another process runs with the pid in the file.
    #[error("pid_file {}: vpnd is already running as pid {pid}", path.display())]
    Running {
        /// The file.
        path: PathBuf,
        /// Its pid.
        pid: i32,
    },
    /// The file could not be created or written.
    #[error("pid_file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}

/// A pid file that is removed when dropped.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
}

impl PidFile {
    /// Writes this process's pid to `path`.
    pub fn create(path: &Path) -> Result<PidFile, PidFileError> {
        Self::create_for(path, std::process::id())
    }

    /// Writes `pid` to `path` (the daemon writes its own after forking).
    pub fn create_for(path: &Path, pid: u32) -> Result<PidFile, PidFileError> {
        let io = |source| PidFileError::Io {
            path: path.to_path_buf(),
            source,
        };
        for _ in 0..2 {
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o644)
                .open(path)
            {
                Ok(mut f) => {
                    f.write_all(format!("{pid}\n").as_bytes()).map_err(io)?;
                    f.sync_all().map_err(io)?;
                    return Ok(PidFile {
                        path: path.to_path_buf(),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    check_free(path)?;
                    // Stale: its process is gone.
                    fs::remove_file(path).map_err(io)?;
                }
                Err(e) => return Err(io(e)),
            }
        }
        Err(io(std::io::Error::other(
            "created by another process meanwhile",
        )))
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// No running process holds `path` (`vpnd -n` asks, and the start, which
/// replaces a stale file).
pub fn check_free(path: &Path) -> Result<(), PidFileError> {
    match running_pid(path) {
        Some(pid) => Err(PidFileError::Running {
            path: path.to_path_buf(),
            pid,
        }),
        None => Ok(()),
    }
}

/// The pid in the file, if a process with it is alive.
fn running_pid(path: &Path) -> Option<i32> {
    let text = fs::read_to_string(path).ok()?;
    let pid: i32 = text.trim().parse().ok()?;
    let alive = Pid::from_raw(pid).is_some_and(|p| {
        // EPERM means it exists but is not ours: still running.
        !matches!(test_kill_process(p), Err(rustix::io::Errno::SRCH))
    });
    alive.then_some(pid)
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_refused_while_running_removed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let p = d.join("vpnd.pid");
        let f = PidFile::create(&p).unwrap();
        assert_eq!(
            fs::read_to_string(&p).unwrap(),
            format!("{}\n", std::process::id())
        );
        let e = PidFile::create(&p).unwrap_err().to_string();
        assert!(
            e.contains(&format!("already running as pid {}", std::process::id())),
            "{e}"
        );
        drop(f);
        assert!(!p.exists());
    }

    #[test]
    fn a_stale_or_garbage_file_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let p = d.join("vpnd.pid");
        // A pid that cannot exist (above pid_max).
        fs::write(&p, "2147483000\n").unwrap();
        let f = PidFile::create(&p).unwrap();
        assert_eq!(f.path(), p);
        drop(f);
        fs::write(&p, "not a pid").unwrap();
        assert!(PidFile::create(&p).is_ok());
    }

    #[test]
    fn an_unwritable_place_is_named() {
        let e = PidFile::create(Path::new("/nonexistent/vpnd.pid"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("pid_file /nonexistent/vpnd.pid: "), "{e}");
    }
}
