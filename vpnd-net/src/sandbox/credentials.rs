//! The steps the BSDs share: chroot, then setgroups, setgid and setuid to
//! the unprivileged user (as root, setgid and setuid set the real,
//! effective and saved IDs alike; NetBSD has no setresuid), then the checks
//! that no supplementary group is left and root cannot be regained.

use nix::unistd::{getgroups, setgid, setgroups, setuid};

use super::{Sandbox, SandboxError};

/// Chroot and become the user (see [`Sandbox::enter`]).
pub(super) fn enter(sandbox: &Sandbox) -> Result<(), SandboxError> {
    sandbox.chroot()?;
    let (uid, gid) = sandbox.ids();
    let cred_err = |errno| sandbox.credentials_error(errno);
    // The group list is the primary group alone: on the BSDs the first
    // entry of setgroups(2)'s list has been the effective group, so an
    // empty list is not portable, the one-entry list is.
    setgroups(&[gid]).map_err(cred_err)?;
    setgid(gid).map_err(cred_err)?;
    setuid(uid).map_err(cred_err)?;
    sandbox.check_root_is_gone()?;
    let groups = getgroups().map_err(cred_err)?;
    if let Some(other) = groups.iter().find(|&&g| g != gid) {
        return Err(SandboxError::Leftover(format!(
            "supplementary group {other} (groups {groups:?})"
        )));
    }
    Ok(())
}
