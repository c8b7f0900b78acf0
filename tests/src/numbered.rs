//! Numbered UDP datagrams through the tunnel: each carries a unique number,
//! so the receiver can tell whether any was delivered twice (a replay that
//! got through) or not at all.

use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::netns::{self, Netns};

/// The tag in front of each number.
const TAG: &[u8] = b"vpnd-numbered:";

/// A receiver in a namespace, counting how often each number arrived.
#[derive(Debug)]
pub struct Receiver {
    seen: Arc<Mutex<BTreeMap<u64, u32>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Receiver {
    /// Listens on `addr:port` inside `ns`.
    pub fn start(ns: &Netns, addr: &str, port: u16) -> Receiver {
        let seen = Arc::new(Mutex::new(BTreeMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let at: SocketAddr = format!("{addr}:{port}").parse().unwrap();
        let (s2, stop2) = (seen.clone(), stop.clone());
        let thread = netns::spawn_in(&ns.name, move |ready| {
            let sock = UdpSocket::bind(at).unwrap();
            // Room for bursts: a datagram lost here would look like one
            // vpnd never delivered.
            let _ = rustix::net::sockopt::set_socket_recv_buffer_size_force(&sock, 4 << 20);
            sock.set_read_timeout(Some(Duration::from_millis(50)))
                .unwrap();
            ready();
            let mut buf = [0u8; 2048];
            while !stop2.load(Ordering::Relaxed) {
                let Ok(n) = sock.recv(&mut buf) else {
                    continue;
                };
                let Some(num) = buf[..n]
                    .strip_prefix(TAG)
                    .and_then(|rest| rest.get(..8))
                    .map(|b| u64::from_be_bytes(b.try_into().unwrap()))
                else {
                    continue;
                };
                *s2.lock().unwrap().entry(num).or_default() += 1;
            }
        });
        Receiver {
            seen,
            stop,
            thread: Some(thread),
        }
    }

    /// How many distinct numbers arrived.
    pub fn distinct(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    /// The numbers that arrived more than once, with their counts.
    pub fn repeated(&self) -> Vec<(u64, u32)> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(k, n)| (*k, *n))
            .collect()
    }

    /// Datagrams received in all.
    pub fn total(&self) -> u64 {
        self.seen
            .lock()
            .unwrap()
            .values()
            .map(|n| u64::from(*n))
            .sum()
    }

    /// Waits until nothing more arrives for 300 ms (what is in flight
    /// has landed), up to `timeout`.
    pub fn settle(&self, timeout: Duration) {
        let deadline = std::time::Instant::now() + timeout;
        let mut last = self.total();
        while std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(300));
            let now = self.total();
            if now == last {
                return;
            }
            last = now;
        }
    }

    /// Waits until `count` distinct numbers arrived, up to `timeout`.
    pub fn wait_for(&self, count: usize, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if self.distinct() >= count {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.distinct() >= count
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Sends the numbers `range` from `from` (in `ns`) to `to:port`, each
/// padded to `size` bytes, paced so that no queue on the way overflows.
pub fn send(ns: &Netns, from: &str, to: &str, port: u16, range: std::ops::Range<u64>, size: usize) {
    let src: SocketAddr = format!("{from}:0").parse().unwrap();
    let dst: SocketAddr = format!("{to}:{port}").parse().unwrap();
    let thread = netns::spawn_in(&ns.name, move |ready| {
        let sock = UdpSocket::bind(src).unwrap();
        ready();
        let mut payload = vec![0u8; size.max(TAG.len() + 8)];
        payload[..TAG.len()].copy_from_slice(TAG);
        for (i, n) in range.enumerate() {
            payload[TAG.len()..TAG.len() + 8].copy_from_slice(&n.to_be_bytes());
            let _ = sock.send_to(&payload, dst);
            if i % 16 == 15 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    });
    thread.join().unwrap();
}
