//! The sockets the parent opens for the network process: the UDP socket
//! for both address families, and the stats listener. What each platform
//! does its own way (buffers past the limit, fragmentation, UDP offloads)
//! is in its module, chosen below.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::OwnedFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use rustix::net::{
    AddressFamily, SocketFlags, SocketType, bind, connect, getsockname, socket_with, sockopt,
};

#[cfg_attr(target_os = "linux", path = "linux.rs")]
#[cfg_attr(not(target_os = "linux"), path = "bsd.rs")]
mod os;
mod outer;

pub use os::udp_offloads;
pub use outer::outer_network;

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
    /// Another process listens on the stats socket: another vpnd runs
    /// with this `stats_path`.
    #[error("stats_path {}: in use: another vpnd is listening on it (set stats_path)", path.display())]
    StatsInUse {
        /// The path.
        path: PathBuf,
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
/// system has no IPv6, or refuses IPv4-mapped addresses on an IPv6 socket
/// (logged; W20: the deployed peer is IPv4 only). `shared`: sockets
/// connected to a peer will share the port ([`connected_udp`]).
///
/// Clearing IPV6_V6ONLY before bind, in ip6_ctloutput()
/// (sys/netinet6/ip6_output.c): FreeBSD sets INP_IPV4 on the socket, which
/// then hears IPv4 peers as ::ffff:a.b.c.d (ip6(4)); NetBSD allows it
/// unless the kernel has `options INET6_BINDV6ONLY` (then EINVAL);
/// DragonFly refuses it, `/* Don't allow v4-mapped */` with EOPNOTSUPP, and
/// always reports V6ONLY as 1. So on DragonFly this is the IPv4 fallback
/// below, with its log line, every time.
pub fn udp(port: u16, shared: bool) -> Result<OwnedFd, SocketError> {
    let err = |errno| SocketError::Udp { port, errno };
    let flags = SocketFlags::CLOEXEC | SocketFlags::NONBLOCK;
    let dual_stack = match socket_with(AddressFamily::INET6, SocketType::DGRAM, flags, None) {
        Ok(fd) => match sockopt::set_ipv6_v6only(&fd, false) {
            Ok(()) => Some(fd),
            Err(e) => {
                log::warn!("UDP: no IPv4 on an IPv6 socket here ({e}): IPv4 peers only");
                None
            }
        },
        Err(rustix::io::Errno::AFNOSUPPORT) => None,
        Err(e) => return Err(err(e)),
    };
    let (fd, any) = match dual_stack {
        Some(fd) => (
            fd,
            SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0)),
        ),
        None => (
            socket_with(AddressFamily::INET, SocketType::DGRAM, flags, None).map_err(err)?,
            SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port)),
        ),
    };
    sockopt::set_socket_reuseport(&fd, shared).map_err(err)?;
    bind(&fd, &any).map_err(err)?;
    os::enlarge_buffers(&fd);
    os::allow_fragmentation(&fd);
    Ok(fd)
}

/// A UDP socket bound where `listener` is (a [`udp`] socket made
/// `shared`) and connected to `peer`, with its options: the network
/// process sends to the peer by it, naming no destination, where its
/// sandbox refuses a send that names one (FreeBSD's capability mode).
/// Both sockets set SO_REUSEPORT, which lets them share the port; the
/// kernel hands a datagram to the socket whose connected address matches
/// its sender before one bound to any (Linux: `compute_score` in
/// net/ipv4/udp.c and net/ipv6/udp.c scores a matching remote address
/// higher; FreeBSD: `in_pcblookup_hash_locked` and `in_pcblookup_hash_smr`
/// in sys/netinet/in_pcb.c, and `in6_pcblookup_hash_smr` in
/// sys/netinet6/in6_pcb.c, look up the connected four-tuple before the
/// wildcard sockets). `gro`: receive coalescing as on the listener.
///
/// FreeBSD's port sharing, in6_pcbbind_avail() in sys/netinet6/in6_pcb.c
/// (and in_pcbbind_setup() in sys/netinet/in_pcb.c): a bind to a port in
/// use succeeds only if the socket holding it set SO_REUSEPORT too, and,
/// unless the binder has PRIV_NETINET_REUSEPORT (root), only if both are
/// owned by one uid ("SO_REUSE* can only be used to share a port among
/// sockets owned by the same user"), else EADDRINUSE; for a dual-stack
/// bind it checks the IPv4 side as well. The parent opens these sockets
/// as root, so no process of another uid can join the port.
///
/// Connecting fixes the socket's source address (the one the route to the
/// peer gives then): FreeBSD's in6_pcbconnect() (sys/netinet6/in6_pcb.c)
/// stores the address in6_pcbladdr() selects when the socket is bound to
/// any, and refuses a four-tuple already connected (EADDRINUSE); an
/// IPv4-mapped peer goes, by udp6_connect() (sys/netinet6/udp6_usrreq.c),
/// to in_pcbconnect() (sys/netinet/in_pcb.c) on an IPv4-only pcb, which
/// stores the local address in_pcbconnect_setup() gives. [`source_for`]
/// tells when the system would choose another, and the socket must be
/// renewed.
pub fn connected_udp(listener: &OwnedFd, peer: SocketAddr, gro: bool) -> Result<OwnedFd, String> {
    let local = address_of(listener)?;
    let fd = connected_beside(local, peer, true)?;
    os::enlarge_buffers(&fd);
    os::allow_fragmentation(&fd);
    if gro {
        os::udp_offloads(&fd);
    }
    Ok(fd)
}

/// The source address a datagram from `listener`'s port to `peer` would
/// leave with now (a throwaway socket, connected and closed: nothing is
/// sent), canonical (IPv4 plain).
pub fn source_for(listener: &OwnedFd, peer: SocketAddr) -> Result<IpAddr, String> {
    let local = address_of(listener)?;
    let any = SocketAddr::new(local.ip(), 0);
    let probe = connected_beside(any, peer, false)?;
    address_of(&probe).map(|a| canonical_ip(a.ip()))
}

/// The source address `fd` sends with, canonical.
pub fn source_of(fd: &OwnedFd) -> Result<IpAddr, String> {
    address_of(fd).map(|a| canonical_ip(a.ip()))
}

fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(a) => a.to_ipv4_mapped().map_or(IpAddr::V6(a), IpAddr::V4),
        v4 => v4,
    }
}

fn address_of(fd: &OwnedFd) -> Result<SocketAddr, String> {
    getsockname(fd)
        .ok()
        .and_then(|a| SocketAddr::try_from(a).ok())
        .ok_or_else(|| "the UDP socket has no address".to_owned())
}

/// A UDP socket of `local`'s family bound to it (sharing its port with
/// `shared`) and connected to `peer` (IPv4 as mapped on IPv6).
fn connected_beside(local: SocketAddr, peer: SocketAddr, shared: bool) -> Result<OwnedFd, String> {
    let peer = match (local, peer) {
        (SocketAddr::V6(_), SocketAddr::V4(v4)) => {
            SocketAddr::V6(SocketAddrV6::new(v4.ip().to_ipv6_mapped(), v4.port(), 0, 0))
        }
        _ => peer,
    };
    let family = match local {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    };
    let flags = SocketFlags::CLOEXEC | SocketFlags::NONBLOCK;
    let step = |what: String| move |e: rustix::io::Errno| format!("{what}: {e}");
    let fd = socket_with(family, SocketType::DGRAM, flags, None).map_err(step("socket".into()))?;
    if family == AddressFamily::INET6 {
        sockopt::set_ipv6_v6only(&fd, false).map_err(step("IPV6_V6ONLY".into()))?;
    }
    if shared {
        sockopt::set_socket_reuseport(&fd, true).map_err(step("SO_REUSEPORT".into()))?;
    }
    bind(&fd, &local).map_err(step(format!("bind {local}")))?;
    connect(&fd, &peer).map_err(step(format!("connect {peer}")))?;
    Ok(fd)
}

/// Socket buffers for this many bytes each way: the system default (about
/// 200 KB, some 45 full-size datagrams) overflows in a burst, and a flood
/// of garbage would then crowd genuine datagrams out in the kernel, before
/// the network process can count and drop it.
pub const UDP_BUFFER: usize = 4 << 20;

/// The stats socket's mode: root and the stats group may connect (which
/// needs write permission), nobody else. Nothing a client sends can change
/// vpnd's state: the network process answers with statistics or the
/// status block and closes.
pub const STATS_MODE: u32 = 0o660;

/// Whether the stats socket can be made at `path`: `Ok(true)` when a stale
/// socket (nobody listens) is there to replace, `Ok(false)` when nothing
/// is; an error when a process listens there, or when something other
/// than a socket is in its place. `vpnd -n` asks this; the start too.
pub fn check_stats_path(path: &Path) -> Result<bool, SocketError> {
    use std::os::unix::fs::FileTypeExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(false);
    };
    if !meta.file_type().is_socket() {
        return Err(SocketError::Stats {
            path: path.to_path_buf(),
            reason: "exists and is not a socket; not removing it".into(),
        });
    }
    if UnixStream::connect(path).is_ok() {
        return Err(SocketError::StatsInUse {
            path: path.to_path_buf(),
        });
    }
    Ok(true)
}

/// The stats listener at `path`, non-blocking, mode [`STATS_MODE`] whatever
/// the umask vpnd inherited, owned by root and group `gid`. A stale socket
/// left by a vpnd that died is replaced; a socket some process still
/// listens on, or anything that is not a socket, is an error (W17: two
/// instances must not steal each other's socket, and vpnd removes nothing
/// that is not its own). Called while the parent is single-threaded: the
/// umask it sets for the bind is the process's.
pub fn stats_listener(path: &Path, gid: u32) -> Result<UnixListener, SocketError> {
    let err = |reason: String| SocketError::Stats {
        path: path.to_path_buf(),
        reason,
    };
    if check_stats_path(path)? {
        std::fs::remove_file(path)
            .map_err(|e| err(format!("cannot remove the stale socket: {e}")))?;
    }
    // bind(2) creates the file with the mode the umask leaves: the mode is
    // set through the umask, as the socket is made, because a chmod by
    // path afterwards would follow a symbolic link put in its place, and
    // fchmod(2) on a socket does not reach its file.
    // mode_t is 16 bits on the BSDs, 32 on Linux; 0o117 fits both.
    let mask = rustix::fs::RawMode::try_from(0o777 & !STATS_MODE)
        .map_or(rustix::fs::Mode::RWXO, rustix::fs::Mode::from_bits_truncate);
    let inherited = rustix::process::umask(mask);
    let bound = UnixListener::bind(path);
    rustix::process::umask(inherited);
    let listener = bound.map_err(|e| err(e.to_string()))?;
    // lchown: the link itself, were the socket replaced by one.
    std::os::unix::fs::lchown(path, None, Some(gid))
        .map_err(|e| err(format!("setting its group to gid {gid}: {e}")))?;
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
        let fd = udp(0, false).unwrap();
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
        assert!(matches!(udp(port, false), Err(SocketError::Udp { .. })));
    }

    #[test]
    fn a_connected_socket_shares_the_port_and_hears_its_peer_alone() {
        let listener = udp(0, true).unwrap();
        let port = UdpSocket::from(listener.try_clone().unwrap())
            .local_addr()
            .unwrap()
            .port();
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        let other = UdpSocket::bind("127.0.0.1:0").unwrap();
        let connected = connected_udp(&listener, peer.local_addr().unwrap(), false).unwrap();
        let (listener, connected) = (UdpSocket::from(listener), UdpSocket::from(connected));
        for s in [&listener, &connected] {
            s.set_nonblocking(false).unwrap();
            s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
                .unwrap();
        }
        // Sends by the connected socket name nothing and come from the port.
        connected.send(b"to peer").unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = peer.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from.port()), (&b"to peer"[..], port));
        // The peer's datagrams reach the connected socket, anyone else's
        // the listener.
        for _ in 0..3 {
            other.send_to(b"other", ("127.0.0.1", port)).unwrap();
            peer.send_to(b"peer", ("127.0.0.1", port)).unwrap();
        }
        for _ in 0..3 {
            let n = connected.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], b"peer");
            let (n, from) = listener.recv_from(&mut buf).unwrap();
            assert_eq!(
                (&buf[..n], from.port()),
                (&b"other"[..], other.local_addr().unwrap().port())
            );
        }
        // Its source, and the one the system would choose now, agree.
        assert_eq!(
            source_of(&OwnedFd::from(connected)).unwrap(),
            source_for(&OwnedFd::from(listener), peer.local_addr().unwrap()).unwrap()
        );
        // A socket that is not shared keeps its port to itself.
        let alone = udp(0, false).unwrap();
        assert!(connected_udp(&alone, peer.local_addr().unwrap(), false).is_err());
    }

    #[test]
    fn buffers_are_set() {
        // The system's limit may cap them; the platform's tests say more.
        let fd = udp(0, false).unwrap();
        assert!(sockopt::socket_recv_buffer_size(&fd).unwrap() > 0);
    }

    #[test]
    fn stats_socket_replaces_stale_never_live_or_foreign() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path();
        let path = dir.join("stats.sock");
        let gid = rustix::process::getegid().as_raw();
        let first = stats_listener(&path, gid).unwrap();
        // Set, not left to the umask (022 here, which would leave 0755).
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert_eq!(meta.mode() & 0o7777, STATS_MODE);
        assert_eq!(meta.gid(), gid);
        let e = stats_listener(&path, gid).unwrap_err().to_string();
        assert!(e.contains("in use"), "{e}");
        drop(first);
        // The file stays behind after the listener closes: stale, replaced.
        assert!(path.exists());
        let _second = stats_listener(&path, gid).unwrap();
        let file = dir.join("not-a-socket");
        std::fs::write(&file, "x").unwrap();
        let e = stats_listener(&file, gid).unwrap_err().to_string();
        assert!(e.contains("not a socket"), "{e}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
    }
}
