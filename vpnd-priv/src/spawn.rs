//! Starting the network process: vpnd re-executes its own binary with the
//! hidden `--net-process` argument (a fresh address space, nothing of the
//! parent's memory), the IPC socket at descriptor 3, /dev/null for input
//! and output, a pipe the parent reads its log lines from for errors
//! (net_log.rs; never root's terminal or log), every other descriptor
//! closed (all are close-on-exec), the environment cleared and its own
//! process group, so a terminal's Ctrl-C reaches only the parent.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use command_fds::{CommandFdExt, FdMapping};
use rustix::pipe::PipeFlags;
use vpnd_net::child::IPC_FD;
use vpnd_net::transport::Channel;

use crate::net_log::NetLog;

/// The running network process.
#[derive(Debug)]
pub struct NetProcess {
    /// The re-executed vpnd, for its pid, its exit and a kill.
    pub child: Child,
    /// The parent's end of the IPC socket.
    pub channel: Channel,
    /// The parent's end of the pipe at its standard error.
    pub log: NetLog,
}

/// How the network process logs.
#[derive(Debug, Clone, Copy)]
pub struct ChildLogging {
    /// vpnd runs with `-f` (it relays the lines to stderr instead of
    /// syslog, and the console is read).
    pub foreground: bool,
    /// `-v` count.
    pub verbose: u8,
}

/// Why the network process could not be started.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// The socketpair.
    #[error("creating the IPC socket pair: {0}")]
    Channel(#[from] vpnd_net::transport::TransportError),
    /// The pipe for the log lines.
    #[error("creating the network process's log pipe: {0}")]
    LogPipe(rustix::io::Errno),
    /// Our own binary.
    #[error("finding vpnd's own binary: {0}")]
    OwnBinary(std::io::Error),
    /// exec failed.
    #[error("starting the network process {binary}: {source}")]
    Exec {
        /// The program vpnd tried to execute (its own binary).
        binary: String,
        /// The operating system's error.
        source: std::io::Error,
    },
}

/// Starts the network process.
pub fn spawn(logging: ChildLogging) -> Result<NetProcess, SpawnError> {
    let (ours, theirs) = Channel::pair()?;
    // Non-blocking at both ends: the network process's writes never wait
    // for the parent (log_pipe.rs), nor the parent's reads for it.
    let (log_ours, log_theirs) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)
        .map_err(SpawnError::LogPipe)?;
    let binary = net_binary().map_err(SpawnError::OwnBinary)?;
    let mut cmd = Command::new(&binary);
    cmd.arg("--net-process")
        .args((0..logging.verbose).map(|_| "-v"))
        .env_clear()
        .current_dir("/")
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log_theirs));
    // Debug builds only: the sandbox tests' probe (see cli.rs).
    #[cfg(debug_assertions)]
    if let Some(action) = std::env::var_os("VPND_TEST_SANDBOX_PROBE") {
        cmd.arg("--sandbox-probe").arg(action);
    }
    let exec_err = |source| SpawnError::Exec {
        binary: binary.display().to_string(),
        source,
    };
    cmd.fd_mappings(vec![FdMapping {
        parent_fd: theirs.into_fd(),
        child_fd: IPC_FD,
    }])
    .map_err(|_| exec_err(std::io::Error::other("descriptor mapping collision")))?;
    let child = cmd.spawn().map_err(exec_err)?;
    crate::last_resort::net_process_started(child.id());
    // The parent's copy of the writing end goes with `cmd`, so that the
    // pipe ends when the network process does.
    drop(cmd);
    let log = NetLog::new(log_ours, child.id());
    Ok(NetProcess {
        child,
        channel: ours,
        log,
    })
}

/// vpnd's own binary. Debug builds (tests) may name a stand-in in
/// `VPND_TEST_NET_BINARY`: the end-to-end tests put a hostile network
/// process behind the parent that way. Release builds have no such door.
fn net_binary() -> std::io::Result<std::path::PathBuf> {
    #[cfg(debug_assertions)]
    if let Some(p) = std::env::var_os("VPND_TEST_NET_BINARY") {
        return Ok(p.into());
    }
    std::env::current_exe()
}
