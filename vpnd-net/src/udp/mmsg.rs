//! The UDP system calls on FreeBSD and NetBSD: a batch leaves in one
//! sendmmsg(2), receives come in batches of recvmmsg(2) (recv_batch.rs);
//! the rest is that of the systems without them
//! ([`portable`](super::portable)).
//!
//! NetBSD's sendmmsg is a system call (sys/kern/uipc_syscalls.c,
//! `sys_sendmmsg`); FreeBSD's is the C library's loop of sendmsg(2)
//! (lib/libc/gen/sendmmsg.c), which stops at the first error and returns
//! how many left, or the error if none did: the same contract, one library
//! call per batch. The `libc` crate declares both (src/unix/bsd/
//! freebsdlike/freebsd/mod.rs, src/unix/bsd/netbsdlike/mod.rs: `vlen` a
//! `size_t` on FreeBSD and an `unsigned int` on NetBSD, hence the casts);
//! rustix has sendmmsg on Linux only (rustix 1.1.6, src/net/send_recv/
//! msg.rs: `#[cfg(target_os = "linux")]`), and nix's takes its headers
//! from a `MultiHeaders` that `preallocate` builds on the heap (nix 0.31.4,
//! src/sys/socket/mod.rs), where the headers here stay on the stack.

use std::io::IoSlice;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::ptr;

use nix::libc;
use nix::sys::socket::{SockaddrLike, SockaddrStorage};
use rustix::io::Errno;

pub use super::portable::{SEGMENTATION, send_segmented};
pub use super::recv_batch::{RecvControl, recv};
use super::send_batch::BATCH;
use super::{partial, portable};

/// Each of at most [`BATCH`] datagrams on its own, in one sendmmsg(2) (the
/// headers on the stack, nothing allocated). `to` is `None` on a socket
/// connected to the destination: the headers name none, as capability
/// mode requires (sandbox/freebsd.rs). Returns how many the kernel refused.
#[allow(unsafe_code)]
pub fn send_each(udp: &OwnedFd, to: Option<SocketAddr>, datagrams: &[IoSlice<'_>]) -> u64 {
    if datagrams.len() < 2 {
        return portable::send_each(udp, to, datagrams);
    }
    let count = datagrams.len().min(BATCH);
    let to = to.map(SockaddrStorage::from);
    let mut msgs: [libc::mmsghdr; BATCH] = std::array::from_fn(|k| {
        let mut hdr = libc::msghdr::default();
        if let Some(datagram) = datagrams.get(k) {
            if let Some(to) = &to {
                hdr.msg_name = to.as_ptr().cast_mut().cast();
                hdr.msg_namelen = to.len();
            }
            // IoSlice is ABI-compatible with iovec on Unix (std's promise).
            hdr.msg_iov = ptr::from_ref(datagram).cast_mut().cast();
            hdr.msg_iovlen = 1;
        }
        libc::mmsghdr {
            msg_hdr: hdr,
            msg_len: 0,
        }
    });
    partial::send_all(count, |from| {
        let rest = &mut msgs[from..count];
        // SAFETY: each of the headers names `to` (or nothing) and one datagram, both
        // borrowed for this call; the kernel reads them and writes only the
        // headers' `msg_len`, within `rest`.
        let sent =
            unsafe { libc::sendmmsg(udp.as_raw_fd(), rest.as_mut_ptr(), rest.len() as _, 0) };
        nix::errno::Errno::result(sent)
            .map(|n| n as usize)
            .map_err(|e| Errno::from_raw_os_error(e as i32))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    #[test]
    fn a_batch_leaves_in_order_to_its_destination() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let payloads: Vec<Vec<u8>> = (1..=5u8).map(|i| vec![i; 100 * usize::from(i)]).collect();
        let datagrams: Vec<IoSlice<'_>> = payloads.iter().map(|p| IoSlice::new(p)).collect();
        let refused = send_each(
            &OwnedFd::from(tx.try_clone().unwrap()),
            Some(rx.local_addr().unwrap()),
            &datagrams,
        );
        assert_eq!(refused, 0);
        let mut buf = [0u8; 1024];
        for want in &payloads {
            let (n, from) = rx.recv_from(&mut buf).unwrap();
            assert_eq!((&buf[..n], from), (&want[..], tx.local_addr().unwrap()));
        }
    }
}
