//! Opening the tun device: one module per platform, chosen below, behind
//! one function and one result type, so that start-up names no platform.

use std::os::fd::OwnedFd;

use vpnd_proto::net::IfName;

// Linux's `/dev/net/tun` clone device; the BSDs' tun with its 4-byte
// address-family header.
#[cfg_attr(target_os = "linux", path = "linux.rs")]
#[cfg_attr(not(target_os = "linux"), path = "bsd.rs")]
mod os;

pub mod name;

/// Why the tun device could not be created (or destroyed).
#[derive(Debug, thiserror::Error)]
pub enum TunError {
    /// The clone device could not be opened.
    #[error("{device}: {errno}")]
    Open {
        /// The clone device's path.
        device: &'static str,
        /// What the kernel answered.
        errno: rustix::io::Errno,
    },
    /// The tun device of the configured unit could not be opened.
    #[error("{path}: {errno}")]
    Device {
        /// The device's path.
        path: String,
        /// What the kernel answered.
        errno: rustix::io::Errno,
    },
    /// The kernel refused the interface.
    #[error("{name}: cannot create the tun interface: {errno}")]
    Create {
        /// The interface asked for.
        name: IfName,
        /// What the kernel answered.
        errno: rustix::io::Errno,
    },
    /// This platform cannot make a tun of that name.
    #[error("{name}: {reason}")]
    Name {
        /// The interface asked for.
        name: IfName,
        /// What the platform accepts.
        reason: String,
    },
    /// The interface could not be destroyed.
    #[error("{name}: cannot destroy the tun interface: {errno}")]
    Destroy {
        /// The interface.
        name: IfName,
        /// What the kernel answered.
        errno: rustix::io::Errno,
    },
}

/// What the tun was opened with: the framing and the offloads the kernel
/// agreed to (all off where the platform has none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TunOffloads {
    /// A virtio-net header before each packet.
    pub vnet_hdr: bool,
    /// TCP segmentation (IPv4 and IPv6).
    pub tso: bool,
    /// UDP segmentation (Linux 6.2 and later).
    pub uso: bool,
    /// A 4-byte address family in network byte order before each packet
    /// (the BSDs' `TUNSIFHEAD`).
    pub af_header: bool,
}

/// Creates (or attaches to) the tun interface `name`, non-blocking and
/// close-on-exec. With `offload`, asks for what the platform can offload
/// and takes what the kernel has; without, or where it has none, the tun
/// carries bare packets (on the BSDs, each after its address family).
/// On Linux the interface disappears with its last descriptor; on the
/// BSDs it stays until [`destroy`].
pub fn open_tun(name: &IfName, offload: bool) -> Result<(OwnedFd, TunOffloads), TunError> {
    os::open_tun(name, offload)
}

/// Whether this platform can make a tun named `name` (NetBSD: only
/// `tunN`), and if not why: the configuration check's, and the start's.
pub fn check_device(name: &IfName) -> Result<(), String> {
    name::check(name, name::Naming::NATIVE)
}

/// Removes the interface `name` once vpnd is done with it, where it
/// outlives its descriptors (the BSDs); nothing to do on Linux.
pub fn destroy(name: &IfName) -> Result<(), TunError> {
    #[cfg(target_os = "linux")]
    {
        let _ = name;
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        os::destroy(name)
    }
}
