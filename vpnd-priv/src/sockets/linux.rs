//! Linux's socket options: buffers past the system's limit for root, no
//! path-MTU discovery (the kernel fragments), UDP segmentation and receive
//! coalescing.

use std::os::fd::OwnedFd;

use nix::sys::socket::{setsockopt, sockopt as nix_opt};
use rustix::net::sockopt;

use super::UDP_BUFFER;

/// Asks for UDP segmentation (datagrams of one size to one peer leave in
/// one send) and receive coalescing (a peer's datagrams arrive joined);
/// returns which the kernel has: (GSO, GRO). The network process learns
/// them from the start message; it needs no setsockopt of its own.
pub fn udp_offloads(fd: &OwnedFd) -> (bool, bool) {
    // A segment size of 0 on the socket: GSO stays per send, where the
    // network process sets it; the call only probes.
    let gso = setsockopt(fd, nix_opt::UdpGsoSegment, &0).is_ok();
    let gro = setsockopt(fd, nix_opt::UdpGroSegment, &true).is_ok();
    (gso, gro)
}

/// Lets the kernel fragment an outer datagram larger than the path MTU
/// instead of refusing it (EMSGSIZE, a packet lost where nobody sees it).
/// With the default tun MTU no datagram exceeds a 1500-byte path; a larger
/// configured `mtu`, or a smaller path, still delivers every packet whole.
pub(super) fn allow_fragmentation(fd: &OwnedFd) {
    let _ = sockopt::set_ip_mtu_discover(fd, sockopt::Ipv4PathMtuDiscovery::DONT);
    let _ = sockopt::set_ipv6_mtu_discover(fd, sockopt::Ipv6PathMtuDiscovery::DONT);
}

/// Sets [`UDP_BUFFER`] each way, past the system's limit where root may
/// (SO_RCVBUFFORCE, SO_SNDBUFFORCE), within it otherwise; best effort: a
/// smaller buffer only loses bursts.
pub(super) fn enlarge_buffers(fd: &OwnedFd) {
    if sockopt::set_socket_recv_buffer_size_force(fd, UDP_BUFFER).is_err() {
        let _ = sockopt::set_socket_recv_buffer_size(fd, UDP_BUFFER);
    }
    if sockopt::set_socket_send_buffer_size_force(fd, UDP_BUFFER).is_err() {
        let _ = sockopt::set_socket_send_buffer_size(fd, UDP_BUFFER);
    }
}

#[cfg(test)]
mod tests {
    use super::super::udp;
    use super::*;

    #[test]
    fn root_gets_the_whole_buffer() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: only root may go past net.core.rmem_max");
            return;
        }
        // Linux reports twice what was set.
        let fd = udp(0, false).unwrap();
        let got = sockopt::socket_recv_buffer_size(&fd).unwrap();
        assert!(got >= UDP_BUFFER, "{got}");
    }
}
