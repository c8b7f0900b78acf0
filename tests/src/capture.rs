//! A packet capture inside a namespace (an `AF_PACKET` socket in a thread
//! that entered it), keeping the UDP payload of every datagram a given
//! address sends to a port: the tests check that no nonce is ever sent
//! twice, and replay what they caught.
//!
//! vpnd sends a run of equal-sized datagrams as one UDP_SEGMENT packet,
//! and a veth passes such a packet on whole: the socket asks for the
//! virtio-net header (PACKET_VNET_HDR), whose segment size cuts the
//! payload back into the datagrams the peer receives.
// setsockopt(PACKET_VNET_HDR) has no safe wrapper; it is the only unsafe
// call here.
#![allow(unsafe_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use std::os::fd::{AsRawFd, OwnedFd};

use rustix::net::{AddressFamily, RecvFlags, SocketType, eth, recv, socket};
use vpnd_offload::vnet;

/// A running capture.
#[derive(Debug)]
pub struct Capture {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Vec<Vec<u8>>>>,
}

impl Capture {
    /// Captures, in namespace `ns`, the payloads of UDP datagrams from
    /// `src` (IPv4) to port `port`.
    pub fn start(ns: &str, src: std::net::Ipv4Addr, port: u16) -> Capture {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = crate::netns::spawn_in(ns, move |ready| {
            // ETH_P_ALL: the kernel shows outgoing packets only to such
            // taps. SOCK_RAW (PACKET_VNET_HDR wants it) keeps the link
            // header: Ethernet on the veths, none on a tun.
            let fd = socket(AddressFamily::PACKET, SocketType::RAW, Some(eth::ALL)).unwrap();
            want_vnet_header(&fd);
            rustix::net::sockopt::set_socket_timeout(
                &fd,
                rustix::net::sockopt::Timeout::Recv,
                Some(Duration::from_millis(100)),
            )
            .unwrap();
            ready();
            let mut payloads = Vec::new();
            let mut buf = vec![0u8; 65536];
            while !flag.load(Ordering::Relaxed) {
                let Ok((n, _)) = recv(&fd, &mut buf[..], RecvFlags::empty()) else {
                    continue;
                };
                let Some(header) = vnet::Header::parse(&buf[..n]) else {
                    continue;
                };
                // IPv4 over Ethernet only: the outer datagrams cross veths.
                if buf.get(vnet::LEN + 12..vnet::LEN + 14) != Some(&[0x08, 0x00][..]) {
                    continue;
                }
                if let Some(p) = udp_payload(&buf[vnet::LEN + 14..n], src, port) {
                    let segment = match header.gso_type & !vnet::GSO_ECN {
                        vnet::GSO_UDP_L4 if header.gso_size > 0 => usize::from(header.gso_size),
                        _ => p.len().max(1),
                    };
                    payloads.extend(p.chunks(segment).map(<[u8]>::to_vec));
                }
            }
            payloads
        });
        Capture {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops and returns the payloads in the order seen.
    pub fn finish(mut self) -> Vec<Vec<u8>> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }

    /// Stops and returns the nonces (the first 24 bytes) of the payloads
    /// long enough to be vpnd datagrams.
    pub fn finish_nonces(self) -> Vec<[u8; 24]> {
        self.finish()
            .iter()
            .filter_map(|p| p.get(..24)?.try_into().ok())
            .collect()
    }
}

/// Asks for the virtio-net header before every packet.
fn want_vnet_header(fd: &OwnedFd) {
    let one: libc::c_int = 1;
    // SAFETY: setsockopt reads a c_int from a pointer valid for the call,
    // with its size; the descriptor is a packet socket we own.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_VNET_HDR,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "PACKET_VNET_HDR: {}", std::io::Error::last_os_error());
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The UDP payload of an IPv4 packet from `src` to `port`, if it is one.
fn udp_payload(ip: &[u8], src: std::net::Ipv4Addr, port: u16) -> Option<&[u8]> {
    let version_ihl = *ip.first()?;
    if version_ihl >> 4 != 4 || *ip.get(9)? != 17 {
        return None;
    }
    if ip.get(12..16)? != src.octets() {
        return None;
    }
    let udp = ip.get(usize::from(version_ihl & 0xf) * 4..)?;
    if u16::from_be_bytes([*udp.get(2)?, *udp.get(3)?]) != port {
        return None;
    }
    udp.get(8..)
}
