//! Packets to and from the tun, in the tun's framing ([`TunFraming`]).
//!
//! Bare, the tun carries IP packets: one read, one packet, read straight
//! into the caller's buffer. With the virtio-net header every packet has a
//! 10-byte header first: a read may bring a 64 KB TCP or UDP packet, which
//! [`TunReader`] splits into the packets the wire carries
//! (vpnd_offload::Segments), and the segments that arrive from the peer
//! are joined into such packets before they are written
//! (vpnd_offload::Coalescer): one write, and one pass through the kernel's
//! TCP receive path, for up to 64 KB. The BSDs' tun puts the packet's
//! address family first ([`af_header`]): checked and stripped on read,
//! added on write.

mod af_header;

use std::io::IoSliceMut;
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
    /// A packet behind an address family vpnd does not carry, or a read
    /// shorter than the family's header: dropped.
    UnknownFamily,
}

/// Reads what the host sends into the tunnel.
#[derive(Debug)]
pub struct TunReader {
    framing: TunFraming,
    /// The address families the header may name (with `AfHeader`).
    families: af_header::Families,
    /// A whole frame with its header (empty when bare packets are read
    /// straight into the sink).
    frame: Box<[u8]>,
}

impl TunReader {
    /// A reader for a tun of this framing.
    pub fn new(framing: TunFraming) -> TunReader {
        let frame_len = match framing {
            TunFraming::Bare | TunFraming::AfHeader => 0,
            TunFraming::VnetHdr => vpnd_offload::MAX_FRAME,
        };
        TunReader {
            framing,
            families: af_header::Families::THIS_SYSTEM,
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
            TunFraming::AfHeader => {
                // One readv(2): the header into 4 bytes of its own, the
                // packet straight to the start of the sink's room. No copy,
                // and the sink need not offer the 4 bytes before its room
                // (they belong to the datagram's header it builds there).
                // The BSDs' tun moves the one packet across the vector
                // (uiomove); a packet too long for it is cut (tun(4)), so
                // the room's spare byte still shows an oversized one.
                let mut header = [0u8; af_header::LEN];
                let len = rustix::io::readv(
                    tun,
                    &mut [IoSliceMut::new(&mut header), IoSliceMut::new(sink.room())],
                )?;
                match len.checked_sub(af_header::LEN) {
                    Some(len) if self.families.known(header) => {
                        sink.take(len);
                        Ok(TunRead::Packets(1))
                    }
                    _ => Ok(TunRead::UnknownFamily),
                }
            }
        }
    }
}

/// Writes what the peer sent to the tun.
#[derive(Debug)]
pub struct TunWriter {
    framing: TunFraming,
    coalescer: Option<Coalescer>,
    /// The address families the header may name (with `AfHeader`).
    families: af_header::Families,
}

impl TunWriter {
    /// A writer for a tun of this framing; `join`: it takes TCP packets of
    /// up to 64 KB (TSO was accepted).
    pub fn new(framing: TunFraming, join: bool) -> TunWriter {
        TunWriter {
            framing,
            coalescer: (framing == TunFraming::VnetHdr && join).then(Coalescer::new),
            families: af_header::Families::THIS_SYSTEM,
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
            TunFraming::AfHeader => match self.families.header_for(&datagram[range.clone()]) {
                Some(header) => write_behind(tun, &header, datagram, range, io),
                // Neither IPv4 nor IPv6: the tun would refuse it.
                None => io.tun_family_drops += 1,
            },
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
        write_behind(tun, &[0; vnet::LEN], datagram, range, io);
    }

    /// Writes what is held for joining; called once per batch received,
    /// so nothing waits for more traffic.
    pub fn flush(&mut self, tun: &OwnedFd, io: &mut IoStats) {
        if let Some(c) = &mut self.coalescer {
            c.flush(&mut |frame| write_frame(tun, frame, io));
        }
    }
}

/// Writes the packet at `range` of `datagram` behind `header`, put in the
/// bytes before it (the datagram's header, at least 41 bytes, has room).
fn write_behind(
    tun: &OwnedFd,
    header: &[u8],
    datagram: &mut [u8],
    range: Range<usize>,
    io: &mut IoStats,
) {
    let Some(start) = range.start.checked_sub(header.len()) else {
        io.tun_write_errors += 1;
        return;
    };
    datagram[start..range.start].copy_from_slice(header);
    write(tun, &datagram[start..range.end], io);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;
    use vpnd_proto::wire::Inet6Family;

    /// Collects what the reader hands over, each packet at the start of
    /// its room.
    struct Collect {
        room: Vec<u8>,
        got: Vec<Vec<u8>>,
    }

    impl PacketSink for Collect {
        fn room(&mut self) -> &mut [u8] {
            &mut self.room
        }
        fn take(&mut self, len: usize) {
            self.got.push(self.room[..len].to_vec());
        }
    }

    /// A descriptor pair that keeps packet boundaries, as a tun does.
    fn tun_pair() -> (UnixDatagram, OwnedFd) {
        let (ours, tun) = UnixDatagram::pair().unwrap();
        tun.set_nonblocking(true).unwrap();
        (ours, OwnedFd::from(tun))
    }

    fn bsd(inet6: Inet6Family) -> af_header::Families {
        af_header::Families {
            inet6: u32::from(inet6.value()),
        }
    }

    /// What one read of `frame` hands over, on a tun of `families`.
    fn read(families: af_header::Families, frame: &[u8]) -> (TunRead, Vec<Vec<u8>>) {
        let (ours, tun) = tun_pair();
        ours.send(frame).unwrap();
        let mut reader = TunReader::new(TunFraming::AfHeader);
        reader.families = families;
        let mut sink = Collect {
            room: vec![0xee; 1501],
            got: Vec::new(),
        };
        let read = reader.read(&tun, &mut sink).unwrap();
        (read, sink.got)
    }

    fn framed(family: u32, packet: &[u8]) -> Vec<u8> {
        [&family.to_be_bytes()[..], packet].concat()
    }

    const V4: [u8; 20] = [
        0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];

    fn v6() -> Vec<u8> {
        let mut p = vec![0u8; 40];
        p[0] = 0x60;
        p[6] = 17;
        p
    }

    #[test]
    fn a_read_strips_the_family_of_ipv4_and_of_each_systems_ipv6() {
        for families in [bsd(Inet6Family::FREEBSD), bsd(Inet6Family::NETBSD)] {
            let (r, got) = read(families, &framed(2, &V4));
            assert_eq!((r, got), (TunRead::Packets(1), vec![V4.to_vec()]));
            let (r, got) = read(families, &framed(families.inet6, &v6()));
            assert_eq!((r, got), (TunRead::Packets(1), vec![v6()]));
        }
    }

    #[test]
    fn a_read_of_an_unknown_family_or_shorter_than_the_header_is_dropped() {
        let freebsd = bsd(Inet6Family::FREEBSD);
        for frame in [
            framed(24, &v6()),        // NetBSD's AF_INET6 on FreeBSD
            framed(10, &v6()),        // Linux's
            framed(0x0200_0000, &V4), // AF_INET in host byte order
            framed(17, &V4),          // AF_LINK or anything else
            vec![0, 0, 0],            // shorter than the header
            vec![],
        ] {
            let (r, got) = read(freebsd, &frame);
            assert_eq!(r, TunRead::UnknownFamily, "{frame:?}");
            assert!(got.is_empty(), "{frame:?}");
        }
        let (r, got) = read(freebsd, &[0, 0, 0, 2]);
        assert_eq!(
            (r, got),
            (TunRead::Packets(1), vec![vec![]]),
            "the session drops it"
        );
    }

    #[test]
    fn a_read_that_would_block_hands_over_nothing() {
        let (_ours, tun) = tun_pair();
        let mut sink = Collect {
            room: vec![0; 1501],
            got: Vec::new(),
        };
        let r = TunReader::new(TunFraming::AfHeader).read(&tun, &mut sink);
        assert_eq!(r, Err(Errno::AGAIN));
        assert!(sink.got.is_empty());
    }

    /// What the tun gets when `packet` is delivered from a datagram with
    /// a 41-byte header before it.
    fn written(families: af_header::Families, packet: &[u8]) -> (Option<Vec<u8>>, IoStats) {
        let (ours, tun) = tun_pair();
        ours.set_nonblocking(true).unwrap();
        let mut writer = TunWriter::new(TunFraming::AfHeader, false);
        writer.families = families;
        let mut datagram = [&[0xaa; 41][..], packet].concat();
        let mut io = IoStats::default();
        writer.deliver(&tun, &mut datagram, 41..41 + packet.len(), &mut io);
        let mut buf = [0u8; 2048];
        let got = ours.recv(&mut buf).ok().map(|n| buf[..n].to_vec());
        (got, io)
    }

    #[test]
    fn a_write_puts_the_family_of_the_ip_version_before_the_packet() {
        for families in [bsd(Inet6Family::FREEBSD), bsd(Inet6Family::NETBSD)] {
            let (got, io) = written(families, &V4);
            assert_eq!(got, Some(framed(2, &V4)));
            assert_eq!(io, IoStats::default());
            let (got, io) = written(families, &v6());
            assert_eq!(got, Some(framed(families.inet6, &v6())));
            assert_eq!(io, IoStats::default());
        }
    }

    #[test]
    fn a_write_of_neither_ipv4_nor_ipv6_is_dropped_and_counted() {
        for garbage in [&[0x50, 1, 2, 3][..], &[0x00; 20], &[]] {
            let (got, io) = written(bsd(Inet6Family::FREEBSD), garbage);
            assert_eq!(got, None, "{garbage:?}");
            assert_eq!(io.tun_family_drops, 1, "{garbage:?}");
            assert_eq!(io.tun_write_errors, 0, "{garbage:?}");
        }
    }
}
