//! The steps the BSDs share: chroot, then setgroups, setgid and setuid to
//! the unprivileged user (as root, setgid and setuid set the real,
//! effective and saved IDs alike; NetBSD has no setresuid), then the checks
//! that no supplementary group is left and root cannot be regained.
//!
//! sys/kern/kern_prot.c: FreeBSD's and DragonFly's sys_setuid() and
//! sys_setgid() change the real and saved IDs as well as the effective one
//! when the caller has the privilege ("setuid(xx) sets all three id's");
//! NetBSD's call do_setresuid(l, uid, uid, uid, ...) and
//! do_setresgid(l, gid, gid, gid, ...). NetBSD's do_setresuid() is the
//! kernel's own: its system calls are setuid, seteuid and setreuid (and
//! the gid ones), no setresuid.

use nix::unistd::{getgroups, setgid, setgroups, setuid};

use super::{Sandbox, SandboxError};

/// Chroot and become the user (see [`Sandbox::enter`]).
pub(super) fn enter(sandbox: &Sandbox) -> Result<(), SandboxError> {
    sandbox.chroot()?;
    let (uid, gid) = sandbox.ids();
    let cred_err = |errno| sandbox.credentials_error(errno);
    // The group list is the primary group alone: on the BSDs the first
    // entry of setgroups(2)'s list has been the effective group, so an
    // empty list is not portable, the one-entry list is. (FreeBSD's and
    // DragonFly's sys/kern/kern_prot.c keep the effective gid in
    // cr_groups[0], which setgid() sets, and setgroups() with none keeps
    // that entry, `cr_ngroups = 1`: kern_setgroups(), sys_setgroups().)
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
