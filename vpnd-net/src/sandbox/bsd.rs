//! The BSDs' sandbox, as far as it goes today: chroot, setgroups, setgid
//! and setuid to the unprivileged user (as root, setgid and setuid set
//! the real, effective and saved IDs alike; NetBSD has no setresuid), and
//! the check that root cannot be regained.
//!
//! What is missing, and comes with the BSD port: FreeBSD's Capsicum
//! (`cap_enter` once the descriptors are in hand, with rights limited per
//! descriptor), which DragonFly does not have. OpenBSD's pledge and unveil
//! exist on none of these systems, and NetBSD has neither them nor
//! Capsicum. Until then the network process can still make any system
//! call its user may: start-up says so in the log.

use nix::unistd::{setgid, setgroups, setuid};

use super::{Sandbox, SandboxError};

/// No step beyond the shared ones can fail here yet.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {}

/// Enters `sandbox` (see [`Sandbox::enter`]).
pub(super) fn enter(sandbox: &Sandbox) -> Result<(), SandboxError> {
    sandbox.chroot()?;
    let (uid, gid) = sandbox.ids();
    let cred_err = |errno| sandbox.credentials_error(errno);
    setgroups(&[gid]).map_err(cred_err)?;
    setgid(gid).map_err(cred_err)?;
    setuid(uid).map_err(cred_err)?;
    sandbox.check_root_is_gone()?;
    log::warn!("sandbox: chroot and user only; no system-call restriction on this system yet");
    Ok(())
}
