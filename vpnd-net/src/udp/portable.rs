//! The UDP system calls where the kernel has neither sendmmsg nor UDP
//! segmentation and joining in the form Linux has them: one sendto(2) per
//! datagram, one recvfrom(2) per receive. DragonFly is such a system (its
//! sys/sys/socket.h declares no sendmmsg or recvmmsg, nor does the `libc`
//! crate for it); FreeBSD and NetBSD send and receive in batches (mmsg.rs,
//! recv_batch.rs) and take the rest from here.

use std::io::IoSlice;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;

use rustix::io::Errno;
use rustix::net::{RecvFlags, SendFlags, recvfrom, send, sendto};

use super::recv::Arrival;

/// A receive brings no control message here. (FreeBSD and NetBSD receive
/// by recv_batch.rs and send from here only.)
#[derive(Debug)]
#[cfg_attr(any(target_os = "freebsd", target_os = "netbsd"), allow(dead_code))]
pub struct RecvControl;

#[cfg_attr(any(target_os = "freebsd", target_os = "netbsd"), allow(dead_code))]
impl RecvControl {
    pub fn new() -> RecvControl {
        RecvControl
    }
}

/// One receive into `buf`: one datagram.
#[cfg_attr(any(target_os = "freebsd", target_os = "netbsd"), allow(dead_code))]
pub fn recv(udp: &OwnedFd, buf: &mut [u8], _: &mut RecvControl) -> Result<Arrival, Errno> {
    let (_, len, from) = recvfrom(udp, buf, RecvFlags::empty())?;
    Ok(Arrival {
        len,
        segment: len,
        from: from.and_then(|a| SocketAddr::try_from(a).ok()),
    })
}

/// The kernel cannot cut one send into datagrams here: batches leave one
/// datagram at a time whatever the parent asked for. (sys/netinet/udp.h
/// on FreeBSD, NetBSD and DragonFly defines neither UDP_SEGMENT nor
/// UDP_GRO.)
pub const SEGMENTATION: bool = false;

/// No UDP_SEGMENT here (never called, see [`SEGMENTATION`]): refused as a
/// Linux device without it refuses it.
pub fn send_segmented(
    _: &OwnedFd,
    _: Option<SocketAddr>,
    _: &[IoSlice<'_>],
    _: u16,
) -> Result<(), Errno> {
    Err(Errno::OPNOTSUPP)
}

/// Each datagram on its own, one sendto(2) each (send(2) on a socket
/// connected to the destination, `to` `None`). Returns how many the kernel
/// refused.
pub fn send_each(udp: &OwnedFd, to: Option<SocketAddr>, datagrams: &[IoSlice<'_>]) -> u64 {
    let refused = datagrams
        .iter()
        .filter(|datagram| {
            match &to {
                Some(to) => sendto(udp, datagram, SendFlags::empty(), to),
                None => send(udp, datagram, SendFlags::empty()),
            }
            .is_err()
        })
        .count();
    refused as u64
}
