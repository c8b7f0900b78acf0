//! Traffic through the tunnel: ping, and a TCP bulk transfer between two
//! threads placed in two namespaces, checksummed on both ends.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::netns::Netns;

/// One ping from `from` (an address in `ns`) to `to`: true if answered.
pub fn ping(ns: &Netns, from: &str, to: &str) -> bool {
    ns.command("ping")
        .args(["-q", "-c", "1", "-W", "1", "-I", from, to])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `count` pings as fast as answers come (`ping -f`); true if any was
/// answered.
pub fn ping_flood(ns: &Netns, from: &str, to: &str, count: u32) -> bool {
    ns.command("ping")
        .args([
            "-q",
            "-f",
            "-W",
            "1",
            "-c",
            &count.to_string(),
            "-I",
            from,
            to,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Pings until answered or `timeout`.
pub fn wait_for_ping(ns: &Netns, from: &str, to: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if ping(ns, from, to) {
            return true;
        }
    }
    false
}

/// FNV-1a, 64 bits: a checksum both ends compute over the byte stream.
#[derive(Debug, Clone, Copy)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    /// Adds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    /// The sum so far.
    pub fn value(&self) -> u64 {
        self.0
    }
}

/// What a transfer measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transfer {
    /// Bytes the sender wrote.
    pub sent: u64,
    /// Bytes the receiver read.
    pub received: u64,
    /// The sender's checksum.
    pub sent_sum: u64,
    /// The receiver's checksum.
    pub received_sum: u64,
}

impl Transfer {
    /// Asserts that every byte arrived and the checksums match; `what`
    /// names the transfer in the failure.
    pub fn assert_whole(&self, what: &str) {
        assert_eq!(self.received, self.sent, "{what}: bytes");
        assert_eq!(self.received_sum, self.sent_sum, "{what}: checksum");
    }
}

/// Sends `bytes` of pseudo-random data over TCP from `from` in `src` to
/// `to`:`port` in `dst`, through whatever routes the namespaces have.
pub fn tcp_transfer(src: &Netns, from: &str, dst: &Netns, to: &str, bytes: u64) -> Transfer {
    let port = 5201;
    let listen = SocketAddr::new(to.parse().unwrap(), port);
    let receiver = crate::netns::spawn_in(&dst.name, move |ready| {
        let l = TcpListener::bind(listen).unwrap();
        ready();
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let (mut sum, mut n) = (Fnv::default(), 0u64);
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(k) => {
                    sum.update(&buf[..k]);
                    n += k as u64;
                }
                Err(e) => panic!("receiving: {e} after {n} bytes"),
            }
        }
        (n, sum.value())
    });
    let src_name = src.name.clone();
    let from = SocketAddr::new(from.parse().unwrap(), 0);
    let sender = std::thread::spawn(move || {
        crate::netns::Netns::enter_by_name(&src_name);
        // From the internal host's address, so the route through the
        // tunnel is used with it as the source.
        let mut s = bind_connect(from, listen).expect("connecting through the tunnel");
        s.set_write_timeout(Some(Duration::from_secs(60))).unwrap();
        let (mut sum, mut left, mut state) = (Fnv::default(), bytes, 0x9e37_79b9_7f4a_7c15u64);
        let mut buf = vec![0u8; 1 << 16];
        while left > 0 {
            for chunk in buf.chunks_mut(8) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
            }
            let k = left.min(buf.len() as u64) as usize;
            s.write_all(&buf[..k]).unwrap();
            sum.update(&buf[..k]);
            left -= k as u64;
        }
        s.shutdown(std::net::Shutdown::Write).unwrap();
        sum.value()
    });
    let sent_sum = sender.join().unwrap();
    let (received, received_sum) = receiver.join().unwrap();
    Transfer {
        sent: bytes,
        received,
        sent_sum,
        received_sum,
    }
}

/// A TCP connection from `from` (address, any port) to `to`.
fn bind_connect(from: SocketAddr, to: SocketAddr) -> Option<TcpStream> {
    use rustix::net::{AddressFamily, SocketType, bind, connect, socket};
    let family = if from.is_ipv4() {
        AddressFamily::INET
    } else {
        AddressFamily::INET6
    };
    let fd = socket(family, SocketType::STREAM, None).ok()?;
    bind(&fd, &from).ok()?;
    connect(&fd, &to).ok()?;
    Some(TcpStream::from(fd))
}
