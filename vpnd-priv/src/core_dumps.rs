//! Keeps the parent's memory out of core files and debuggers: it holds the
//! secret key until the start message is sent, and root's view of the
//! network after.
//!
//! Linux: `RLIMIT_CORE` 0 and `PR_SET_DUMPABLE` 0 (no core file, no
//! ptrace by other users, `/proc/<pid>` files owned by root). FreeBSD:
//! `RLIMIT_CORE` 0 and `procctl(PROC_TRACE_CTL_DISABLE)`, which also stops
//! core dumps and tracing. NetBSD and DragonFly have no such switch:
//! `RLIMIT_CORE` 0 only. The hard limit is lowered too, and so are those of
//! everything the parent starts (the network process, `ip`, `resolvconf`).

use rustix::process::{Resource, Rlimit};

/// Why core dumps could not be turned off.
#[derive(Debug, thiserror::Error)]
pub enum CoreDumpError {
    /// setrlimit(RLIMIT_CORE).
    #[error("setting the core file size limit to 0: {0}")]
    Limit(rustix::io::Errno),
    /// prctl(PR_SET_DUMPABLE) or procctl(PROC_TRACE_CTL).
    #[error("marking the process not dumpable: {0}")]
    Dumpable(rustix::io::Errno),
}

/// Turns off core dumps of this process (and of what it starts) and, where
/// the system can, tracing by other users.
pub fn forbid() -> Result<(), CoreDumpError> {
    rustix::process::setrlimit(
        Resource::Core,
        Rlimit {
            current: Some(0),
            maximum: Some(0),
        },
    )
    .map_err(CoreDumpError::Limit)?;
    not_dumpable().map_err(CoreDumpError::Dumpable)
}

#[cfg(target_os = "linux")]
fn not_dumpable() -> rustix::io::Result<()> {
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
}

#[cfg(target_os = "freebsd")]
fn not_dumpable() -> rustix::io::Result<()> {
    // None: this process. Re-enabled by execve, which the network process
    // runs; the limit above stays.
    rustix::process::set_dumpable_behavior(None, rustix::process::DumpableBehavior::NotDumpable)
}

#[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
fn not_dumpable() -> rustix::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_forbid_no_core_file_is_written_and_the_process_is_not_dumpable() {
        forbid().unwrap();
        let limit = rustix::process::getrlimit(Resource::Core);
        assert_eq!((limit.current, limit.maximum), (Some(0), Some(0)));
        #[cfg(target_os = "linux")]
        assert_eq!(
            rustix::process::dumpable_behavior().unwrap(),
            rustix::process::DumpableBehavior::NotDumpable
        );
    }
}
