//! The only place that runs commands and writes sysctls: a plan is applied
//! step by step, recorded in the ledger as it goes, and rolled back if a
//! step fails, so nothing is left half-configured.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use vpnd_proto::net::IfName;

use crate::forwarding::{RecordError, SharedForwarding};
use crate::ledger::{Entry, Ledger, Scope};
use crate::netconf::{self, Argv, Change, Platform, Step, Tools};

/// How long a command may run before it is killed.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of a command's standard error kept for the message.
const STDERR_KEPT: usize = 1024;
/// The search path commands run with (the environment is cleared).
const SAFE_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

/// Why a step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    /// The program could not be started.
    #[error("{command}: cannot run: {reason}")]
    Spawn {
        /// The command line.
        command: String,
        /// What went wrong, as the system or the check said it.
        reason: String,
    },
    /// The program failed.
    #[error("{command}: {status}: {stderr}")]
    Failed {
        /// The command line.
        command: String,
        /// How it ended.
        status: String,
        /// What it said on standard error.
        stderr: String,
    },
    /// The program ran past its time limit ([`COMMAND_TIMEOUT`]) and was
    /// killed, with everything it started.
    #[error("{command}: killed after {seconds}s")]
    Timeout {
        /// The command line.
        command: String,
        /// The limit.
        seconds: u64,
    },
    /// A sysctl could not be read or written.
    #[error("{name}: {reason}")]
    Sysctl {
        /// The sysctl.
        name: String,
        /// What went wrong, as the system or the check said it.
        reason: String,
    },
    /// The record of forwarding shared by the instances could not be used.
    #[error(transparent)]
    Record(#[from] RecordError),
}

/// Runs one command: no shell, a cleared environment, standard error
/// captured for the message, [`COMMAND_TIMEOUT`] for all of it.
pub fn run(argv: &Argv) -> Result<(), ExecError> {
    run_within(argv, COMMAND_TIMEOUT)
}

/// Runs one command as [`run`] does, with `limit` for the whole exchange:
/// start, exit and, if it failed, reading what it said on standard error.
/// It runs in a process group of its own, and when the limit passes the
/// whole group is killed: a program it left behind in the background (a
/// resolvconf hook's) holding standard error open must not keep root
/// waiting.
pub fn run_within(argv: &Argv, limit: Duration) -> Result<(), ExecError> {
    use std::os::unix::process::CommandExt;
    let command = argv.to_string();
    let mut child = Command::new(&argv.program)
        .args(&argv.args)
        .env_clear()
        .env("PATH", SAFE_PATH)
        .envs(argv.env.iter().map(|(name, value)| (name, value)))
        .stdin(if argv.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| ExecError::Spawn {
            command: command.clone(),
            reason: e.to_string(),
        })?;
    let deadline = Instant::now() + limit;
    if let (Some(text), Some(mut stdin)) = (&argv.stdin, child.stdin.take()) {
        // A program that exits without reading is caught by its status;
        // the text is far smaller than a pipe holds, so this cannot wait.
        let _ = stdin.write_all(text.as_bytes());
    }
    let group = rustix::process::Pid::from_child(&child);
    let mut said = Said::new(child.stderr.take());
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => {
                kill_all(&mut child, group);
                return Err(ExecError::Spawn {
                    command,
                    reason: e.to_string(),
                });
            }
        }
        let Some(left) = time_left(deadline) else {
            kill_all(&mut child, group);
            return Err(ExecError::Timeout {
                command,
                seconds: limit.as_secs(),
            });
        };
        // Standard error is read while the program runs, so that one
        // that writes much does not stop on a full pipe.
        said.read_for(left.min(STATUS_POLL));
    };
    if status.success() {
        return Ok(());
    }
    // The program is gone, but what it left behind may hold the pipe.
    while said.open() {
        let Some(left) = time_left(deadline) else {
            kill_group(group);
            break;
        };
        said.read_for(left);
    }
    Err(ExecError::Failed {
        command,
        status: status.to_string(),
        stderr: String::from_utf8_lossy(&said.kept).trim().to_owned(),
    })
}

/// How often a running command's status is looked at.
const STATUS_POLL: Duration = Duration::from_millis(5);

/// The time until `deadline`, `None` once it has passed.
fn time_left(deadline: Instant) -> Option<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|left| !left.is_zero())
}

/// Kills every process of a command's group (its own pid), the command
/// itself and whatever it started and left running.
fn kill_group(group: rustix::process::Pid) {
    // ESRCH: nothing is left.
    let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
}

/// Kills a running command's group, the command too should it have left
/// the group, and reaps it.
fn kill_all(child: &mut std::process::Child, group: rustix::process::Pid) {
    kill_group(group);
    let _ = child.kill();
    let _ = child.wait();
}

/// A command's standard error as it comes: the first [`STDERR_KEPT`]
/// bytes kept, the rest read and dropped, until every writer has closed it.
struct Said {
    pipe: Option<std::process::ChildStderr>,
    kept: Vec<u8>,
}

impl Said {
    fn new(pipe: Option<std::process::ChildStderr>) -> Said {
        Said {
            pipe,
            kept: Vec::new(),
        }
    }

    /// False once every writer has closed the pipe.
    fn open(&self) -> bool {
        self.pipe.is_some()
    }

    /// Waits up to `wait` for output and reads what came (one read, so it
    /// never blocks past `wait`); with the pipe closed, only waits.
    fn read_for(&mut self, wait: Duration) {
        use rustix::event::{PollFd, PollFlags, Timespec};
        let Some(pipe) = &mut self.pipe else {
            std::thread::sleep(wait);
            return;
        };
        let timeout = Timespec::try_from(wait).unwrap_or(Timespec {
            tv_sec: 0,
            tv_nsec: 5_000_000,
        });
        let mut fds = [PollFd::new(&*pipe, PollFlags::IN)];
        match rustix::event::poll(&mut fds, Some(&timeout)) {
            Ok(0) | Err(rustix::io::Errno::INTR) => return,
            Ok(_) => {}
            Err(_) => {
                self.pipe = None;
                return;
            }
        }
        // poll said it is readable (data, or every writer gone): this
        // read does not block.
        let mut chunk = [0u8; 4096];
        match pipe.read(&mut chunk) {
            Ok(0) => self.pipe = None,
            Ok(n) => {
                let room = STDERR_KEPT.saturating_sub(self.kept.len());
                self.kept
                    .extend_from_slice(chunk.get(..n.min(room)).unwrap_or_default());
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => self.pipe = None,
        }
    }
}

/// Reads and writes sysctls. Linux names are `/proc/sys` paths, taken
/// below `root` (`/` in the daemon, a scratch directory in tests).
#[derive(Debug, Clone)]
pub struct Sysctls {
    /// Where `/proc/sys` paths are looked up.
    pub root: PathBuf,
}

impl Sysctls {
    fn path(&self, name: &str) -> PathBuf {
        self.root.join(name.trim_start_matches('/'))
    }

    /// The current value.
    pub fn get(&self, name: &str) -> Result<String, ExecError> {
        if name.starts_with('/') {
            return std::fs::read_to_string(self.path(name))
                .map(|v| v.trim().to_owned())
                .map_err(|e| sysctl_error(name, e));
        }
        // sysctl(8) `-n`: the value alone, without the name.
        let out = Command::new("/sbin/sysctl")
            .args(["-n", name])
            .env_clear()
            .output()
            .map_err(|e| sysctl_error(name, e))?;
        if !out.status.success() {
            return Err(sysctl_error(
                name,
                String::from_utf8_lossy(&out.stderr).trim(),
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// Sets a value.
    pub fn set(&self, name: &str, value: &str) -> Result<(), ExecError> {
        if name.starts_with('/') {
            return std::fs::write(self.path(name), value).map_err(|e| sysctl_error(name, e));
        }
        run(&sysctl_set(name, value))
    }
}

/// sysctl(8) `-w name=value`: NetBSD sets a value only with -w
/// (sbin/sysctl/sysctl.c, parse(): "Must specify -w to set variables");
/// FreeBSD's and DragonFly's sysctl(8) accept -w and ignore it
/// ("deprecated and is silently ignored").
fn sysctl_set(name: &str, value: &str) -> Argv {
    Argv {
        program: PathBuf::from("/sbin/sysctl"),
        args: vec!["-w".to_owned(), format!("{name}={value}")],
        stdin: None,
        env: Vec::new(),
    }
}

fn sysctl_error(name: &str, reason: impl ToString) -> ExecError {
    ExecError::Sysctl {
        name: name.to_owned(),
        reason: reason.to_string(),
    }
}

/// Carries out changes on one platform, keeping the ledger.
#[derive(Debug)]
pub struct Executor<P: Platform> {
    /// The platform's command lines.
    pub platform: P,
    /// The tun the changes are made on.
    pub device: IfName,
    /// Where the programs are.
    pub tools: Tools,
    /// Sysctl access.
    pub sysctls: Sysctls,
    /// What was changed.
    pub ledger: Ledger,
    /// Forwarding, shared with the other instances in the namespace.
    pub forwarding: SharedForwarding,
}

/// Runs `steps` in order, up to the first that fails.
pub(crate) fn run_steps(sysctls: &Sysctls, steps: &[Step]) -> Result<(), ExecError> {
    for step in steps {
        match step {
            Step::Run(argv) => run(argv)?,
            Step::SetSysctl { name, value } => sysctls.set(name, value)?,
        }
    }
    Ok(())
}

impl<P: Platform> Executor<P> {
    /// Makes one change. Forwarding is switched on through the shared
    /// record, which keeps the value to restore.
    fn make(&mut self, change: &Change) -> Result<(), ExecError> {
        let (platform, tools, device, sysctls) =
            (&self.platform, &self.tools, &self.device, &self.sysctls);
        let make = || run_steps(sysctls, &netconf::apply(platform, tools, device, change));
        match change {
            Change::Forwarding(f) => self.forwarding.hold(
                *f,
                || sysctls.get(platform.forwarding_sysctl(*f)),
                make,
                |was| {
                    run_steps(
                        sysctls,
                        &netconf::undo(platform, tools, device, change, Some(was)),
                    )
                },
            ),
            _ => make(),
        }
    }

    /// Tells the panic hook what undoing everything takes now: `pending`
    /// (made by the plan being applied) and the ledger, newest first.
    /// Forwarding is left out: its value to restore is in the shared
    /// record, which the kernel releases for this instance when it
    /// aborts, as after a SIGKILL (the next instance restores it).
    fn publish(&self, pending: &[Entry]) {
        let steps = pending
            .iter()
            .rev()
            .chain(self.ledger.newest_first())
            .filter(|e| !matches!(e.change, Change::Forwarding(_)))
            .map(|e| netconf::undo(&self.platform, &self.tools, &self.device, &e.change, None))
            .collect();
        crate::last_resort::network_undo(steps, &self.sysctls);
    }

    /// Undoes one change. Forwarding gets its value back only from the
    /// last instance that used it.
    fn unmake(&mut self, change: &Change) -> Result<(), ExecError> {
        let (platform, tools, device, sysctls) =
            (&self.platform, &self.tools, &self.device, &self.sysctls);
        let unmake = |was: Option<&str>| {
            run_steps(
                sysctls,
                &netconf::undo(platform, tools, device, change, was),
            )
        };
        match change {
            Change::Forwarding(f) => self.forwarding.release(*f, |was| unmake(Some(was))),
            _ => unmake(None),
        }
    }

    /// Makes `changes` in order. If one fails, the ones this call made are
    /// undone (newest first) and the error names the failing command; the
    /// ledger is then as before the call.
    pub fn apply(&mut self, changes: &[Change], scope: Scope) -> Result<(), ExecError> {
        let mut made: Vec<Entry> = Vec::new();
        for change in changes {
            match self.make(change) {
                Ok(()) => {
                    made.push(Entry {
                        change: change.clone(),
                        scope,
                    });
                    self.publish(&made);
                }
                Err(e) => {
                    made.reverse();
                    let _ = self.undo(&made);
                    self.publish(&[]);
                    return Err(e);
                }
            }
        }
        for e in made {
            self.ledger.record(e.change, e.scope);
        }
        self.publish(&[]);
        Ok(())
    }

    /// Makes `change` and records it whether or not that succeeded, so
    /// that its undo runs all the same: an `up_script` that failed halfway
    /// may have left what its `down_script` takes back.
    pub fn apply_kept(&mut self, change: &Change, scope: Scope) -> Result<(), ExecError> {
        let made = self.make(change);
        self.ledger.record(change.clone(), scope);
        self.publish(&[]);
        made
    }

    /// Undoes `entries` in the order given; every one is tried, the errors
    /// are returned.
    pub fn undo(&mut self, entries: &[Entry]) -> Vec<ExecError> {
        entries
            .iter()
            .filter_map(|e| self.unmake(&e.change).err())
            .collect()
    }

    /// Undoes the session's changes.
    pub fn undo_session(&mut self) -> Vec<ExecError> {
        let entries = self.ledger.take_session();
        let errors = self.undo(&entries);
        self.publish(&[]);
        errors
    }

    /// Undoes everything (vpnd is exiting).
    pub fn undo_all(&mut self) -> Vec<ExecError> {
        let entries = self.ledger.take_all();
        let errors = self.undo(&entries);
        self.publish(&[]);
        errors
    }
}

/// Fails, naming the parameter, if a program the platform's command lines
/// run is not an executable file (a clear error at start rather than at
/// the first network change).
pub fn check_programs(platform: &impl Platform, tools: &Tools) -> Result<(), ExecError> {
    for (parameter, path) in platform
        .configured_programs(tools)
        .into_iter()
        .chain(tools.scripts())
    {
        if !is_executable(path) {
            return Err(ExecError::Spawn {
                command: path.display().to_string(),
                reason: format!("{parameter}: not an executable file"),
            });
        }
    }
    Ok(())
}

/// True if `path` is an executable file (for clear start-up errors).
pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bsd_sysctl_is_set_with_w_which_netbsd_needs() {
        let argv = sysctl_set("net.inet.ip.forwarding", "1");
        assert_eq!(argv.program, PathBuf::from("/sbin/sysctl"));
        assert_eq!(argv.args, ["-w", "net.inet.ip.forwarding=1"]);
    }
}
