//! The UDP system calls on Linux: sendmmsg(2) for a batch, UDP_SEGMENT for
//! a run of equal-sized datagrams, recvmsg(2) with the UDP_GRO control
//! message for a receive the kernel joined.

use std::io::IoSlice;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{
    ControlMessage, ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg, sendmsg,
};
use rustix::io::Errno;
use rustix::net::{MMsgHdr, SendAncillaryBuffer, SendFlags, SocketAddrAny, send, sendmmsg, sendto};

use super::partial;
use super::recv::Arrival;
use super::send_batch::BATCH;

/// Room for the control message a joined receive brings (its datagrams'
/// size), allocated once.
#[derive(Debug)]
pub struct RecvControl(Vec<u8>);

impl RecvControl {
    pub fn new() -> RecvControl {
        RecvControl(nix::cmsg_space!(i32))
    }
}

/// One receive into `buf`. Without UDP_GRO on the socket no control
/// message comes, and the receive is one datagram.
pub fn recv(udp: &OwnedFd, buf: &mut [u8], control: &mut RecvControl) -> Result<Arrival, Errno> {
    let mut iov = [std::io::IoSliceMut::new(buf)];
    let msg = recvmsg::<SockaddrStorage>(
        udp.as_raw_fd(),
        &mut iov,
        Some(&mut control.0),
        MsgFlags::empty(),
    )
    .map_err(|e| Errno::from_raw_os_error(e as i32))?;
    let len = msg.bytes;
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
    Ok(Arrival { len, segment, from })
}

/// The kernel may cut one send into datagrams (UDP_SEGMENT, if the parent
/// found it on).
pub const SEGMENTATION: bool = true;

/// UDP_SEGMENT: one send, the kernel cuts it into datagrams of `segment`
/// bytes (the last may be shorter). `to` is `None` on a socket connected
/// to the destination (here and below).
pub fn send_segmented(
    udp: &OwnedFd,
    to: Option<SocketAddr>,
    datagrams: &[IoSlice<'_>],
    segment: u16,
) -> Result<(), Errno> {
    let to = to.map(SockaddrStorage::from);
    // nix builds the control message in a small buffer per send (one per
    // run of datagrams, not per datagram).
    sendmsg(
        udp.as_raw_fd(),
        datagrams,
        &[ControlMessage::UdpGsoSegments(&segment)],
        MsgFlags::empty(),
        to.as_ref(),
    )
    .map(|_| ())
    .map_err(|e| Errno::from_raw_os_error(e as i32))
}

/// Each of at most [`BATCH`] datagrams on its own, in one sendmmsg(2) (the
/// headers on the stack, nothing allocated). Returns how many the kernel
/// refused.
pub fn send_each(udp: &OwnedFd, to: Option<SocketAddr>, datagrams: &[IoSlice<'_>]) -> u64 {
    if let [datagram] = datagrams {
        let sent = match &to {
            Some(to) => sendto(udp, datagram, SendFlags::empty(), to),
            None => send(udp, datagram, SendFlags::empty()),
        };
        return u64::from(sent.is_err());
    }
    let count = datagrams.len().min(BATCH);
    let to = to.map(SocketAddrAny::from);
    let mut controls: [SendAncillaryBuffer<'_, '_, '_>; BATCH] =
        std::array::from_fn(|_| SendAncillaryBuffer::default());
    let mut k = 0;
    let mut msgs = controls.each_mut().map(|control| {
        let iov = datagrams.get(k).map_or(&[][..], std::slice::from_ref);
        k += 1;
        match &to {
            Some(to) => MMsgHdr::new_with_addr(to, iov, control),
            None => MMsgHdr::new(iov, control),
        }
    });
    partial::send_all(count, |from| {
        sendmmsg(udp, &mut msgs[from..count], SendFlags::empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::udp::recv::UdpReceiver;
    use crate::udp::send_batch::SendBatch;
    use crate::udp::sockets::UdpSockets;
    use std::net::UdpSocket;

    #[test]
    fn joined_datagrams_come_with_their_size() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let rx_fd = OwnedFd::from(rx.try_clone().unwrap());
        nix::sys::socket::setsockopt(&rx_fd, nix::sys::socket::sockopt::UdpGroSegment, &true)
            .unwrap();
        rx.set_nonblocking(true).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = rx.local_addr().unwrap();
        let mut batch = SendBatch::new(true);
        for i in 0..8u8 {
            batch.next_slot()[..1000].fill(i);
            batch.commit_data(if i == 7 { 500 } else { 1000 }, to);
        }
        let tx_fd = OwnedFd::from(tx.try_clone().unwrap());
        batch.send(&mut UdpSockets::new(
            tx_fd,
            vpnd_proto::ipc::UdpSends::Addressed,
        ));
        let mut r = UdpReceiver::new();
        let mut seen = Vec::new();
        while let Ok(got) = r.recv(&rx_fd) {
            let got = got.unwrap();
            assert_eq!(got.from, tx.local_addr().unwrap());
            seen.extend(got.map(|d| (d.len(), d[0])));
        }
        let want: Vec<(usize, u8)> = (0..8u8)
            .map(|i| (if i == 7 { 500 } else { 1000 }, i))
            .collect();
        assert_eq!(seen, want);
    }
}
