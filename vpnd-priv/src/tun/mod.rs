//! Opening the tun device: one module per platform, chosen below, behind
//! one function and one result type, so that start-up names no platform.

use std::os::fd::OwnedFd;

use vpnd_proto::net::IfName;

// Linux's `/dev/net/tun` clone device; the BSDs' `/dev/tunN` is not there
// yet (its module says so when asked to open one).
#[cfg_attr(target_os = "linux", path = "linux.rs")]
#[cfg_attr(not(target_os = "linux"), path = "bsd.rs")]
mod os;

/// Why the tun device could not be created.
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
    /// The kernel refused the interface.
    #[error("{name}: cannot create the tun interface: {errno}")]
    Create {
        /// The interface asked for.
        name: IfName,
        /// What the kernel answered.
        errno: rustix::io::Errno,
    },
    /// This system's tun devices are not supported yet.
    #[error("{name}: tun devices on this system are not supported yet")]
    Unsupported {
        /// The interface asked for.
        name: IfName,
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
}

/// Creates (or attaches to) the tun interface `name`, non-blocking and
/// close-on-exec; the interface disappears when the descriptor is closed.
/// With `offload`, asks for what the platform can offload and takes what
/// the kernel has; without, or where it has none, the tun carries bare
/// packets.
pub fn open_tun(name: &IfName, offload: bool) -> Result<(OwnedFd, TunOffloads), TunError> {
    os::open_tun(name, offload)
}
