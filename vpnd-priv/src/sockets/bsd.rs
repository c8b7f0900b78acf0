//! The BSDs' socket options: buffers within the system's limit
//! (`kern.ipc.maxsockbuf`); no UDP offloads to ask for; the kernel
//! fragments what is too large by default.

use std::os::fd::OwnedFd;

use rustix::net::sockopt;

use super::UDP_BUFFER;

/// No UDP segmentation or receive coalescing here: (GSO, GRO) are off.
/// (sys/netinet/udp.h on FreeBSD, NetBSD and DragonFly defines neither
/// UDP_SEGMENT nor UDP_GRO.)
pub fn udp_offloads(_fd: &OwnedFd) -> (bool, bool) {
    (false, false)
}

/// Nothing to do: path-MTU discovery does not refuse a large UDP datagram
/// here, the kernel fragments it. FreeBSD: udp_output() in
/// sys/netinet/udp_usrreq.c sets IP_DF only for a socket with IP_DONTFRAG
/// (INP_DONTFRAG; ip(4)), and ip6_output() in sys/netinet6/ip6_output.c
/// fragments to the path MTU unless IPV6_DONTFRAG is set ("1-b: fragment
/// if tlen > path mtu").
pub(super) fn allow_fragmentation(_fd: &OwnedFd) {}

/// Asks for [`UDP_BUFFER`] each way, then for half as much while the
/// system refuses, down to a quarter megabyte; the system's limit binds
/// root too (sbreserve_locked() asks for no privilege); best effort: a
/// smaller buffer only loses bursts. FreeBSD: sbsetopt() in
/// sys/kern/uipc_sockbuf.c returns ENOBUFS when sbreserve_locked() finds
/// `cc > sb_max_adj` (`kern.ipc.maxsockbuf`, default SB_MAX, 2 MB, in
/// sys/sys/sockbuf.h, less the mbuf overhead), and the buffer keeps its
/// size; NetBSD's sbreserve() (sys/kern/uipc_socket2.c) refuses the same
/// way. DragonFly's ssb_reserve() (sys/kern/uipc_socket2.c) clamps a user
/// socket's request to the limit instead, so the first request takes.
pub(super) fn enlarge_buffers(fd: &OwnedFd) {
    let sizes =
        || std::iter::successors(Some(UDP_BUFFER), |s| Some(s / 2)).take_while(|s| *s >= 256 << 10);
    let _ = sizes().find(|&s| sockopt::set_socket_recv_buffer_size(fd, s).is_ok());
    let _ = sizes().find(|&s| sockopt::set_socket_send_buffer_size(fd, s).is_ok());
}
