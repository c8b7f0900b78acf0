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

/// The batch being filled.
pub struct SendBatch {
    slots: Box<[[u8; SLOT]; BATCH]>,
    lens: [usize; BATCH],
    count: usize,
}

impl std::fmt::Debug for SendBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SendBatch({} of {BATCH})", self.count)
    }
}

impl SendBatch {
    /// An empty batch.
    pub fn new() -> Self {
        SendBatch {
            slots: vec![[0u8; SLOT]; BATCH]
                .into_boxed_slice()
                .try_into()
                .unwrap_or_else(|_| unreachable!("BATCH slots")),
            lens: [0; BATCH],
            count: 0,
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
    /// keeping the slot being filled (it becomes the first); returns how
    /// many datagrams the kernel refused.
    pub fn send(&mut self, udp: &OwnedFd, to: SocketAddr) -> u64 {
        let count = self.count;
        let refused = self.send_committed(udp, to);
        if count > 0 && count < BATCH {
            self.slots.swap(0, count);
        }
        refused
    }

    fn send_committed(&mut self, udp: &OwnedFd, to: SocketAddr) -> u64 {
        let count = std::mem::take(&mut self.count);
        let datagrams = self.slots[..count]
            .iter()
            .zip(&self.lens[..count])
            .map(|(slot, len)| &slot[..*len]);
        send_all(udp, to, datagrams, count)
    }
}

impl Default for SendBatch {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(target_os = "linux")]
fn send_all<'a>(
    udp: &OwnedFd,
    to: SocketAddr,
    datagrams: impl Iterator<Item = &'a [u8]>,
    count: usize,
) -> u64 {
    use rustix::net::{MMsgHdr, SendAncillaryBuffer, SocketAddrAny, sendmmsg};
    if count == 0 {
        return 0;
    }
    let to = SocketAddrAny::from(to);
    let iovs: Vec<[IoSlice<'_>; 1]> = datagrams.map(|d| [IoSlice::new(d)]).collect();
    let mut controls: Vec<SendAncillaryBuffer<'_, '_, '_>> =
        (0..count).map(|_| SendAncillaryBuffer::default()).collect();
    let mut msgs: Vec<MMsgHdr<'_>> = iovs
        .iter()
        .zip(controls.iter_mut())
        .map(|(iov, control)| MMsgHdr::new_with_addr(&to, iov, control))
        .collect();
    let (mut sent, mut refused) = (0, 0);
    while sent < count {
        match sendmmsg(udp, &mut msgs[sent..], SendFlags::empty()) {
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
fn send_all<'a>(
    udp: &OwnedFd,
    to: SocketAddr,
    datagrams: impl Iterator<Item = &'a [u8]>,
    _count: usize,
) -> u64 {
    let mut refused = 0;
    for d in datagrams {
        if rustix::net::sendto(udp, d, SendFlags::empty(), &to).is_err() {
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
        let mut batch = SendBatch::new();
        for i in 0..BATCH {
            let slot = batch.next_slot();
            slot[..3].copy_from_slice(&[i as u8, 0xaa, 0x55]);
            batch.commit(3 + i);
        }
        assert!(batch.is_full());
        assert_eq!(batch.send(&udp, rx.local_addr().unwrap()), 0);
        let mut buf = [0u8; SLOT];
        for i in 0..BATCH {
            let n = rx.recv(&mut buf).unwrap();
            assert_eq!((n, buf[0]), (3 + i, i as u8));
        }
        assert_eq!(batch.send(&udp, rx.local_addr().unwrap()), 0, "empty");
    }

    #[test]
    fn the_slot_being_filled_survives_a_send() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let udp = OwnedFd::from(UdpSocket::bind("127.0.0.1:0").unwrap());
        let mut batch = SendBatch::new();
        batch.next_slot()[0] = 1;
        batch.commit(1);
        batch.next_slot()[0] = 2; // being filled, not committed
        assert_eq!(batch.send(&udp, rx.local_addr().unwrap()), 0);
        assert_eq!(batch.next_slot()[0], 2);
        batch.commit(1);
        batch.send(&udp, rx.local_addr().unwrap());
        let mut buf = [0u8; 8];
        assert_eq!((rx.recv(&mut buf).unwrap(), buf[0]), (1, 1));
        assert_eq!((rx.recv(&mut buf).unwrap(), buf[0]), (1, 2));
    }
}
