//! The start's first checks, which need no root: the user the network
//! process becomes, the chroot directory it enters, the statistics
//! socket's group, and the peer's address, resolved once. Done by the
//! binary before the root part starts anything, so a refusal here has
//! nothing to undo; `vpnd -n` runs the same checks but the peer's (a
//! check of the file needs no resolver).

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

/// What this system says of the user and group the configuration names.
#[derive(Debug, Clone, Copy)]
pub struct Local {
    /// `user`'s uid and primary gid (neither 0).
    pub uid: u32,
    /// See `uid`.
    pub gid: u32,
    /// `stats_group`'s gid (0, root's, unset).
    pub stats_gid: u32,
}

/// Checks the user and the chroot directory and resolves the statistics
/// socket's group and the peer: every problem found, in that order.
pub fn check(config: &Config) -> Result<Resolved, Vec<PreflightError>> {
    let local = check_local(config);
    let peer = resolve_peer(config);
    match (local, peer) {
        (Ok(local), Ok(peer)) => Ok(Resolved {
            uid: local.uid,
            gid: local.gid,
            stats_gid: local.stats_gid,
            peer,
        }),
        (local, peer) => {
            let mut problems = local.err().unwrap_or_default();
            problems.extend(peer.err());
            Err(problems)
        }
    }
}

/// The checks of this system alone (no resolver): the user, the chroot
/// directory and the statistics socket's group, every problem found.
pub fn check_local(config: &Config) -> Result<Local, Vec<PreflightError>> {
    let user = resolve_user(config.user.as_str());
    let chroot = check_chroot(&config.chroot_dir);
    let stats_gid = match &config.stats_group {
        Some(group) => resolve_group(group.as_str()),
        None => Ok(0),
    };
    match (user, chroot, stats_gid) {
        (Ok((uid, gid)), Ok(()), Ok(stats_gid)) => Ok(Local {
            uid,
            gid,
            stats_gid,
        }),
        (user, chroot, stats_gid) => Err([user.err(), chroot.err(), stats_gid.err()]
            .into_iter()
            .flatten()
            .collect()),
    }
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
/// writable by nobody else. `vpnd -n` run by another user also takes a
/// directory of that user's, as it takes that user's configuration file;
/// the start runs as root and so takes root's alone.
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
    let euid = rustix::process::geteuid().as_raw();
    if meta.uid() != 0 && meta.uid() != euid {
        return Err(err(&format!(
            "is not owned by root (owned by uid {}; chown root)",
            meta.uid()
        )));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(err(&format!(
            "is writable by group or others (mode {:04o}; chmod 755)",
            meta.mode() & 0o7777
        )));
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
