//! Packets to and from the tun, in the tun's framing ([`TunFraming`]).
//!
//! Bare, the tun carries IP packets: one read, one packet, read straight
//! into the caller's buffer. With the virtio-net header every packet has a
//! 10-byte header first: a read may bring a 64 KB TCP or UDP packet, which
//! [`TunReader`] splits into the packets the wire carries
//! (vpnd_offload::Segments), and the segments that arrive from the peer
//! are joined into such packets before they are written
//! (vpnd_offload::Coalescer): one write, and one pass through the kernel's
//! TCP receive path, for up to 64 KB.

use std::ops::Range;
use std::os::fd::OwnedFd;

use rustix::io::Errno;
use vpnd_offload::{Coalescer, Refused, Segments, vnet};
use vpnd_proto::ipc::TunFraming;

use crate::report::IoStats;

/// Where [`TunReader::read`] puts the packets of one read: each is written
/// at the start of [`PacketSink::room`], then handed over by its length.
pub trait PacketSink {
    /// The buffer the next packet goes into; one byte longer than the
    /// largest packet the wire carries, so an oversized one is seen.
    fn room(&mut self) -> &mut [u8];
    /// The packet of `len` bytes now at the start of the room.
    fn take(&mut self, len: usize);
}

/// What one read from the tun came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TunRead {
    /// This many packets went to the sink: one, or the pieces a large
    /// packet was split into.
    Packets(usize),
    /// A frame whose offload header could not be used: dropped.
    Refused(Refused),
}

/// Reads what the host sends into the tunnel.
#[derive(Debug)]
pub struct TunReader {
    framing: TunFraming,
    /// A whole frame with its header (empty when bare packets are read
    /// straight into the sink).
    frame: Box<[u8]>,
}

impl TunReader {
    /// A reader for a tun of this framing.
    pub fn new(framing: TunFraming) -> TunReader {
        let frame_len = match framing {
            TunFraming::Bare => 0,
            TunFraming::VnetHdr => vpnd_offload::MAX_FRAME,
        };
        TunReader {
            framing,
            frame: vec![0u8; frame_len].into_boxed_slice(),
        }
    }

    /// One read: its packets, in order, to `sink`. An error (`AGAIN` when
    /// nothing is waiting) hands over nothing.
    pub fn read(&mut self, tun: &OwnedFd, sink: &mut impl PacketSink) -> Result<TunRead, Errno> {
        match self.framing {
            TunFraming::Bare => {
                let len = rustix::io::read(tun, sink.room())?;
                sink.take(len);
                Ok(TunRead::Packets(1))
            }
            TunFraming::VnetHdr => {
                let len = rustix::io::read(tun, &mut self.frame[..])?;
                let mut segments = match Segments::new(&mut self.frame[..len]) {
                    Ok(segments) => segments,
                    Err(refused) => return Ok(TunRead::Refused(refused)),
                };
                let mut packets = 0;
                while let Some(len) = segments.next_into(sink.room()) {
                    sink.take(len);
                    packets += 1;
                }
                Ok(TunRead::Packets(packets))
            }
        }
    }
}

/// Writes what the peer sent to the tun.
#[derive(Debug)]
pub struct TunWriter {
    framing: TunFraming,
    coalescer: Option<Coalescer>,
}

impl TunWriter {
    /// A writer for a tun of this framing; `join`: it takes TCP packets of
    /// up to 64 KB (TSO was accepted).
    pub fn new(framing: TunFraming, join: bool) -> TunWriter {
        TunWriter {
            framing,
            coalescer: (framing == TunFraming::VnetHdr && join).then(Coalescer::new),
        }
    }

    /// Delivers the packet at `range` of an opened `datagram`. The bytes
    /// before it (the datagram's header, no longer needed) make room for
    /// the tun's header.
    pub fn deliver(
        &mut self,
        tun: &OwnedFd,
        datagram: &mut [u8],
        range: Range<usize>,
        io: &mut IoStats,
    ) {
        match self.framing {
            TunFraming::Bare => write(tun, &datagram[range], io),
            TunFraming::VnetHdr => self.deliver_with_vnet_hdr(tun, datagram, range, io),
        }
    }

    /// Joined with the packets before it, or written alone behind a
    /// header that asks nothing of the kernel.
    fn deliver_with_vnet_hdr(
        &mut self,
        tun: &OwnedFd,
        datagram: &mut [u8],
        range: Range<usize>,
        io: &mut IoStats,
    ) {
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
