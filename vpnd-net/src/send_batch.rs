//! Sealed DATA datagrams to the peer, sent together: one sendmmsg(2) for a
//! batch on Linux, one sendto(2) each elsewhere. The buffers are allocated
//! once; a batch is sent as soon as the tun would block, never held back
//! to fill up (latency at low rates must not grow).

use std::io::IoSlice;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;

use rustix::io::Errno;
use rustix::net::SendFlags;
use vpnd_proto::wire;

/// Datagrams per batch.
pub const BATCH: usize = 64;

/// Room for one datagram, with a spare byte so an oversized tun packet is
/// seen, not cut to size.
pub const SLOT: usize = wire::MAX_DATAGRAM + 64;

/// At most this many datagrams in one UDP_SEGMENT send (the kernel's
/// UDP_MAX_SEGMENTS is 64 on older kernels).
const GSO_MAX_SEGMENTS: usize = 64;
/// At most this many bytes in one UDP_SEGMENT send (an IP packet's limit,
/// less the headers, with room to spare).
const GSO_MAX_BYTES: usize = 65_000;

/// The batch being filled.
pub struct SendBatch {
    slots: Box<[[u8; SLOT]; BATCH]>,
    lens: [usize; BATCH],
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
    /// An empty batch; with `gso`, runs of equal-sized datagrams leave in
    /// one UDP_SEGMENT send each.
    pub fn new(gso: bool) -> Self {
        SendBatch {
            slots: vec![[0u8; SLOT]; BATCH]
                .into_boxed_slice()
                .try_into()
                .unwrap_or_else(|_| unreachable!("BATCH slots")),
            lens: [0; BATCH],
            count: 0,
            gso: gso && cfg!(target_os = "linux"),
        }
    }

    /// True when no slot is free.
    pub fn is_full(&self) -> bool {
        self.count == BATCH
    }

    /// The next free slot, to seal into.
    pub fn next_slot(&mut self) -> &mut [u8; SLOT] {
        &mut self.slots[self.count]
    }

    /// Keeps the first `len` bytes of the slot just filled.
    pub fn commit(&mut self, len: usize) {
        self.lens[self.count] = len;
        self.count += 1;
    }

    /// Forgets the batch (nowhere to send it).
    pub fn clear(&mut self) {
        self.count = 0;
    }

    /// Sends the committed datagrams to `to` and empties the batch,
    /// keeping the slot being filled (it becomes the first).
    pub fn send(&mut self, udp: &OwnedFd, to: SocketAddr) -> Sent {
        let count = std::mem::take(&mut self.count);
        let mut sent = Sent::default();
        let mut done = 0;
        if self.gso {
            let (through, failed) = self.send_segmented(udp, to, count, &mut sent.refused);
            done = through;
            if let Some(errno) = failed {
                self.gso = false;
                sent.gso_failed = Some(errno);
            }
        }
        if done < count {
            sent.refused += send_each(udp, to, &self.slots[done..count], &self.lens[done..count]);
        }
        if count > 0 && count < BATCH {
            self.slots.swap(0, count);
        }
        sent
    }

    /// Runs of equal-sized datagrams (the last of a run may be shorter)
    /// in one UDP_SEGMENT send each, a lone datagram alone. Returns how
    /// many were handled, and the error if the kernel refused
    /// segmentation (the rest are then left to the caller).
    #[cfg(target_os = "linux")]
    fn send_segmented(
        &self,
        udp: &OwnedFd,
        to: SocketAddr,
        count: usize,
        refused: &mut u64,
    ) -> (usize, Option<Errno>) {
        let mut i = 0;
        while i < count {
            let size = self.lens[i];
            let (mut j, mut total) = (i + 1, size);
            while j < count
                && j - i < GSO_MAX_SEGMENTS
                && self.lens[j] <= size
                && total + self.lens[j] <= GSO_MAX_BYTES
            {
                total += self.lens[j];
                j += 1;
                if self.lens[j - 1] < size {
                    break;
                }
            }
            let run = &self.slots[i..j];
            let result = if j - i == 1 {
                rustix::net::sendto(udp, &run[0][..size], SendFlags::empty(), &to).map(|_| ())
            } else {
                gso::send(udp, to, run, &self.lens[i..j], size)
            };
            match result {
                Ok(()) => {}
                // The device or the path cannot segment, or a datagram is
                // over the device's MTU (a configured `mtu` above what the
                // path carries): never again; sent one by one, the kernel
                // fragments them.
                Err(e @ (Errno::IO | Errno::INVAL | Errno::OPNOTSUPP | Errno::MSGSIZE))
                    if j - i > 1 =>
                {
                    return (i, Some(e));
                }
                Err(_) => *refused += (j - i) as u64,
            }
            i = j;
        }
        (count, None)
    }

    #[cfg(not(target_os = "linux"))]
    fn send_segmented(
        &self,
        _: &OwnedFd,
        _: SocketAddr,
        _: usize,
        _: &mut u64,
    ) -> (usize, Option<Errno>) {
        (0, None)
    }
}

/// UDP_SEGMENT: one send, the kernel cuts it into datagrams of `size`.
#[cfg(target_os = "linux")]
mod gso {
    use super::*;
    use nix::sys::socket::{ControlMessage, MsgFlags, SockaddrStorage, sendmsg};
    use std::os::fd::AsRawFd;

    pub fn send(
        udp: &OwnedFd,
        to: SocketAddr,
        slots: &[[u8; SLOT]],
        lens: &[usize],
        size: usize,
    ) -> Result<(), Errno> {
        let mut iovs = [IoSlice::new(&[]); GSO_MAX_SEGMENTS];
        for (k, (slot, len)) in slots.iter().zip(lens).enumerate() {
            iovs[k] = IoSlice::new(&slot[..*len]);
        }
        let segment = size as u16;
        let to = SockaddrStorage::from(to);
        // nix builds the control message in a small buffer per send (one
        // per run of datagrams, not per datagram).
        sendmsg(
            udp.as_raw_fd(),
            &iovs[..slots.len()],
            &[ControlMessage::UdpGsoSegments(&segment)],
            MsgFlags::empty(),
            Some(&to),
        )
        .map(|_| ())
        .map_err(|e| Errno::from_raw_os_error(e as i32))
    }
}

/// Each datagram on its own: one sendmmsg(2) on Linux (the headers on the
/// stack, nothing allocated), one sendto(2) each elsewhere. Returns how
/// many the kernel refused.
#[cfg(target_os = "linux")]
fn send_each(udp: &OwnedFd, to: SocketAddr, slots: &[[u8; SLOT]], lens: &[usize]) -> u64 {
    use rustix::net::{MMsgHdr, SendAncillaryBuffer, SocketAddrAny, sendmmsg};
    let count = slots.len();
    if count == 1 {
        return u64::from(
            rustix::net::sendto(udp, &slots[0][..lens[0]], SendFlags::empty(), &to).is_err(),
        );
    }
    let to = SocketAddrAny::from(to);
    let mut iovs = [[IoSlice::new(&[])]; BATCH];
    for (k, (slot, len)) in slots.iter().zip(lens).enumerate() {
        iovs[k] = [IoSlice::new(&slot[..*len])];
    }
    let mut controls: [SendAncillaryBuffer<'_, '_, '_>; BATCH] =
        std::array::from_fn(|_| SendAncillaryBuffer::default());
    let mut k = 0;
    let mut msgs = controls.each_mut().map(|control| {
        let m = MMsgHdr::new_with_addr(&to, &iovs[k], control);
        k += 1;
        m
    });
    let (mut sent, mut refused) = (0, 0);
    while sent < count {
        match sendmmsg(udp, &mut msgs[sent..count], SendFlags::empty()) {
            Ok(0) => {
                refused += (count - sent) as u64;
                break;
            }
            Ok(n) => sent += n,
            Err(Errno::INTR) => {}
            // The first datagram of the rest failed: count it, go on.
            Err(_) => {
                refused += 1;
                sent += 1;
            }
        }
    }
    refused
}

#[cfg(not(target_os = "linux"))]
fn send_each(udp: &OwnedFd, to: SocketAddr, slots: &[[u8; SLOT]], lens: &[usize]) -> u64 {
    let mut refused = 0;
    for (slot, len) in slots.iter().zip(lens) {
        if rustix::net::sendto(udp, &slot[..*len], SendFlags::empty(), &to).is_err() {
            refused += 1;
        }
    }
    refused
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    #[test]
    fn a_batch_arrives_whole_and_in_order() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let udp = OwnedFd::from(tx);
        let mut batch = SendBatch::new(false);
        for i in 0..BATCH {
            let slot = batch.next_slot();
            slot[..3].copy_from_slice(&[i as u8, 0xaa, 0x55]);
            batch.commit(3 + i);
        }
        assert!(batch.is_full());
        assert_eq!(batch.send(&udp, rx.local_addr().unwrap()).refused, 0);
        let mut buf = [0u8; SLOT];
        for i in 0..BATCH {
            let n = rx.recv(&mut buf).unwrap();
            assert_eq!((n, buf[0]), (3 + i, i as u8));
        }
        assert_eq!(
            batch.send(&udp, rx.local_addr().unwrap()),
            Sent::default(),
            "empty"
        );
    }

    #[test]
    fn the_slot_being_filled_survives_a_send() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let udp = OwnedFd::from(UdpSocket::bind("127.0.0.1:0").unwrap());
        let mut batch = SendBatch::new(false);
        batch.next_slot()[0] = 1;
        batch.commit(1);
        batch.next_slot()[0] = 2; // being filled, not committed
        assert_eq!(batch.send(&udp, rx.local_addr().unwrap()).refused, 0);
        assert_eq!(batch.next_slot()[0], 2);
        batch.commit(1);
        batch.send(&udp, rx.local_addr().unwrap());
        let mut buf = [0u8; 8];
        assert_eq!((rx.recv(&mut buf).unwrap(), buf[0]), (1, 1));
        assert_eq!((rx.recv(&mut buf).unwrap(), buf[0]), (1, 2));
    }

    #[test]
    fn runs_of_equal_sizes_leave_segmented_and_arrive_as_datagrams() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let udp = OwnedFd::from(UdpSocket::bind("127.0.0.1:0").unwrap());
        let mut batch = SendBatch::new(true);
        // Two runs (10 of 1400 then a short 900; 3 of 200), a lone 50,
        // then a longer one that starts a run of its own.
        let sizes = [[1400; 10].as_slice(), &[900, 200, 200, 200, 50, 1300]].concat();
        for (i, size) in sizes.iter().enumerate() {
            let slot = batch.next_slot();
            slot[..*size].fill(i as u8);
            batch.commit(*size);
        }
        let sent = batch.send(&udp, rx.local_addr().unwrap());
        assert_eq!(sent, Sent::default());
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
}
