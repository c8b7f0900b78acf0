//! The undo that needs no destructor: a panic in the parent kills the
//! network process and undoes everything vpnd changed (the network
//! changes, the stats socket, the tun, the pid file) from the panic hook,
//! then aborts.
//!
//! Release builds abort on a panic (`panic = "abort"`: smaller, and no
//! half-unwound state in a root process), so [`Cleanup`]'s `Drop` never
//! runs then. [`Cleanup`] and the [`Executor`] therefore keep a copy of
//! what undoing takes here, as plain data (pid, commands, paths), updated
//! after each change; the hook takes it without waiting for a lock. The
//! hook aborts in every build, so that tests see what release builds do
//! and nothing is undone twice (by the hook, then by unwinding). The
//! network process is a separate program (a re-executed vpnd) and never
//! installs the hook.
//!
//! [`Cleanup`]: crate::cleanup::Cleanup
//! [`Executor`]: crate::exec::Executor

use std::path::PathBuf;
use std::sync::{Mutex, TryLockError};

use rustix::process::{Pid, Signal, WaitOptions};
use vpnd_proto::net::IfName;

use crate::exec::{self, Sysctls};
use crate::netconf::Step;

/// What a panic must undo.
#[derive(Debug, Default)]
struct Record {
    /// The network process, until it is reaped (a pid reaped may be
    /// another process's next).
    net_process: Option<Pid>,
    /// The undo steps of each network change, in the order to run them
    /// (newest change first), and where their sysctls are.
    network: Vec<Vec<Step>>,
    sysctls: Option<Sysctls>,
    /// The stats socket's path.
    stats_socket: Option<PathBuf>,
    /// The tun, destroyed last where it outlives its descriptors.
    tun: Option<IfName>,
    /// The pid file, removed at the very end.
    pid_file: Option<PathBuf>,
}

/// Locked only to replace a field: nothing that can panic runs under it.
static RECORD: Mutex<Record> = Mutex::new(Record {
    net_process: None,
    network: Vec::new(),
    sysctls: None,
    stats_socket: None,
    tun: None,
    pid_file: None,
});

fn update(change: impl FnOnce(&mut Record)) {
    let mut record = RECORD
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    change(&mut record);
}

/// Installs the panic hook; the parent calls it once, when it becomes the
/// daemon.
pub fn install() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if log::log_enabled!(log::Level::Error) {
            log::error!("{info}; undoing every change and aborting");
        } else {
            default(info);
        }
        undo_everything();
        std::process::abort();
    }));
}

/// The network process runs as `pid`.
pub fn net_process_started(pid: u32) {
    let pid = i32::try_from(pid).ok().and_then(Pid::from_raw);
    update(|r| r.net_process = pid);
}

/// The network process was reaped: its pid may be reused.
pub fn net_process_reaped() {
    update(|r| r.net_process = None);
}

/// Undoing the network changes now takes `steps` (one list per change,
/// newest change first), with sysctls under `sysctls`.
pub fn network_undo(steps: Vec<Vec<Step>>, sysctls: &Sysctls) {
    let sysctls = sysctls.clone();
    update(|r| {
        r.network = steps;
        r.sysctls = Some(sysctls);
    });
}

/// The stats socket was created at `path`.
pub fn stats_socket_created(path: PathBuf) {
    update(|r| r.stats_socket = Some(path));
}

/// The tun `name` is held open (and, where it outlives its descriptors,
/// destroyed at the end).
pub fn tun_held(name: IfName) {
    update(|r| r.tun = Some(name));
}

/// The pid file was written at `path`.
pub fn pid_file_created(path: PathBuf) {
    update(|r| r.pid_file = Some(path));
}

/// Everything was undone the ordinary way: nothing is left for a panic.
pub fn disarm() {
    update(|r| *r = Record::default());
}

/// Kills the network process, undoes the network changes, removes the
/// stats socket, destroys the tun and removes the pid file: what
/// [`Cleanup`](crate::cleanup::Cleanup) does when dropped, in its order.
fn undo_everything() {
    let record = match RECORD.try_lock() {
        Ok(mut r) => std::mem::take(&mut *r),
        Err(TryLockError::Poisoned(p)) => std::mem::take(&mut *p.into_inner()),
        // Only a panic inside `update` itself, which runs nothing that
        // panics.
        Err(TryLockError::WouldBlock) => {
            log::error!("the undo record is locked: nothing undone");
            return;
        }
    };
    if let Some(pid) = record.net_process {
        kill(pid);
    }
    if let Some(sysctls) = &record.sysctls {
        for steps in &record.network {
            if let Err(e) = exec::run_steps(sysctls, steps) {
                log::error!("undoing a network change: {e}");
            }
        }
    }
    if let Some(path) = &record.stats_socket {
        let _ = std::fs::remove_file(path);
    }
    if let Some(name) = &record.tun
        && let Err(e) = crate::tun::destroy(name)
    {
        log::error!("{e}");
    }
    if let Some(path) = &record.pid_file {
        let _ = std::fs::remove_file(path);
    }
}

/// Kills the network process and reaps it, so that it is gone before its
/// network is undone; a process stuck in the kernel is waited for a
/// little only.
fn kill(pid: Pid) {
    let _ = rustix::process::kill_process(pid, Signal::KILL);
    for _ in 0..REAP_TRIES {
        match rustix::process::waitpid(Some(pid), WaitOptions::NOHANG) {
            Ok(None) => std::thread::sleep(REAP_PAUSE),
            _ => return,
        }
    }
    log::error!("network process {pid:?} not gone after SIGKILL; undoing anyway");
}

/// How long [`kill`] waits: 200 times 10 ms.
const REAP_TRIES: u32 = 200;
const REAP_PAUSE: std::time::Duration = std::time::Duration::from_millis(10);

/// Debug builds only, for the end-to-end test: with
/// `VPND_TEST_PANIC_ON_USR1` in its environment the parent panics on
/// SIGUSR1, in a function a panic cannot unwind out of, so that the
/// process aborts on the spot as a release build's would, and no
/// destructor undoes anything: only the hook can.
#[cfg(debug_assertions)]
pub fn forced_panic_if_asked() {
    if std::env::var_os("VPND_TEST_PANIC_ON_USR1").is_some() {
        panic_that_cannot_unwind();
    }
}

#[cfg(debug_assertions)]
#[allow(clippy::panic)]
extern "C" fn panic_that_cannot_unwind() {
    panic!("VPND_TEST_PANIC_ON_USR1: a forced panic");
}
