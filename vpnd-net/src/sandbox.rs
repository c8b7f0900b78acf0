//! The network process's sandbox, entered before it reads one byte from
//! the network, in OpenIKED's order (DESIGN.md): chroot into an empty
//! directory, empty the capability bounding set while still root, drop to
//! the unprivileged user and group, check that nothing of root is left,
//! set no-new-privs, install the system-call filter (Linux).

use std::path::PathBuf;

use nix::unistd::{Gid, Uid, setgroups, setresgid, setresuid};

/// Who the network process becomes, and where it is locked in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sandbox {
    /// The empty directory it is chrooted into.
    pub root: PathBuf,
    /// The unprivileged user.
    pub uid: u32,
    /// Its group.
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
        /// Why.
        errno: rustix::io::Errno,
    },
    /// Emptying the capability bounding set.
    #[error("emptying the capability bounding set: {0}")]
    Bounding(String),
    /// setgroups, setresgid or setresuid.
    #[error("becoming uid {uid} gid {gid}: {errno}")]
    Credentials {
        /// The user.
        uid: u32,
        /// The group.
        gid: u32,
        /// Why.
        errno: nix::errno::Errno,
    },
    /// A check after dropping privileges failed: something of root is left.
    #[error("privileges left after dropping them: {0}")]
    Leftover(String),
    /// prctl(PR_SET_NO_NEW_PRIVS).
    #[error("setting no-new-privs: {0}")]
    NoNewPrivs(rustix::io::Errno),
    /// The system-call filter.
    #[cfg(target_os = "linux")]
    #[error("installing the system-call filter: {0}")]
    Filter(#[from] crate::syscall_filter::FilterError),
}

impl Sandbox {
    /// Enters the sandbox. Must run as root, single-threaded, before any
    /// network input is read.
    pub fn enter(&self) -> Result<(), SandboxError> {
        let chroot_err = |errno| SandboxError::Chroot {
            root: self.root.clone(),
            errno,
        };
        rustix::process::chroot(&self.root).map_err(chroot_err)?;
        rustix::process::chdir("/").map_err(chroot_err)?;
        #[cfg(target_os = "linux")]
        caps::clear(None, caps::CapSet::Bounding)
            .map_err(|e| SandboxError::Bounding(e.to_string()))?;
        let (uid, gid) = (Uid::from_raw(self.uid), Gid::from_raw(self.gid));
        let cred_err = |errno| SandboxError::Credentials {
            uid: self.uid,
            gid: self.gid,
            errno,
        };
        setgroups(&[gid]).map_err(cred_err)?;
        setresgid(gid, gid, gid).map_err(cred_err)?;
        setresuid(uid, uid, uid).map_err(cred_err)?;
        self.check()?;
        #[cfg(target_os = "linux")]
        rustix::thread::set_no_new_privs(true).map_err(SandboxError::NoNewPrivs)?;
        #[cfg(target_os = "linux")]
        crate::syscall_filter::install()?;
        Ok(())
    }

    /// Root cannot be regained and no capability is left.
    fn check(&self) -> Result<(), SandboxError> {
        if nix::unistd::setuid(Uid::from_raw(0)).is_ok() || nix::unistd::getuid().is_root() {
            return Err(SandboxError::Leftover("uid 0 can be regained".into()));
        }
        #[cfg(target_os = "linux")]
        for set in [
            caps::CapSet::Effective,
            caps::CapSet::Permitted,
            caps::CapSet::Inheritable,
            caps::CapSet::Ambient,
            caps::CapSet::Bounding,
        ] {
            let left = caps::read(None, set).map_err(|e| SandboxError::Leftover(e.to_string()))?;
            if !left.is_empty() {
                return Err(SandboxError::Leftover(format!(
                    "{set:?} set holds {left:?}"
                )));
            }
        }
        Ok(())
    }
}
