//! FreeBSD's sandbox: chroot, the unprivileged user with a checked group
//! set (nothing but its primary group), then Capsicum: every descriptor kept is
//! limited to the rights of its role (rights.rs), the process enters
//! capability mode, and cap_getmode must confirm it.
//!
//! Capability mode refuses sendto(2)/sendmsg(2) with a destination address
//! (ECAPMODE: sys/kern/uipc_syscalls.c, sendit(), `if
//! (IN_CAPABILITY_MODE(td) && (mp->msg_name != NULL)) return (ECAPMODE);`;
//! tests/sys/kern/ktrace_test.c, ktrace__cap_sockaddr). The UDP path
//! therefore sends by a socket the parent has connected to the peer, with
//! no address (udp/sockets.rs; doc/design.md, "Platforms").

use nix::libc;

use super::rights::{self, Ioctl, Kept};
use super::{Sandbox, SandboxError, credentials};

// The table's mirrored rights are libc's (whose FreeBSD definitions come
// from sys/sys/capsicum.h and are checked against it by libc's tests).
const _: () = {
    assert!(rights::CAP_READ == libc::CAP_READ);
    assert!(rights::CAP_WRITE == libc::CAP_WRITE);
    assert!(rights::CAP_FCNTL == libc::CAP_FCNTL);
    assert!(rights::CAP_ACCEPT == libc::CAP_ACCEPT);
    assert!(rights::CAP_GETSOCKNAME == libc::CAP_GETSOCKNAME);
    assert!(rights::CAP_EVENT == libc::CAP_EVENT);
    assert!(rights::CAP_IOCTL == libc::CAP_IOCTL);
    assert!(rights::CAP_FCNTL_GETFL == libc::CAP_FCNTL_GETFL);
    assert!(rights::CAP_FCNTL_SETFL == libc::CAP_FCNTL_SETFL);
};

/// Capability mode refuses a send that names its destination: the UDP
/// path must send by sockets connected to the peer.
pub(super) const NAMED_SENDS_ALLOWED: bool = false;

/// The Capsicum steps that can fail.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// A descriptor's role has no entry in the table.
    #[error("descriptor {fd} ({role:?}): no rights in the table")]
    NoRights {
        /// The descriptor.
        fd: i32,
        /// Its role.
        role: rights::Role,
    },
    /// cap_rights_limit, cap_fcntls_limit or cap_ioctls_limit.
    #[error("{call} on descriptor {fd} ({role:?}): {errno}")]
    Limit {
        /// The call.
        call: &'static str,
        /// The descriptor.
        fd: i32,
        /// Its role.
        role: rights::Role,
        /// What the kernel answered.
        errno: nix::errno::Errno,
    },
    /// cap_enter(2) or cap_getmode(2) failed (ENOSYS: a kernel without
    /// `options CAPABILITY_MODE`, lib/libc/sys/cap_enter.2).
    #[error("{call}: {errno}")]
    CapabilityMode {
        /// The call.
        call: &'static str,
        /// What the kernel answered.
        errno: nix::errno::Errno,
    },
    /// cap_getmode says the process is not in capability mode.
    #[error("not in capability mode after cap_enter")]
    NotInCapabilityMode,
}

/// Enters `sandbox` (see [`Sandbox::enter`]), limiting `kept`.
pub(super) fn enter(sandbox: &Sandbox, kept: &[Kept]) -> Result<(), SandboxError> {
    credentials::enter(sandbox)?;
    for &(role, fd) in kept {
        limit(role, fd)?;
    }
    enter_capability_mode()?;
    Ok(())
}

/// Limits a descriptor received in capability mode (cap_rights_limit(2)
/// may only take rights away, which capability mode allows).
/// cap_rights_limit(2): rights "can be reduced (but never expanded)";
/// kern_cap_rights_limit() in sys/kern/sys_capability.c refuses an
/// increase with ENOTCAPABLE; sys/kern/capabilities.conf lists
/// cap_rights_limit, cap_fcntls_limit and cap_ioctls_limit among the calls
/// capability mode allows.
pub(super) fn limit_received(role: rights::Role, fd: i32) -> Result<(), PlatformError> {
    limit(role, fd)
}

/// Limits `fd` to the rights of `role`.
fn limit(role: rights::Role, fd: i32) -> Result<(), PlatformError> {
    let entry = rights::rights_of(role).ok_or(PlatformError::NoRights { fd, role })?;
    let fail = |call| {
        move |errno| PlatformError::Limit {
            call,
            fd,
            role,
            errno,
        }
    };
    let set = rights_set(entry.rights);
    // SAFETY: `set` was initialized by __cap_rights_init; the kernel only
    // reads it.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::cap_rights_limit(fd, &set) };
    nix::errno::Errno::result(rc).map_err(fail("cap_rights_limit"))?;
    // The lists only count alongside their right: kern_cap_rights_limit()
    // (sys/kern/sys_capability.c) empties the fcntl list of a descriptor
    // left without CAP_FCNTL, and the ioctl list of one without CAP_IOCTL.
    if entry.rights.contains(&rights::CAP_FCNTL) {
        // SAFETY: plain integer arguments.
        #[allow(unsafe_code)]
        let rc = unsafe { libc::cap_fcntls_limit(fd, entry.fcntls) };
        nix::errno::Errno::result(rc).map_err(fail("cap_fcntls_limit"))?;
    }
    if entry.rights.contains(&rights::CAP_IOCTL) {
        let cmds: Vec<libc::c_ulong> = entry.ioctls.iter().map(|&i| ioctl_number(i)).collect();
        // SAFETY: `cmds` holds `cmds.len()` commands and outlives the
        // call, which only reads them.
        #[allow(unsafe_code)]
        let rc = unsafe { libc::cap_ioctls_limit(fd, cmds.as_ptr(), cmds.len()) };
        nix::errno::Errno::result(rc).map_err(fail("cap_ioctls_limit"))?;
    }
    Ok(())
}

/// The ioctl command of `ioctl` (FIONBIO: sys/sys/filio.h, libc's
/// bsd/mod.rs).
fn ioctl_number(ioctl: Ioctl) -> libc::c_ulong {
    match ioctl {
        Ioctl::Fionbio => libc::FIONBIO,
    }
}

/// A cap_rights_t holding `list`: cap_rights_init(3) is a macro over
/// __cap_rights_init(CAP_RIGHTS_VERSION, rights, ..., 0ULL)
/// (sys/sys/capsicum.h), its list ended by a zero.
fn rights_set(list: &[u64]) -> libc::cap_rights_t {
    // Zero-padded: the first zero ends the list. rights.rs keeps every
    // entry within MAX_RIGHTS (its test).
    let mut a = [0u64; rights::MAX_RIGHTS];
    for (slot, &r) in a.iter_mut().zip(list) {
        *slot = r;
    }
    let mut set = std::mem::MaybeUninit::<libc::cap_rights_t>::uninit();
    // SAFETY: __cap_rights_init writes the whole structure (version and
    // every word) before reading any of it, then sets each right of the
    // zero-ended list, passed as u64 as the C macro passes them.
    // (sys/kern/subr_capability.c: __cap_rights_init() starts with
    // CAP_NONE(rights), which sys/sys/capsicum.h defines as a store to
    // cr_rights[0] and cr_rights[1], the two words of a version-0
    // cap_rights_t, `cr_rights: [u64; 2]` in libc; cap_rights_vset() then
    // reads and ors.)
    #[allow(unsafe_code)]
    unsafe {
        libc::__cap_rights_init(
            libc::CAP_RIGHTS_VERSION,
            set.as_mut_ptr(),
            a[0],
            a[1],
            a[2],
            a[3],
            a[4],
            0u64,
        );
        set.assume_init()
    }
}

/// cap_enter(2), then cap_getmode(2) must say capability mode: fail closed.
/// (sys_cap_getmode() in sys/kern/sys_capability.c copies out 1 in
/// capability mode and 0 outside it.)
fn enter_capability_mode() -> Result<(), PlatformError> {
    let fail = |call| move |errno| PlatformError::CapabilityMode { call, errno };
    // SAFETY: no arguments.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::cap_enter() };
    nix::errno::Errno::result(rc).map_err(fail("cap_enter"))?;
    let mut mode: libc::c_uint = 0;
    // SAFETY: `mode` is a valid u_int the call writes.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::cap_getmode(&mut mode) };
    nix::errno::Errno::result(rc).map_err(fail("cap_getmode"))?;
    if mode == 0 {
        return Err(PlatformError::NotInCapabilityMode);
    }
    Ok(())
}
