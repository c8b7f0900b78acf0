//! Going into the background so that the command that started vpnd learns
//! whether the daemon came up: the foreground process waits on a pipe and
//! exits with the daemon's start-up result (0, or its exit code and error).

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;

use nix::unistd::{ForkResult, fork, setsid};

use crate::service_notify::ServiceNotify;

/// Whom the daemon tells that its start is over: the foreground process
/// through the pipe, or (in the foreground under systemd) the service
/// manager. Reports once.
#[derive(Debug)]
pub struct Readiness {
    pipe: Option<File>,
    manager: ServiceNotify,
}

/// Why going into the background failed (reported on stderr by the
/// foreground process itself).
#[derive(Debug, thiserror::Error)]
pub enum DaemonizeError {
    /// pipe(2), fork(2), setsid(2), chdir(2) or opening /dev/null.
    #[error("going into the background: {0}")]
    Os(String),
}

impl Readiness {
    /// vpnd runs in the foreground: only a service manager to tell, if
    /// one named its socket.
    pub fn foreground() -> Readiness {
        Readiness {
            pipe: None,
            manager: ServiceNotify::from_env(),
        }
    }

    /// The daemon is up: the foreground process exits 0.
    pub fn ready(&mut self) {
        self.manager.ready();
        if let Some(mut p) = self.pipe.take() {
            let _ = p.write_all(&[0]);
        }
    }

    /// Start-up failed: the foreground process prints `message` and exits
    /// with `code`.
    pub fn failed(&mut self, code: u8, message: &str) {
        self.manager.failed(message);
        if let Some(mut p) = self.pipe.take() {
            let _ = p.write_all(&[code]);
            let _ = p.write_all(message.as_bytes());
        }
    }
}

/// Forks. In the foreground process this never returns: it waits for the
/// daemon's report and exits with it. In the daemon it returns after
/// setsid(2) and chdir("/"), with standard input and output on /dev/null
/// and standard error too (logs go to syslog). Must be called while single-threaded.
pub fn detach() -> Result<Readiness, DaemonizeError> {
    let os = |e: &dyn std::fmt::Display| DaemonizeError::Os(e.to_string());
    let (read_end, write_end) =
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(|e| os(&e))?;
    // SAFETY: vpnd calls this first thing after reading its configuration,
    // before any thread exists, so the child is a complete copy.
    #[allow(unsafe_code)]
    let forked = unsafe { fork() }.map_err(|e| os(&e))?;
    match forked {
        ForkResult::Parent { .. } => {
            drop(write_end);
            wait_for_report(read_end)
        }
        ForkResult::Child => {
            drop(read_end);
            setsid().map_err(|e| os(&e))?;
            // The directory vpnd was started in would stay busy (an
            // unmount refused) for as long as the daemon runs; every path
            // it uses is absolute.
            std::env::set_current_dir("/").map_err(|e| os(&e))?;
            let null = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/null")
                .map_err(|e| os(&e))?;
            rustix::stdio::dup2_stdin(&null).map_err(|e| os(&e))?;
            rustix::stdio::dup2_stdout(&null).map_err(|e| os(&e))?;
            rustix::stdio::dup2_stderr(&null).map_err(|e| os(&e))?;
            Ok(Readiness {
                pipe: Some(File::from(write_end)),
                manager: ServiceNotify::from_env(),
            })
        }
    }
}

fn wait_for_report(read_end: OwnedFd) -> ! {
    let mut report = Vec::new();
    let _ = File::from(read_end).read_to_end(&mut report);
    match report.split_first() {
        Some((0, _)) => std::process::exit(0),
        Some((&code, message)) => {
            vpnd_net::logging::report(log::Level::Error, &String::from_utf8_lossy(message));
            std::process::exit(i32::from(code))
        }
        None => {
            vpnd_net::logging::report(
                log::Level::Error,
                "the daemon ended during start-up; see the system log",
            );
            std::process::exit(70)
        }
    }
}
