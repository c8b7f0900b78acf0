//! NetBSD: the tun is `/dev/tunN` by number, and its interface keeps the
//! name `tunN` (no renaming), so the configured name must be one.

use std::os::fd::OwnedFd;

use vpnd_proto::net::IfName;

use super::{TunError, name, open_device, set_af_header};

/// Opens `/dev/tunN` for the configured `tunN`, with the address-family
/// header, non-blocking. From NetBSD's sys/net/if_tun.c (1.123, read in
/// the copy MINIX carries): tunopen creates the interface
/// (`tun_clone_create`) when the unit has none, and tunclose only brings
/// it down; tunread returns EWOULDBLOCK only with `TUN_NBIO`, which
/// FIONBIO sets (not O_NONBLOCK at open), so FIONBIO is set here too.
pub(super) fn open(name: &IfName) -> Result<OwnedFd, TunError> {
    name::check(name, name::Naming::Numbered).map_err(|reason| TunError::Name {
        name: name.clone(),
        reason,
    })?;
    let path = format!("/dev/{name}");
    let fd = open_device(&path).map_err(|errno| TunError::Device { path, errno })?;
    set_af_header(&fd, name)?;
    rustix::io::ioctl_fionbio(&fd, true).map_err(|errno| TunError::Create {
        name: name.clone(),
        errno,
    })?;
    Ok(fd)
}
