//! Packet offloads for a tun opened with `IFF_VNET_HDR`, without I/O.
//!
//! With TSO the kernel hands vpnd TCP packets of up to 64 KB, and takes
//! such packets back; the wire must carry one MTU-sized inner packet per
//! DATA datagram (doc/protocol.md "Message types"), so deployed peers see nothing new.
//! [`Segments`] splits what the tun hands over; [`Coalescer`] joins the
//! consecutive segments of a TCP flow that came from the peer into one
//! large packet for the tun. Both work in caller-provided buffers and
//! never allocate per packet; bad input is refused with a [`Refused`],
//! never a panic (a fuzz target checks).

pub mod checksum;
mod coalesce;
pub mod packet;
mod segment;
pub mod vnet;

pub use coalesce::{Coalescer, MAX_FLOWS};
pub use segment::Segments;

/// The largest frame a tun hands over or takes: the virtio-net header
/// and a 64 KB IP packet.
pub const MAX_FRAME: usize = vnet::LEN + 65535;

/// Why a frame from the tun could not be split (each a counted drop).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Shorter than the virtio-net header.
    #[error("no virtio-net header")]
    NoHeader,
    /// A GSO type we did not offer, or one that does not match the packet.
    #[error("GSO type {0:#x}")]
    GsoType(u8),
    /// Not an IP packet we can read, or a fragment.
    #[error("malformed IP header")]
    BadIp,
    /// GSO of a protocol the type does not name (or IPv6 extensions).
    #[error("GSO of IP protocol {0}")]
    Protocol(u8),
    /// The TCP or UDP header does not fit.
    #[error("malformed TCP or UDP header")]
    BadTransport,
    /// GSO with a segment size of zero.
    #[error("GSO without a segment size")]
    NoSegmentSize,
    /// The checksum to complete lies beyond the packet.
    #[error("checksum offset beyond the packet")]
    ChecksumOutside,
}
