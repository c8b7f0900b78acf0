//! Receiving datagrams, joined by the kernel where it can (UDP_GRO): one
//! receive then hands over up to 64 KB of a peer's equal-sized datagrams,
//! with their size in a control message, and [`Datagrams`] cuts them
//! apart again. The buffer is allocated once.

use std::net::SocketAddr;
use std::os::fd::OwnedFd;

use rustix::io::Errno;

use super::os;
use crate::addr;

/// Room for the largest joined receive (an IP packet's limit).
const BUFFER: usize = 65_536;

/// What one receive brought, as the platform's system call reports it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Arrival {
    /// Bytes at the start of the buffer.
    pub len: usize,
    /// Bytes per datagram the kernel joined into them (the last may be
    /// shorter); `len` when it joined none.
    pub segment: usize,
    /// The sender; `None` when the kernel named no IP address.
    pub from: Option<SocketAddr>,
}

/// The receive buffer and its control-message room.
pub struct UdpReceiver {
    buf: Box<[u8]>,
    control: os::RecvControl,
}

impl std::fmt::Debug for UdpReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "UdpReceiver({} bytes)", self.buf.len())
    }
}

impl Default for UdpReceiver {
    fn default() -> Self {
        UdpReceiver::new()
    }
}

impl UdpReceiver {
    /// A receiver for a socket with UDP_GRO on or off (the parent decides;
    /// a receive without the control message holds one datagram).
    pub fn new() -> UdpReceiver {
        UdpReceiver {
            buf: vec![0u8; BUFFER].into_boxed_slice(),
            control: os::RecvControl::new(),
        }
    }

    /// One receive: the datagrams it brought; `Ok(None)` for one without a
    /// usable sender address.
    pub fn recv(&mut self, udp: &OwnedFd) -> Result<Option<Datagrams<'_>>, Errno> {
        let arrival = os::recv(udp, &mut self.buf, &mut self.control)?;
        let Some(from) = arrival.from else {
            return Ok(None);
        };
        let len = arrival.len.min(self.buf.len());
        Ok(Some(Datagrams {
            from: addr::canonical(from),
            rest: Some(&mut self.buf[..len]),
            segment: arrival.segment.max(1),
        }))
    }
}

/// The datagrams of one receive, in the order the peer sent them, each a
/// slice of the receive buffer to open in place. An empty receive yields
/// one empty datagram (the session counts it as a drop).
#[derive(Debug)]
pub struct Datagrams<'a> {
    /// The sender of all of them, canonical (IPv4-mapped addresses as
    /// IPv4).
    pub from: SocketAddr,
    /// What is not yet handed out (`None` once all were).
    rest: Option<&'a mut [u8]>,
    /// Bytes per datagram; the last may be shorter.
    segment: usize,
}

impl<'a> Iterator for Datagrams<'a> {
    type Item = &'a mut [u8];

    fn next(&mut self) -> Option<&'a mut [u8]> {
        let rest = self.rest.take()?;
        if rest.len() <= self.segment {
            return Some(rest);
        }
        let (datagram, tail) = rest.split_at_mut(self.segment);
        self.rest = Some(tail);
        Some(datagram)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    fn cut(len: usize, segment: usize) -> Vec<usize> {
        let mut buf = vec![0u8; len];
        let datagrams = Datagrams {
            from: "198.18.0.2:4706".parse().unwrap(),
            rest: Some(&mut buf[..]),
            segment,
        };
        datagrams.map(|d| d.len()).collect()
    }

    #[test]
    fn a_joined_receive_is_cut_into_its_datagrams() {
        assert_eq!(cut(3500, 1000), [1000, 1000, 1000, 500]);
        assert_eq!(cut(3000, 1000), [1000, 1000, 1000]);
        assert_eq!(cut(700, 700), [700]);
        assert_eq!(cut(0, 1), [0], "an empty datagram is handed over");
    }

    #[test]
    fn a_plain_receive_is_one_datagram_from_its_sender() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_nonblocking(true).unwrap();
        let rx_fd = OwnedFd::from(rx.try_clone().unwrap());
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.send_to(&[7; 300], rx.local_addr().unwrap()).unwrap();
        let mut r = UdpReceiver::new();
        let got = r.recv(&rx_fd).unwrap().unwrap();
        assert_eq!(got.from, tx.local_addr().unwrap());
        let sizes: Vec<(usize, u8)> = got.map(|d| (d.len(), d[0])).collect();
        assert_eq!(sizes, [(300, 7)]);
        assert_eq!(r.recv(&rx_fd).err(), Some(Errno::AGAIN));
    }
}
