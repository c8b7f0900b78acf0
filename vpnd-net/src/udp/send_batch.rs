//! Datagrams to send, kept in the order they were made and sent together:
//! sealed DATA and the session's control datagrams share one batch, so a
//! control datagram queued between two DATA leaves between them. Each slot
//! keeps its own destination, and leaves by the socket [`UdpSockets`]
//! routes it to; consecutive slots to one destination leave in one
//! sendmmsg(2) (Linux, FreeBSD, NetBSD; one sendto(2) each elsewhere), runs of
//! equal-sized DATA in one UDP_SEGMENT send each where the kernel offers
//! it. The buffers are allocated once; a batch is sent as soon as the tun
//! would block, never held back to fill up (latency at low rates must not
//! grow).

use std::io::IoSlice;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::ops::Range;
use std::os::fd::OwnedFd;

use rustix::io::Errno;
use vpnd_proto::wire;

use super::os;
use super::sockets::UdpSockets;

/// Datagrams per batch. The event loop reads as many times from one
/// descriptor before it turns to the others: one read fills one slot.
pub const BATCH: usize = 64;

/// Room for one datagram and one byte more, so that an oversized tun packet
/// is seen (and counted by the session), never cut to size.
pub const SLOT: usize = wire::MAX_DATAGRAM + 1;

/// At most this many datagrams in one UDP_SEGMENT send (the kernel's
/// UDP_MAX_SEGMENTS is 64 on older kernels).
const GSO_MAX_SEGMENTS: usize = 64;
/// At most this many bytes in one UDP_SEGMENT send (an IP packet's limit,
/// less the headers, with room to spare).
const GSO_MAX_BYTES: usize = 65_000;

/// What a committed slot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A tun packet sealed in place: may join a UDP_SEGMENT run.
    Data,
    /// A control datagram the session queued: always sent on its own.
    Control,
}

/// A committed slot: its length, where it goes, what it holds.
#[derive(Debug, Clone, Copy)]
struct Filled {
    len: usize,
    to: SocketAddr,
    kind: Kind,
}

/// What an unused slot's entry holds until it is committed.
const UNFILLED: Filled = Filled {
    len: 0,
    to: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)),
    kind: Kind::Control,
};

/// The batch being filled.
pub struct SendBatch {
    slots: Box<[[u8; SLOT]; BATCH]>,
    filled: [Filled; BATCH],
    count: usize,
    gso: bool,
}

impl std::fmt::Debug for SendBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SendBatch({} of {BATCH}, gso {})", self.count, self.gso)
    }
}

/// What one send of the batch came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sent {
    /// Datagrams the kernel refused.
    pub refused: u64,
    /// The kernel refused UDP segmentation itself (the error): the batch
    /// went out without it, and so will every later one.
    pub gso_failed: Option<Errno>,
}

impl SendBatch {
    /// An empty batch; with `gso`, runs of equal-sized DATA leave in one
    /// UDP_SEGMENT send each.
    pub fn new(gso: bool) -> Self {
        SendBatch {
            slots: vec![[0u8; SLOT]; BATCH]
                .into_boxed_slice()
                .try_into()
                .unwrap_or_else(|_| unreachable!("BATCH slots")),
            filled: [UNFILLED; BATCH],
            count: 0,
            gso: gso && os::SEGMENTATION,
        }
    }

    /// True when no slot is free.
    pub fn is_full(&self) -> bool {
        self.count == BATCH
    }

    /// The next free slot, to seal a tun packet into.
    pub fn next_slot(&mut self) -> &mut [u8; SLOT] {
        &mut self.slots[self.count]
    }

    /// Keeps the first `len` bytes of the next slot: DATA for `to`.
    pub fn commit_data(&mut self, len: usize, to: SocketAddr) {
        self.commit(len, to, Kind::Data);
    }

    /// Copies a control datagram for `to` into the next slot; false if it
    /// does not fit one (a datagram the session never makes).
    pub fn push_control(&mut self, datagram: &[u8], to: SocketAddr) -> bool {
        let Some(room) = self.next_slot().get_mut(..datagram.len()) else {
            return false;
        };
        room.copy_from_slice(datagram);
        self.commit(datagram.len(), to, Kind::Control);
        true
    }

    fn commit(&mut self, len: usize, to: SocketAddr, kind: Kind) {
        self.filled[self.count] = Filled { len, to, kind };
        self.count += 1;
    }

    /// Sends the committed datagrams in order, each to its own destination,
    /// and empties the batch. A destination no socket may send to yet
    /// ([`UdpSockets::route`]) gets none: its control datagrams wait in
    /// `udp` for the socket, its DATA count as refused.
    pub fn send(&mut self, udp: &mut UdpSockets) -> Sent {
        let count = std::mem::take(&mut self.count);
        let mut sent = Sent::default();
        let mut start = 0;
        while start < count {
            let to = self.filled[start].to;
            let same = self.filled[start..count]
                .iter()
                .take_while(|f| f.to == to)
                .count();
            let range = start..start + same;
            match udp.route(to) {
                Some((fd, name)) => self.send_by(fd, name, range, &mut sent),
                None => {
                    for (slot, filled) in self.slots[range.clone()].iter().zip(&self.filled[range])
                    {
                        let control = (filled.kind == Kind::Control).then(|| &slot[..filled.len]);
                        if !udp.unrouted(to, control) {
                            sent.refused += 1;
                        }
                    }
                }
            }
            start += same;
        }
        sent
    }

    /// Sends the slots in `range` by `udp`, naming `to` unless the socket
    /// is connected to it (`None`).
    fn send_by(
        &mut self,
        udp: &OwnedFd,
        to: Option<SocketAddr>,
        range: Range<usize>,
        sent: &mut Sent,
    ) {
        let mut datagrams = [IoSlice::new(&[]); BATCH];
        for (datagram, (slot, filled)) in datagrams.iter_mut().zip(
            self.slots[range.clone()]
                .iter()
                .zip(&self.filled[range.clone()]),
        ) {
            *datagram = IoSlice::new(&slot[..filled.len]);
        }
        let filled = &self.filled[range.clone()];
        let datagrams = &datagrams[..range.len()];
        let mut done = 0;
        if self.gso {
            match send_segmented(udp, to, filled, datagrams, &mut sent.refused) {
                Ok(()) => done = datagrams.len(),
                Err((through, errno)) => {
                    done = through;
                    self.gso = false;
                    sent.gso_failed = Some(errno);
                }
            }
        }
        if done < datagrams.len() {
            sent.refused += os::send_each(udp, to, &datagrams[done..]);
        }
    }
}

/// Runs of equal-sized DATA in one UDP_SEGMENT send each, anything else
/// alone. If the kernel refuses segmentation itself: the error, and how
/// many datagrams were handled (the rest are left to the caller).
fn send_segmented(
    udp: &OwnedFd,
    to: Option<SocketAddr>,
    filled: &[Filled],
    datagrams: &[IoSlice<'_>],
    refused: &mut u64,
) -> Result<(), (usize, Errno)> {
    let mut i = 0;
    while i < datagrams.len() {
        let j = run_end(filled, i);
        let run = &datagrams[i..j];
        if run.len() == 1 {
            *refused += os::send_each(udp, to, run);
            i = j;
            continue;
        }
        // The run's first datagram is its longest: the segment size.
        match os::send_segmented(udp, to, run, filled[i].len as u16) {
            Ok(()) => {}
            // The device or the path cannot segment, or a datagram is over
            // the device's MTU (a configured `mtu` above what the path
            // carries): never again; sent one by one, the kernel fragments
            // them.
            Err(e @ (Errno::IO | Errno::INVAL | Errno::OPNOTSUPP | Errno::MSGSIZE)) => {
                return Err((i, e));
            }
            Err(_) => *refused += run.len() as u64,
        }
        i = j;
    }
    Ok(())
}

/// Where the run that starts at `start` ends: DATA of the first one's size,
/// the last of them may be shorter, within the kernel's limits. A control
/// datagram is a run of its own.
fn run_end(filled: &[Filled], start: usize) -> usize {
    let first = filled[start];
    let mut end = start + 1;
    if first.kind == Kind::Control {
        return end;
    }
    let mut total = first.len;
    while let Some(next) = filled.get(end)
        && next.kind == Kind::Data
        && next.len <= first.len
        && end - start < GSO_MAX_SEGMENTS
        && total + next.len <= GSO_MAX_BYTES
    {
        total += next.len;
        end += 1;
        if next.len < first.len {
            break;
        }
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use vpnd_proto::ipc::UdpSends;

    fn receiver() -> (UdpSocket, SocketAddr) {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let to = rx.local_addr().unwrap();
        (rx, to)
    }

    fn sender() -> UdpSockets {
        let fd = OwnedFd::from(UdpSocket::bind("127.0.0.1:0").unwrap());
        UdpSockets::new(fd, UdpSends::Addressed)
    }

    /// Fills the next slot with `len` bytes of `mark` and commits it as DATA.
    fn data(batch: &mut SendBatch, len: usize, mark: u8, to: SocketAddr) {
        batch.next_slot()[..len].fill(mark);
        batch.commit_data(len, to);
    }

    /// The next datagram's length and first byte.
    fn next(rx: &UdpSocket) -> (usize, u8) {
        let mut buf = [0u8; SLOT];
        let n = rx.recv(&mut buf).unwrap();
        (n, buf[0])
    }

    #[test]
    fn a_batch_arrives_whole_and_in_order() {
        let (rx, to) = receiver();
        let mut udp = sender();
        let mut batch = SendBatch::new(false);
        for i in 0..BATCH {
            data(&mut batch, 3 + i, i as u8, to);
        }
        assert!(batch.is_full());
        assert_eq!(batch.send(&mut udp).refused, 0);
        for i in 0..BATCH {
            assert_eq!(next(&rx), (3 + i, i as u8));
        }
        assert_eq!(batch.send(&mut udp), Sent::default(), "empty");
    }

    #[test]
    fn runs_of_equal_sizes_leave_segmented_and_arrive_as_datagrams() {
        let (rx, to) = receiver();
        let mut udp = sender();
        let mut batch = SendBatch::new(true);
        // Two runs (10 of 1400 then a short 900; 3 of 200), a lone 50,
        // then a longer one that starts a run of its own.
        let sizes = [[1400; 10].as_slice(), &[900, 200, 200, 200, 50, 1300]].concat();
        for (i, size) in sizes.iter().enumerate() {
            data(&mut batch, *size, i as u8, to);
        }
        assert_eq!(batch.send(&mut udp), Sent::default());
        let mut buf = [0u8; SLOT];
        for (i, size) in sizes.iter().enumerate() {
            let n = rx.recv(&mut buf).unwrap();
            assert_eq!(
                (n, buf[0], buf[n - 1]),
                (*size, i as u8, i as u8),
                "datagram {i}"
            );
        }
    }

    #[test]
    fn a_run_is_equal_sized_data_the_last_maybe_shorter() {
        let slot = |len, kind| Filled {
            len,
            to: UNFILLED.to,
            kind,
        };
        let (data, control) = (Kind::Data, Kind::Control);
        let filled = [
            slot(100, data),
            slot(100, data),
            slot(100, control),
            slot(100, data),
            slot(100, data),
            slot(60, data),
            slot(100, data),
            slot(50, control),
        ];
        assert_eq!(run_end(&filled, 0), 2, "a control datagram ends a run");
        assert_eq!(run_end(&filled, 2), 3, "and stands alone");
        assert_eq!(run_end(&filled, 3), 6, "a shorter one ends a run");
        assert_eq!(run_end(&filled, 6), 7, "the last");
        assert_eq!(run_end(&[slot(1400, data); BATCH], 0), 46, "GSO_MAX_BYTES");
        let small = [slot(100, data); BATCH + 1];
        assert_eq!(run_end(&small, 0), GSO_MAX_SEGMENTS);
    }

    #[test]
    fn control_datagrams_leave_between_the_data_around_them_to_their_own_destination() {
        let (peer, to_peer) = receiver();
        let (old_peer, to_old_peer) = receiver();
        let mut udp = sender();
        for gso in [false, true] {
            let mut batch = SendBatch::new(gso);
            // DATA of one size, so that with segmentation they would form
            // one run if the control datagrams did not stand between them.
            data(&mut batch, 500, 1, to_peer);
            data(&mut batch, 500, 2, to_peer);
            assert!(batch.push_control(&[3; 500], to_peer));
            data(&mut batch, 500, 4, to_peer);
            assert!(batch.push_control(&[5; 92], to_old_peer));
            data(&mut batch, 500, 6, to_peer);
            assert!(!batch.push_control(&[0; SLOT + 1], to_peer), "too large");
            assert_eq!(batch.send(&mut udp), Sent::default());
            let at_peer: Vec<(usize, u8)> = (0..5).map(|_| next(&peer)).collect();
            assert_eq!(
                at_peer,
                [(500, 1), (500, 2), (500, 3), (500, 4), (500, 6)],
                "gso {gso}"
            );
            assert_eq!(next(&old_peer), (92, 5), "gso {gso}");
        }
    }
}

#[cfg(test)]
mod connected_tests {
    use super::*;
    use std::net::UdpSocket;
    use vpnd_proto::ipc::UdpSends;

    #[test]
    fn connected_sends_leave_by_the_peers_socket_and_others_wait() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let peer = rx.local_addr().unwrap();
        let elsewhere: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let listener = OwnedFd::from(UdpSocket::bind("127.0.0.1:0").unwrap());
        let mut udp = UdpSockets::new(listener, UdpSends::Connected);
        let connected = UdpSocket::bind("127.0.0.1:0").unwrap();
        connected.connect(peer).unwrap();
        let from = connected.local_addr().unwrap();
        udp.unrouted(peer, None);
        assert_eq!(udp.take_request(vpnd_proto::Timestamp::ZERO), Some(peer));
        udp.connected(peer, OwnedFd::from(connected)).unwrap();
        for gso in [false, true] {
            let mut batch = SendBatch::new(gso);
            for (len, mark) in [(700, 1), (700, 2)] {
                batch.next_slot()[..len].fill(mark);
                batch.commit_data(len, peer);
            }
            assert!(batch.push_control(&[3; 90], elsewhere));
            batch.next_slot()[..5].fill(4);
            batch.commit_data(5, elsewhere);
            assert!(batch.push_control(&[5; 60], peer));
            // DATA for an address with no socket is refused; the control
            // datagram waits for the parent's socket.
            assert_eq!(batch.send(&mut udp).refused, 1, "gso {gso}");
            let mut buf = [0u8; SLOT];
            for want in [(700, 1), (700, 2), (60, 5)] {
                let (n, src) = rx.recv_from(&mut buf).unwrap();
                assert_eq!(((n, buf[0]), src), (want, from), "gso {gso}");
            }
        }
        assert_eq!(
            udp.take_request(vpnd_proto::Timestamp::ZERO),
            Some(elsewhere)
        );
    }
}
