//! Receiving datagrams, joined by the kernel where it can (UDP_GRO): one
//! receive then hands over up to 64 KB of a peer's equal-sized datagrams,
//! with the size in a control message. The buffer is allocated once.

use std::net::SocketAddr;
use std::os::fd::OwnedFd;

use rustix::io::Errno;

use crate::addr;

/// Room for the largest joined receive (an IP packet's limit).
const BUFFER: usize = 65_536;

/// What one receive brought.
#[derive(Debug, Clone, Copy)]
pub struct Received {
    /// Bytes at the start of the buffer.
    pub len: usize,
    /// Bytes per datagram; the last may be shorter.
    pub segment: usize,
    /// The sender, canonical (IPv4-mapped addresses as IPv4).
    pub from: SocketAddr,
}

/// The receive buffer and its control-message room.
pub struct UdpReceiver {
    buf: Box<[u8]>,
    #[cfg(target_os = "linux")]
    control: Vec<u8>,
    gro: bool,
}

impl std::fmt::Debug for UdpReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "UdpReceiver(gro {})", self.gro)
    }
}

impl UdpReceiver {
    /// With `gro`, the socket has UDP_GRO on (the parent set it).
    pub fn new(gro: bool) -> UdpReceiver {
        UdpReceiver {
            buf: vec![0u8; BUFFER].into_boxed_slice(),
            #[cfg(target_os = "linux")]
            control: nix::cmsg_space!(i32),
            gro: gro && cfg!(target_os = "linux"),
        }
    }

    /// The received bytes (valid up to [`Received::len`]).
    pub fn buf_mut(&mut self) -> &mut [u8] {
        &mut self.buf
    }

    /// One receive; `Ok(None)` for one without a usable sender address.
    pub fn recv(&mut self, udp: &OwnedFd) -> Result<Option<Received>, Errno> {
        if self.gro {
            return self.recv_joined(udp);
        }
        let (_, n, from) =
            rustix::net::recvfrom(udp, &mut self.buf[..], rustix::net::RecvFlags::empty())?;
        let Some(from) = from.and_then(|a| SocketAddr::try_from(a).ok()) else {
            return Ok(None);
        };
        let len = n.min(self.buf.len());
        Ok(Some(Received {
            len,
            segment: len.max(1),
            from: addr::canonical(from),
        }))
    }

    #[cfg(target_os = "linux")]
    fn recv_joined(&mut self, udp: &OwnedFd) -> Result<Option<Received>, Errno> {
        use nix::sys::socket::{ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg};
        use std::io::IoSliceMut;
        use std::os::fd::AsRawFd;
        let mut iov = [IoSliceMut::new(&mut self.buf)];
        let msg = recvmsg::<SockaddrStorage>(
            udp.as_raw_fd(),
            &mut iov,
            Some(&mut self.control),
            MsgFlags::empty(),
        )
        .map_err(|e| Errno::from_raw_os_error(e as i32))?;
        let len = msg.bytes.min(BUFFER);
        let mut segment = len;
        if let Ok(cmsgs) = msg.cmsgs() {
            for c in cmsgs {
                if let ControlMessageOwned::UdpGroSegments(size) = c
                    && size > 0
                {
                    segment = size as usize;
                }
            }
        }
        let from = msg.address.and_then(|a: SockaddrStorage| {
            if let Some(v6) = a.as_sockaddr_in6() {
                Some(SocketAddr::V6((*v6).into()))
            } else {
                a.as_sockaddr_in().map(|v4| SocketAddr::V4((*v4).into()))
            }
        });
        Ok(from.map(|from| Received {
            len,
            segment: segment.max(1),
            from: addr::canonical(from),
        }))
    }

    #[cfg(not(target_os = "linux"))]
    fn recv_joined(&mut self, _udp: &OwnedFd) -> Result<Option<Received>, Errno> {
        Ok(None)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    #[test]
    fn joined_datagrams_come_with_their_size() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let rx_fd = OwnedFd::from(rx.try_clone().unwrap());
        nix::sys::socket::setsockopt(&rx_fd, nix::sys::socket::sockopt::UdpGroSegment, &true)
            .unwrap();
        rx.set_nonblocking(true).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut batch = crate::send_batch::SendBatch::new(true);
        for i in 0..8u8 {
            let slot = batch.next_slot();
            slot[..1000].fill(i);
            batch.commit(if i == 7 { 500 } else { 1000 });
        }
        batch.send(
            &OwnedFd::from(tx.try_clone().unwrap()),
            rx.local_addr().unwrap(),
        );
        let mut r = UdpReceiver::new(true);
        let mut seen = Vec::new();
        while let Ok(got) = r.recv(&rx_fd) {
            let got = got.unwrap();
            assert_eq!(got.from, tx.local_addr().unwrap());
            for start in (0..got.len).step_by(got.segment) {
                let end = (start + got.segment).min(got.len);
                seen.push((end - start, r.buf_mut()[start]));
            }
        }
        let want: Vec<(usize, u8)> = (0..8u8)
            .map(|i| (if i == 7 { 500 } else { 1000 }, i))
            .collect();
        assert_eq!(seen, want);
    }
}
