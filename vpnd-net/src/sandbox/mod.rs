//! The network process's sandbox, entered before it reads one byte from
//! the network, in OpenIKED's order (doc/design.md): chroot into an empty
//! directory, drop to the unprivileged user and group, check that root
//! cannot be regained, then what the platform has beyond that. One
//! function per platform, in the module chosen below; the steps every
//! platform shares are here.

use std::path::PathBuf;

use nix::unistd::{Gid, Uid};

// Linux: capabilities, no-new-privs and the system-call filter; FreeBSD:
// Capsicum; DragonFly and NetBSD: chroot and the user only.
#[cfg_attr(target_os = "linux", path = "linux.rs")]
#[cfg_attr(target_os = "freebsd", path = "freebsd.rs")]
#[cfg_attr(not(any(target_os = "linux", target_os = "freebsd")), path = "bsd.rs")]
mod os;

// The BSDs' chroot and user steps.
#[cfg(not(target_os = "linux"))]
mod credentials;
pub mod rights;

pub use os::PlatformError;
pub use rights::{Kept, Role};

/// Who the network process becomes, and where it is locked in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sandbox {
    /// The empty directory it is chrooted into.
    pub root: PathBuf,
    /// The unprivileged user.
    pub uid: u32,
    /// The group it runs as (the user's primary group).
    pub gid: u32,
}

/// The step that failed.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// chroot(2) or chdir(2).
    #[error("chroot {}: {errno}", root.display())]
    Chroot {
        /// The directory.
        root: PathBuf,
        /// What the kernel answered.
        errno: rustix::io::Errno,
    },
    /// setgroups, or setting the group or user IDs.
    #[error("becoming uid {uid} gid {gid}: {errno}")]
    Credentials {
        /// The user.
        uid: u32,
        /// The group.
        gid: u32,
        /// What the kernel answered.
        errno: nix::errno::Errno,
    },
    /// A check after dropping privileges failed: something of root is left.
    #[error("privileges left after dropping them: {0}")]
    Leftover(String),
    /// A step only this platform has.
    #[error("{0}")]
    Platform(#[from] PlatformError),
}

impl Sandbox {
    /// Enters the sandbox. Must run as root, single-threaded, before any
    /// network input is read. `kept` is every descriptor the process keeps
    /// and what it is for: where the platform has per-descriptor rights
    /// (FreeBSD), each is limited to its role's (rights.rs); elsewhere
    /// they are passed over.
    pub fn enter(&self, kept: &[Kept]) -> Result<(), SandboxError> {
        os::enter(self, kept)
    }

    /// The process's root becomes [`Sandbox::root`].
    fn chroot(&self) -> Result<(), SandboxError> {
        let chroot_err = |errno| SandboxError::Chroot {
            root: self.root.clone(),
            errno,
        };
        rustix::process::chroot(&self.root).map_err(chroot_err)?;
        rustix::process::chdir("/").map_err(chroot_err)
    }

    /// The user and group as nix takes them.
    fn ids(&self) -> (Uid, Gid) {
        (Uid::from_raw(self.uid), Gid::from_raw(self.gid))
    }

    /// The error for a failed credential call.
    fn credentials_error(&self, errno: nix::errno::Errno) -> SandboxError {
        SandboxError::Credentials {
            uid: self.uid,
            gid: self.gid,
            errno,
        }
    }

    /// Root cannot be regained: setuid(0) fails and the real user is not
    /// root.
    fn check_root_is_gone(&self) -> Result<(), SandboxError> {
        if regain_root().is_ok() || nix::unistd::getuid().is_root() {
            return Err(SandboxError::Leftover("uid 0 can be regained".into()));
        }
        Ok(())
    }
}

/// False where the sandbox refuses a UDP send that names its destination
/// (FreeBSD's capability mode): the start message must then say
/// [`UdpSends::Connected`](vpnd_proto::ipc::UdpSends::Connected).
pub const NAMED_SENDS_ALLOWED: bool = os::NAMED_SENDS_ALLOWED;

/// Limits a descriptor received inside the sandbox (the socket the parent
/// connected to the peer) to the rights of `role`, as [`Sandbox::enter`]
/// limited those kept: on FreeBSD a descriptor passed by SCM_RIGHTS comes
/// with the rights its sender's had, all of them from the parent
/// (sys/kern/uipc_usrreq.c: unp_internalize() copies the sender's
/// `fde_caps`, unp_externalize() installs the descriptor with them);
/// elsewhere there is nothing to limit.
pub fn limit_received(role: Role, fd: &impl std::os::fd::AsRawFd) -> Result<(), PlatformError> {
    os::limit_received(role, fd.as_raw_fd())
}

/// Tries to become root again (it must fail once the sandbox is entered;
/// the debug builds' probe tries it too).
pub(crate) fn regain_root() -> nix::Result<()> {
    nix::unistd::setuid(Uid::from_raw(0))
}
