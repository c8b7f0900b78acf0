//! The start's first checks, which need no root: the user the network
//! process becomes, the chroot directory it enters, the statistics
//! socket's group, and the peer's address. Done by the binary before the root part starts
//! anything, so a refusal here has nothing to undo.

use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use vpnd_priv::startup::Resolved;
use vpnd_proto::config::Config;

/// Why the configuration cannot start vpnd on this system.
#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    /// `user` is unknown or root.
    #[error("user {name}: {reason}")]
    User {
        /// `user` as configured.
        name: String,
        /// The lookup's error, or what is wrong with the user found.
        reason: String,
    },
    /// `stats_group` is unknown.
    #[error("stats_group {name}: {reason}")]
    Group {
        /// `stats_group` as configured.
        name: String,
        /// The lookup's error, or that there is no such group.
        reason: String,
    },
    /// `chroot_dir` is missing or unsafe.
    #[error("chroot_dir {}: {reason}", path.display())]
    Chroot {
        /// `chroot_dir` as configured.
        path: PathBuf,
        /// What is wrong with it, and how to fix it.
        reason: String,
    },
    /// `remote_host` does not resolve.
    #[error("remote_host {host}: {reason}")]
    Resolve {
        /// `remote_host` as configured.
        host: String,
        /// The resolver's error.
        reason: String,
    },
}

/// Checks the user and the chroot directory and resolves the statistics
/// socket's group and the peer.
pub fn check(config: &Config) -> Result<Resolved, PreflightError> {
    let (uid, gid) = resolve_user(config.user.as_str())?;
    check_chroot(&config.chroot_dir)?;
    let stats_gid = match &config.stats_group {
        Some(group) => resolve_group(group.as_str())?,
        None => 0,
    };
    let peer = resolve_peer(config)?;
    Ok(Resolved {
        uid,
        gid,
        stats_gid,
        peer,
    })
}

/// The gid of the group `name`.
fn resolve_group(name: &str) -> Result<u32, PreflightError> {
    let err = |reason: String| PreflightError::Group {
        name: name.to_owned(),
        reason,
    };
    let group = nix::unistd::Group::from_name(name)
        .map_err(|e| err(format!("cannot look it up: {e}")))?
        .ok_or_else(|| err("no such group (create it, or unset `stats_group`)".to_owned()))?;
    Ok(group.gid.as_raw())
}

/// The uid and gid of `name`, which must not be root.
fn resolve_user(name: &str) -> Result<(u32, u32), PreflightError> {
    let err = |reason: String| PreflightError::User {
        name: name.to_owned(),
        reason,
    };
    let user = nix::unistd::User::from_name(name)
        .map_err(|e| err(format!("cannot look it up: {e}")))?
        .ok_or_else(|| err("no such user (create it, or set `user`)".to_owned()))?;
    if user.uid.is_root() || user.gid.as_raw() == 0 {
        return Err(err(
            "has uid or gid 0; the network process must run unprivileged".to_owned(),
        ));
    }
    Ok((user.uid.as_raw(), user.gid.as_raw()))
}

/// The chroot directory exists, is a directory, is owned by root and is
/// writable by nobody else.
fn check_chroot(path: &Path) -> Result<(), PreflightError> {
    let err = |reason: &str| PreflightError::Chroot {
        path: path.to_path_buf(),
        reason: reason.to_owned(),
    };
    let meta = std::fs::metadata(path).map_err(|e| {
        err(&format!(
            "{e} (create an empty directory owned by root, mode 755)"
        ))
    })?;
    if !meta.is_dir() {
        return Err(err("is not a directory"));
    }
    if meta.uid() != 0 {
        return Err(err("is not owned by root"));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(err("is writable by group or others"));
    }
    Ok(())
}

/// The peer's address, resolved at start (`None`: a host-gw learns it);
/// the parent looks it up again while it runs.
fn resolve_peer(config: &Config) -> Result<Option<SocketAddr>, PreflightError> {
    let Some(remote) = config.remote() else {
        return Ok(None);
    };
    let found =
        vpnd_priv::peer_name::resolve(remote).map_err(|reason| PreflightError::Resolve {
            host: remote.host.as_str().to_owned(),
            reason,
        })?;
    Ok(vpnd_priv::peer_name::choose(&found, None))
}
