//! FreeBSD, DragonFly and NetBSD: their `/dev/tunN` (with its 4-byte
//! address-family header) is not supported yet, and opening one says so
//! instead of failing somewhere less clear.

use std::os::fd::OwnedFd;

use vpnd_proto::net::IfName;

use super::{TunError, TunOffloads};

/// Refuses: no tun on this system yet.
pub(super) fn open_tun(name: &IfName, _offload: bool) -> Result<(OwnedFd, TunOffloads), TunError> {
    Err(TunError::Unsupported { name: name.clone() })
}
