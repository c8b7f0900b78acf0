//! NetBSD: the tun is `/dev/tunN` by number, and its interface keeps the
//! name `tunN` (no renaming), so the configured name must be one.
//! etc/MAKEDEV.tmpl (`tun*`) makes `/dev/tunN` with minor N, and `all`
//! makes tun0 to tun3 only. tunopen names the interface after the minor
//! (sys/net/if_tun.c: tun_clone_create, if_initname), and neither
//! sys/sys/sockio.h nor ifconfig(8) (the copies read) has a rename.

use std::os::fd::OwnedFd;

use vpnd_proto::net::IfName;

use super::{TunError, name, open_device, set_af_header};

/// Opens `/dev/tunN` for the configured `tunN`, with the address-family
/// header, non-blocking. From NetBSD's sys/net/if_tun.c (1.123, read in
/// the copy MINIX carries; 1.173 the same): tunopen creates the interface
/// (`tun_clone_create`) when the unit has none, and tunclose only brings
/// it down; tunread returns EWOULDBLOCK only with `TUN_NBIO`, which
/// FIONBIO sets (not O_NONBLOCK at open), so FIONBIO is set here too.
/// No TUNSIFMODE: tunattach0 makes the interface `IFF_POINTOPOINT` (tun.4:
/// "At boot time, they are POINTOPOINT"), as `inet A A alias` needs.
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
