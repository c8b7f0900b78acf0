//! Packets to and from the tun, with or without the virtio-net header.
//!
//! Without offloads the tun carries bare IP packets: one read, one packet.
//! With `IFF_VNET_HDR` every packet has a 10-byte header: a read may bring
//! a 64 KB TCP packet to split (vpnd_offload::Segments, in the event loop),
//! and the segments that arrive from the peer are joined into such packets
//! before they are written (vpnd_offload::Coalescer): one write, and one
//! pass through the kernel's TCP receive path, for up to 64 KB.

use std::ops::Range;
use std::os::fd::OwnedFd;

use vpnd_offload::{Coalescer, vnet};

use crate::report::IoStats;

/// Writes what the peer sent to the tun.
#[derive(Debug)]
pub struct TunWriter {
    vnet_hdr: bool,
    coalescer: Option<Coalescer>,
}

impl TunWriter {
    /// `vnet_hdr`: the tun expects the header; `join`: it takes TCP
    /// packets of up to 64 KB (TSO was accepted).
    pub fn new(vnet_hdr: bool, join: bool) -> TunWriter {
        TunWriter {
            vnet_hdr,
            coalescer: (vnet_hdr && join).then(Coalescer::new),
        }
    }

    /// Delivers the packet at `range` of an opened `datagram`. The bytes
    /// before it (the datagram's header, no longer needed) make room for
    /// the virtio-net header.
    pub fn deliver(
        &mut self,
        tun: &OwnedFd,
        datagram: &mut [u8],
        range: Range<usize>,
        io: &mut IoStats,
    ) {
        if !self.vnet_hdr {
            write(tun, &datagram[range], io);
            return;
        }
        if let Some(c) = &mut self.coalescer
            && c.offer(&datagram[range.clone()], &mut |frame| {
                write_frame(tun, frame, io)
            })
        {
            return;
        }
        let Some(start) = range.start.checked_sub(vnet::LEN) else {
            io.tun_write_errors += 1;
            return;
        };
        datagram[start..range.start].fill(0);
        write(tun, &datagram[start..range.end], io);
    }

    /// Writes what is held for joining; called once per batch received,
    /// so nothing waits for more traffic.
    pub fn flush(&mut self, tun: &OwnedFd, io: &mut IoStats) {
        if let Some(c) = &mut self.coalescer {
            c.flush(&mut |frame| write_frame(tun, frame, io));
        }
    }
}

fn write(tun: &OwnedFd, frame: &[u8], io: &mut IoStats) {
    if rustix::io::write(tun, frame).is_err() {
        io.tun_write_errors += 1;
    }
}

/// Writes a frame of the coalescer: joined (a GSO header) or alone.
fn write_frame(tun: &OwnedFd, frame: &[u8], io: &mut IoStats) {
    if frame
        .get(1)
        .is_some_and(|gso_type| *gso_type != vnet::GSO_NONE)
    {
        io.offload_joined += 1;
    }
    write(tun, frame, io);
}
