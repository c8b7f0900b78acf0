//! Receives in batches where the system has recvmmsg(2) and no receive
//! coalescing (FreeBSD, NetBSD): one call fills up to [`RECV_BATCH`]
//! slots, each with its own sender, and [`recv`] hands them out one at a
//! time, as the event loop takes them (a receive is one sender's
//! datagrams, recv.rs), copying each into the loop's buffer. Compiled on
//! Linux for its tests only: Linux's recvmmsg(2) has the same contract.
//!
//! NetBSD's recvmmsg is a system call (sys/kern/uipc_syscalls.c,
//! `sys_recvmmsg`): it receives until `vlen` or until a receive fails;
//! EAGAIN after one datagram or more is no error, and another error then
//! waits in `so_error` for the next call. FreeBSD's is the C library's
//! loop of recvmsg(2) (lib/libc/gen/recvmmsg.c), with the same result
//! here on a non-blocking socket, and no system call saved. Each header's
//! `msg_namelen` is read again per call (NetBSD copies each `mmsghdr` in),
//! so it is set before every call. A datagram longer than a slot arrives
//! cut to the slot (MSG_TRUNC) and one byte over the protocol's largest,
//! so the session counts it as oversized, as it does elsewhere.

use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::libc;
use nix::sys::socket::{SockaddrLike, SockaddrStorage};
use rustix::io::Errno;

use super::recv::Arrival;
use super::send_batch::SLOT;

/// Datagrams one call receives at most.
pub const RECV_BATCH: usize = 32;

/// The slots of the last call, and how far they have been handed out.
pub struct RecvControl {
    slots: Box<[[u8; SLOT]; RECV_BATCH]>,
    names: Box<[libc::sockaddr_storage; RECV_BATCH]>,
    /// Each received slot's length and sender's address length.
    got: [(usize, libc::socklen_t); RECV_BATCH],
    count: usize,
    next: usize,
}

impl std::fmt::Debug for RecvControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RecvControl({} of {} handed out)", self.next, self.count)
    }
}

impl RecvControl {
    pub fn new() -> RecvControl {
        RecvControl {
            slots: vec![[0u8; SLOT]; RECV_BATCH]
                .into_boxed_slice()
                .try_into()
                .unwrap_or_else(|_| unreachable!("RECV_BATCH slots")),
            names: Box::new([zeroed_storage(); RECV_BATCH]),
            got: [(0, 0); RECV_BATCH],
            count: 0,
            next: 0,
        }
    }

    /// One recvmmsg(2) into every slot.
    #[allow(unsafe_code)]
    fn fill(&mut self, udp: &OwnedFd) -> Result<(), Errno> {
        let mut iovs: [libc::iovec; RECV_BATCH] = std::array::from_fn(|_| libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        });
        for (iov, slot) in iovs.iter_mut().zip(self.slots.iter_mut()) {
            iov.iov_base = slot.as_mut_ptr().cast();
            iov.iov_len = SLOT;
        }
        let mut msgs: [libc::mmsghdr; RECV_BATCH] = std::array::from_fn(|_| libc::mmsghdr {
            msg_hdr: empty_msghdr(),
            msg_len: 0,
        });
        for ((msg, iov), name) in msgs.iter_mut().zip(&mut iovs).zip(self.names.iter_mut()) {
            msg.msg_hdr.msg_name = std::ptr::from_mut(name).cast();
            msg.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            msg.msg_hdr.msg_iov = iov;
            msg.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: every header points at one slot of SLOT bytes and one
        // sockaddr_storage, both owned by `self` and borrowed for the
        // call; the kernel writes within them and the headers.
        let n = unsafe {
            libc::recvmmsg(
                udp.as_raw_fd(),
                msgs.as_mut_ptr(),
                RECV_BATCH as _,
                0,
                std::ptr::null_mut(),
            )
        };
        let n = nix::errno::Errno::result(n).map_err(|e| Errno::from_raw_os_error(e as i32))?;
        let n = (n as usize).min(RECV_BATCH);
        for (got, msg) in self.got.iter_mut().zip(&msgs[..n]) {
            *got = (msg.msg_len as usize, msg.msg_hdr.msg_namelen);
        }
        self.count = n;
        self.next = 0;
        if n == 0 {
            return Err(Errno::AGAIN);
        }
        Ok(())
    }

    /// The sender of slot `k`.
    #[allow(unsafe_code)]
    fn sender(&self, k: usize) -> Option<SocketAddr> {
        let (_, namelen) = self.got[k];
        // SAFETY: the name is a sockaddr_storage the kernel filled with
        // `namelen` bytes (at most its size, which from_raw checks).
        let name = unsafe {
            SockaddrStorage::from_raw(std::ptr::from_ref(&self.names[k]).cast(), Some(namelen))
        }?;
        if let Some(v6) = name.as_sockaddr_in6() {
            Some(SocketAddr::V6((*v6).into()))
        } else {
            name.as_sockaddr_in().map(|v4| SocketAddr::V4((*v4).into()))
        }
    }
}

/// An all-zero `sockaddr_storage`.
#[allow(unsafe_code)]
fn zeroed_storage() -> libc::sockaddr_storage {
    // SAFETY: a C structure of integers and byte arrays: zero is valid.
    unsafe { std::mem::zeroed() }
}

/// An empty `msghdr` (its padding differs by platform).
#[allow(unsafe_code)]
fn empty_msghdr() -> libc::msghdr {
    // SAFETY: pointers may be null and lengths zero: zero is valid.
    unsafe { std::mem::zeroed() }
}

/// The next datagram into `buf`: from the last batch, or a new one.
pub fn recv(udp: &OwnedFd, buf: &mut [u8], control: &mut RecvControl) -> Result<Arrival, Errno> {
    if control.next == control.count {
        control.fill(udp)?;
    }
    let k = control.next;
    control.next += 1;
    let len = control.got[k].0.min(SLOT).min(buf.len());
    buf[..len].copy_from_slice(&control.slots[k][..len]);
    Ok(Arrival {
        len,
        segment: len,
        from: control.sender(k),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    #[test]
    fn a_batch_is_handed_out_one_datagram_at_a_time_each_with_its_sender() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_nonblocking(true).unwrap();
        let rx_fd = OwnedFd::from(rx.try_clone().unwrap());
        let to = rx.local_addr().unwrap();
        let (a, b) = (
            UdpSocket::bind("127.0.0.1:0").unwrap(),
            UdpSocket::bind("127.0.0.1:0").unwrap(),
        );
        // More than one batch, from two senders in turn, and one longer
        // than a slot.
        let count = RECV_BATCH + 7;
        for i in 0..count {
            let from = if i % 2 == 0 { &a } else { &b };
            from.send_to(&vec![i as u8; 10 + i], to).unwrap();
        }
        a.send_to(&vec![0xee; SLOT + 100], to).unwrap();
        let mut control = RecvControl::new();
        let mut buf = vec![0u8; 65_536];
        for i in 0..count {
            let got = recv(&rx_fd, &mut buf, &mut control).unwrap();
            let from = if i % 2 == 0 { &a } else { &b };
            assert_eq!(got.len, 10 + i, "datagram {i}");
            assert_eq!(buf[got.len - 1], i as u8);
            assert_eq!(got.from, Some(from.local_addr().unwrap()));
        }
        let cut = recv(&rx_fd, &mut buf, &mut control).unwrap();
        assert_eq!(cut.len, SLOT, "cut to one byte over the largest");
        assert_eq!(
            recv(&rx_fd, &mut buf, &mut control).err(),
            Some(Errno::AGAIN)
        );
    }
}
