//! The BSDs' socket options: buffers within the system's limit
//! (`kern.ipc.maxsockbuf`); no UDP offloads to ask for; the kernel
//! fragments what is too large by default.

use std::os::fd::OwnedFd;

use rustix::net::sockopt;

use super::UDP_BUFFER;

/// No UDP segmentation or receive coalescing here: (GSO, GRO) are off.
pub fn udp_offloads(_fd: &OwnedFd) -> (bool, bool) {
    (false, false)
}

/// Nothing to do: path-MTU discovery does not refuse a large UDP datagram
/// here, the kernel fragments it.
pub(super) fn allow_fragmentation(_fd: &OwnedFd) {}

/// Sets [`UDP_BUFFER`] each way within the system's limit (root has no
/// way past it here); best effort: a smaller buffer only loses bursts.
pub(super) fn enlarge_buffers(fd: &OwnedFd) {
    let _ = sockopt::set_socket_recv_buffer_size(fd, UDP_BUFFER);
    let _ = sockopt::set_socket_send_buffer_size(fd, UDP_BUFFER);
}
