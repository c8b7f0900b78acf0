//! Linux's sandbox: chroot, an empty capability bounding set while still
//! root, setres[ug]id to the unprivileged user, a check that no capability
//! is left, no-new-privs, and the system-call filter last.

use nix::unistd::{setgroups, setresgid, setresuid};

use super::rights::Kept;
use super::{Sandbox, SandboxError};

/// The steps only Linux has.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// Emptying the capability bounding set.
    #[error("emptying the capability bounding set: {0}")]
    Bounding(String),
    /// Reading a capability set for the check.
    #[error("reading the {set} capability set: {reason}")]
    ReadCapabilities {
        /// Which set.
        set: String,
        /// What failed.
        reason: String,
    },
    /// prctl(PR_SET_NO_NEW_PRIVS).
    #[error("setting no-new-privs: {0}")]
    NoNewPrivs(rustix::io::Errno),
    /// The system-call filter.
    #[error("installing the system-call filter: {0}")]
    Filter(#[from] crate::syscall_filter::FilterError),
}

/// Enters `sandbox` (see [`Sandbox::enter`]); Linux has no per-descriptor
/// rights, and the system-call filter covers every descriptor alike.
pub(super) fn enter(sandbox: &Sandbox, _kept: &[Kept]) -> Result<(), SandboxError> {
    sandbox.chroot()?;
    caps::clear(None, caps::CapSet::Bounding)
        .map_err(|e| PlatformError::Bounding(e.to_string()))?;
    let (uid, gid) = sandbox.ids();
    let cred_err = |errno| sandbox.credentials_error(errno);
    setgroups(&[gid]).map_err(cred_err)?;
    setresgid(gid, gid, gid).map_err(cred_err)?;
    setresuid(uid, uid, uid).map_err(cred_err)?;
    sandbox.check_root_is_gone()?;
    check_no_capability_is_left()?;
    rustix::thread::set_no_new_privs(true).map_err(PlatformError::NoNewPrivs)?;
    crate::syscall_filter::install().map_err(PlatformError::Filter)?;
    Ok(())
}

/// Every capability set is empty.
fn check_no_capability_is_left() -> Result<(), SandboxError> {
    for set in [
        caps::CapSet::Effective,
        caps::CapSet::Permitted,
        caps::CapSet::Inheritable,
        caps::CapSet::Ambient,
        caps::CapSet::Bounding,
    ] {
        let left = caps::read(None, set).map_err(|e| PlatformError::ReadCapabilities {
            set: format!("{set:?}"),
            reason: e.to_string(),
        })?;
        if !left.is_empty() {
            return Err(SandboxError::Leftover(format!(
                "{set:?} set holds {left:?}"
            )));
        }
    }
    Ok(())
}

/// Linux has no per-descriptor rights: the system-call filter covers every
/// descriptor alike.
pub(super) fn limit_received(_: super::Role, _: i32) -> Result<(), PlatformError> {
    Ok(())
}

/// Sends may name their destination here.
pub(super) const NAMED_SENDS_ALLOWED: bool = true;
