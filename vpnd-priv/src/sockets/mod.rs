//! The sockets the parent opens for the network process: the UDP socket
//! for both address families, and the stats listener. What each platform
//! does its own way (buffers past the limit, fragmentation, UDP offloads)
//! is in its module, chosen below.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::OwnedFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use rustix::net::{AddressFamily, SocketFlags, SocketType, bind, socket_with, sockopt};

#[cfg_attr(target_os = "linux", path = "linux.rs")]
#[cfg_attr(not(target_os = "linux"), path = "bsd.rs")]
mod os;

pub use os::udp_offloads;

/// Why a socket could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// The UDP port could not be bound.
    #[error("local_port {port}: cannot bind the UDP socket: {errno}")]
    Udp {
        /// The port.
        port: u16,
        /// The error the system call returned.
        errno: rustix::io::Errno,
    },
    /// The stats socket could not be created.
    #[error("stats_path {}: {reason}", path.display())]
    Stats {
        /// The path.
        path: PathBuf,
        /// What went wrong, as the system or the check said it.
        reason: String,
    },
}

/// A non-blocking, close-on-exec UDP socket on `port` for IPv4 and IPv6
/// peers alike (an IPv6 socket with V6ONLY off); IPv4 only where the
/// system has no IPv6 (W20: the deployed peer is IPv4 only).
pub fn udp(port: u16) -> Result<OwnedFd, SocketError> {
    let err = |errno| SocketError::Udp { port, errno };
    let flags = SocketFlags::CLOEXEC | SocketFlags::NONBLOCK;
    let fd = match socket_with(AddressFamily::INET6, SocketType::DGRAM, flags, None) {
        Ok(fd) => {
            sockopt::set_ipv6_v6only(&fd, false).map_err(err)?;
            bind(
                &fd,
                &SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0)),
            )
            .map_err(err)?;
            fd
        }
        Err(rustix::io::Errno::AFNOSUPPORT) => {
            let fd =
                socket_with(AddressFamily::INET, SocketType::DGRAM, flags, None).map_err(err)?;
            bind(
                &fd,
                &SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port)),
            )
            .map_err(err)?;
            fd
        }
        Err(e) => return Err(err(e)),
    };
    os::enlarge_buffers(&fd);
    os::allow_fragmentation(&fd);
    Ok(fd)
}

/// Socket buffers for this many bytes each way: the system default (about
/// 200 KB, some 45 full-size datagrams) overflows in a burst, and a flood
/// of garbage would then crowd genuine datagrams out in the kernel, before
/// the network process can count and drop it.
pub const UDP_BUFFER: usize = 4 << 20;

/// The stats listener at `path`, non-blocking. A stale socket left by a
/// vpnd that died is replaced; a socket some process still listens on, or
/// anything that is not a socket, is an error (W17: two instances must not
/// steal each other's socket, and vpnd removes nothing that is not its own).
pub fn stats_listener(path: &Path) -> Result<UnixListener, SocketError> {
    let err = |reason: String| SocketError::Stats {
        path: path.to_path_buf(),
        reason,
    };
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        use std::os::unix::fs::FileTypeExt;
        if !meta.file_type().is_socket() {
            return Err(err("exists and is not a socket; not removing it".into()));
        }
        if UnixStream::connect(path).is_ok() {
            return Err(err(
                "in use: another vpnd is listening on it (set stats_path)".into(),
            ));
        }
        std::fs::remove_file(path)
            .map_err(|e| err(format!("cannot remove the stale socket: {e}")))?;
    }
    let listener = UnixListener::bind(path).map_err(|e| err(e.to_string()))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| err(e.to_string()))?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    #[test]
    fn one_socket_hears_ipv4_and_ipv6() {
        let fd = udp(0).unwrap();
        let sock = UdpSocket::from(fd);
        let port = sock.local_addr().unwrap().port();
        sock.set_nonblocking(false).unwrap();
        for (to, from) in [("127.0.0.1", "127.0.0.1:0"), ("::1", "[::1]:0")] {
            let tx = UdpSocket::bind(from).unwrap();
            tx.send_to(b"hello", (to, port)).unwrap();
            let mut buf = [0u8; 16];
            let (n, src) = sock.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..n], b"hello");
            assert_eq!(src.port(), tx.local_addr().unwrap().port());
        }
        // The port is taken now.
        assert!(matches!(udp(port), Err(SocketError::Udp { .. })));
    }

    #[test]
    fn buffers_are_set() {
        // The system's limit may cap them; the platform's tests say more.
        let fd = udp(0).unwrap();
        assert!(sockopt::socket_recv_buffer_size(&fd).unwrap() > 0);
    }

    #[test]
    fn stats_socket_replaces_stale_never_live_or_foreign() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path();
        let path = dir.join("stats.sock");
        let first = stats_listener(&path).unwrap();
        let e = stats_listener(&path).unwrap_err().to_string();
        assert!(e.contains("in use"), "{e}");
        drop(first);
        // The file stays behind after the listener closes: stale, replaced.
        assert!(path.exists());
        let _second = stats_listener(&path).unwrap();
        let file = dir.join("not-a-socket");
        std::fs::write(&file, "x").unwrap();
        let e = stats_listener(&file).unwrap_err().to_string();
        assert!(e.contains("not a socket"), "{e}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
    }
}
