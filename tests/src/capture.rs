//! A packet capture inside a namespace (an `AF_PACKET` socket in a thread
//! that entered it), keeping the nonce of every vpnd datagram a given
//! address sends: the tests check that none is ever sent twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use rustix::net::{AddressFamily, RecvFlags, SocketType, eth, recv, socket};

/// A running capture.
#[derive(Debug)]
pub struct NonceCapture {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Vec<[u8; 24]>>>,
}

impl NonceCapture {
    /// Captures, in namespace `ns`, the nonces of UDP datagrams from `src`
    /// (IPv4) to port `port`.
    pub fn start(ns: &str, src: std::net::Ipv4Addr, port: u16) -> NonceCapture {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let ns = ns.to_owned();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            crate::netns::Netns::enter_by_name(&ns);
            // ETH_P_ALL: the kernel shows outgoing packets only to such
            // taps. SOCK_DGRAM strips the link header.
            let fd = socket(AddressFamily::PACKET, SocketType::DGRAM, Some(eth::ALL)).unwrap();
            rustix::net::sockopt::set_socket_timeout(
                &fd,
                rustix::net::sockopt::Timeout::Recv,
                Some(Duration::from_millis(100)),
            )
            .unwrap();
            ready_tx.send(()).unwrap();
            let mut nonces = Vec::new();
            let mut buf = vec![0u8; 65536];
            while !flag.load(Ordering::Relaxed) {
                let Ok((n, _)) = recv(&fd, &mut buf[..], RecvFlags::empty()) else {
                    continue;
                };
                if let Some(nonce) = vpnd_nonce(&buf[..n], src, port) {
                    nonces.push(nonce);
                }
            }
            nonces
        });
        ready_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        NonceCapture {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops and returns the nonces in the order seen.
    pub fn finish(mut self) -> Vec<[u8; 24]> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for NonceCapture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The first 24 bytes of the UDP payload of an IPv4 packet from `src` to
/// `port`, if it is one and at least a vpnd header long.
fn vpnd_nonce(ip: &[u8], src: std::net::Ipv4Addr, port: u16) -> Option<[u8; 24]> {
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
    udp.get(8..32)?.try_into().ok()
}
