//! Two event loops joined over loopback UDP, with socketpairs standing in
//! for the tun devices (they keep packet boundaries as a tun does): the
//! session comes up, packets cross both ways, the stats socket answers,
//! and a shutdown ends both loops after telling the parent; with one loop
//! sending by connected sockets, the test answers its requests for them as
//! the parent does.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::OwnedFd;
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustix::net::{AddressFamily, SocketFlags, SocketType, bind, socket_with, sockopt};
use vpnd_crypto::{KeyPair, Nonce, SecretKey, SharedKey};
use vpnd_net::event_loop::{Exit, Io, run};
use vpnd_net::report::{IoStats, Reporting};
use vpnd_net::transport::{Channel, FrameBuffer};
use vpnd_net::udp::sockets::UdpSockets;
use vpnd_proto::config::Role;
use vpnd_proto::ipc::{self, MAX_FRAME, ToChild, ToParent, UdpSends};
use vpnd_proto::session::{SeededEntropy, Session, SessionConfig};
use vpnd_proto::wire::Inet6Family;

fn udp(v6: bool) -> (OwnedFd, u16) {
    shared_udp(v6, false)
}

/// A UDP socket on loopback (dual-stack with `v6`); `shared`: sockets
/// connected to a peer may share its port (SO_REUSEPORT).
fn shared_udp(v6: bool, shared: bool) -> (OwnedFd, u16) {
    let flags = SocketFlags::CLOEXEC | SocketFlags::NONBLOCK;
    let (fd, addr) = if v6 {
        let fd = socket_with(AddressFamily::INET6, SocketType::DGRAM, flags, None).unwrap();
        sockopt::set_ipv6_v6only(&fd, false).unwrap();
        (
            fd,
            SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, 0, 0, 0)),
        )
    } else {
        let fd = socket_with(AddressFamily::INET, SocketType::DGRAM, flags, None).unwrap();
        (
            fd,
            SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)),
        )
    };
    sockopt::set_socket_reuseport(&fd, shared).unwrap();
    bind(&fd, &addr).unwrap();
    let port = SocketAddr::try_from(rustix::net::getsockname(&fd).unwrap())
        .unwrap()
        .port();
    (fd, port)
}

/// The test's side of one loop: its "tun" end and its "parent" end.
struct Side {
    tun: UnixDatagram,
    parent: Channel,
    thread: JoinHandle<(Exit, IoStats)>,
    /// Sending by connected sockets: the loop's UDP socket, which they
    /// are bound beside.
    listener: Option<OwnedFd>,
}

fn start(
    key: SharedKey,
    peer_port: u16,
    udp: OwnedFd,
    seed: u64,
    stats: Option<UnixListener>,
    sends: UdpSends,
) -> Side {
    let listener = (sends == UdpSends::Connected).then(|| udp.try_clone().unwrap());
    let config = SessionConfig {
        role: Role::NetGw,
        static_key: key,
        peer: Some(SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::LOCALHOST,
            peer_port,
        ))),
        push: None,
        min_pushed_prefix: vpnd_proto::config::MinPushedPrefix::default(),
        inet6_family: Inet6Family::LINUX,
        max_key_age: Duration::from_secs(60),
        max_key_packets: 100_000,
        nonce_reset_incr: 10_000,
        send_nonce: Nonce::from_time_and_random(1_800_000_000, [seed as u8; 16]),
        recv_nonce: Nonce::default(),
    };
    let (tun_loop, tun_test) = UnixDatagram::pair().unwrap();
    tun_loop.set_nonblocking(true).unwrap();
    let (ipc_loop, ipc_test) = Channel::pair().unwrap();
    let io = Io {
        tun: OwnedFd::from(tun_loop),
        udp: UdpSockets::new(udp, sends),
        ipc: ipc_loop,
        stats,
        offloads: Default::default(),
        console: None,
    };
    let thread = std::thread::spawn(move || {
        let mut session = Session::new(config, vpnd_net::clock::now(), SeededEntropy::new(seed));
        let reporting = Reporting {
            stats_prefix: "test".into(),
            max_key_age: 60,
        };
        run(&mut session, io, &reporting).unwrap()
    });
    tun_test
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    Side {
        tun: tun_test,
        parent: ipc_test,
        thread,
        listener,
    }
}

/// What the parent does for `ConnectPeer`: a socket beside the loop's,
/// connected to `peer`, sent with the answer.
fn connect_peer(side: &Side, peer: SocketAddr) {
    let listener = side
        .listener
        .as_ref()
        .expect("ConnectPeer with addressed sends");
    let local = SocketAddr::try_from(rustix::net::getsockname(listener).unwrap()).unwrap();
    let (family, to) = match (local, peer) {
        (SocketAddr::V6(_), SocketAddr::V4(v4)) => (
            AddressFamily::INET6,
            SocketAddr::V6(SocketAddrV6::new(v4.ip().to_ipv6_mapped(), v4.port(), 0, 0)),
        ),
        (SocketAddr::V6(_), _) => (AddressFamily::INET6, peer),
        (SocketAddr::V4(_), _) => (AddressFamily::INET, peer),
    };
    let flags = SocketFlags::CLOEXEC | SocketFlags::NONBLOCK;
    let fd = socket_with(family, SocketType::DGRAM, flags, None).unwrap();
    if family == AddressFamily::INET6 {
        sockopt::set_ipv6_v6only(&fd, false).unwrap();
    }
    sockopt::set_socket_reuseport(&fd, true).unwrap();
    bind(&fd, &local).unwrap();
    rustix::net::connect(&fd, &to).unwrap();
    let answer = ipc::encode(&ToChild::PeerConnected { peer }).unwrap();
    side.parent
        .send(&answer, &[std::os::fd::AsFd::as_fd(&fd)])
        .unwrap();
}

/// The next message the loop sent its parent, within 5 s.
fn next_request(side: &Side, buf: &mut FrameBuffer) -> ToParent {
    let deadline = Instant::now() + Duration::from_secs(5);
    rustix::fs::fcntl_setfl(&side.parent, rustix::fs::OFlags::NONBLOCK).unwrap();
    loop {
        match side.parent.recv(buf) {
            Ok(r) => return ipc::decode_to_parent(&buf[..r.len]).unwrap(),
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => panic!("no request from the loop: {e}"),
        }
    }
}

fn wait_for(side: &Side, buf: &mut FrameBuffer, want: impl Fn(&ToParent) -> bool) -> Vec<ToParent> {
    let mut seen = Vec::new();
    loop {
        let r = next_request(side, buf);
        if let ToParent::ConnectPeer { peer } = r {
            connect_peer(side, peer);
        }
        let done = want(&r);
        seen.push(r);
        if done {
            return seen;
        }
    }
}

#[test]
fn two_loops_carry_packets_both_ways() {
    carry_packets_both_ways(UdpSends::Addressed);
}

#[test]
fn a_loop_sending_by_connected_sockets_carries_them_too() {
    carry_packets_both_ways(UdpSends::Connected);
}

/// A's sends leave as `a_sends` says; B's name their destination.
fn carry_packets_both_ways(a_sends: UdpSends) {
    let a_pair = KeyPair::from_secret(SecretKey::from_bytes([0x11; 32]));
    let b_pair = KeyPair::from_secret(SecretKey::from_bytes([0x22; 32]));
    let ka = SharedKey::precompute(&b_pair.public, &a_pair.secret).unwrap();
    let kb = SharedKey::precompute(&a_pair.public, &b_pair.secret).unwrap();
    // A on a dual-stack socket (IPv4 peers appear as ::ffff:a.b.c.d), B on
    // a plain IPv4 one.
    let (udp_a, port_a) = shared_udp(true, a_sends == UdpSends::Connected);
    let (udp_b, port_b) = udp(false);
    let scratch = tempfile::tempdir().unwrap();
    let stats_path: PathBuf = scratch.path().join("stats.sock");
    let listener = UnixListener::bind(&stats_path).unwrap();
    listener.set_nonblocking(true).unwrap();
    let a = start(ka, port_b, udp_a, 1, Some(listener), a_sends);
    let b = start(kb, port_a, udp_b, 2, None, UdpSends::Addressed);
    let mut buf = Box::new([0u8; MAX_FRAME + 1]);
    let up = |r: &ToParent| matches!(r, ToParent::NetworkUp { .. });
    let seen_a = wait_for(&a, &mut buf, up);
    assert!(
        seen_a
            .iter()
            .any(|r| matches!(r, ToParent::PersistNonce { .. })),
        "{seen_a:?}"
    );
    let asked = seen_a
        .iter()
        .filter(|r| matches!(r, ToParent::ConnectPeer { .. }))
        .count();
    assert_eq!(
        asked,
        usize::from(a_sends == UdpSends::Connected),
        "{seen_a:?}"
    );
    wait_for(&b, &mut buf, up);

    // An IPv4 packet (the loop does not look inside) each way.
    let packet: Vec<u8> = (0..200u8).collect();
    a.tun.send(&packet).unwrap();
    let mut got = [0u8; 2000];
    let n = b.tun.recv(&mut got).unwrap();
    assert_eq!(&got[..n], &packet[..]);
    let reply = vec![0x45u8; 1500];
    b.tun.send(&reply).unwrap();
    let n = a.tun.recv(&mut got).unwrap();
    assert_eq!(&got[..n], &reply[..]);

    // The stats socket answers with Graphite lines.
    let mut text = String::new();
    let mut stream = UnixStream::connect(&stats_path).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.read_to_string(&mut text).unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("test.vpnd.rx.data_bytes 1500 ")),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("test.vpnd.sessions 1 ")),
        "{text}"
    );

    // Shutdown: the remote nonce is persisted, the network undone, the loop ends.
    for side in [&a, &b] {
        side.parent
            .send(&ipc::encode(&ToChild::DumpState).unwrap(), &[])
            .unwrap();
        side.parent
            .send(&ipc::encode(&ToChild::Shutdown).unwrap(), &[])
            .unwrap();
        let seen = wait_for(side, &mut buf, |r| matches!(r, ToParent::NetworkDown));
        assert!(seen.iter().any(|r| matches!(
            r,
            ToParent::PersistNonce {
                slot: ipc::NonceSlot::Remote,
                ..
            }
        )));
    }
    for side in [a, b] {
        let (exit, io) = side.thread.join().unwrap();
        assert_eq!(exit, Exit::Shutdown);
        assert_eq!(io.tun_write_errors, 0);
    }
}

#[test]
fn the_loop_ends_when_the_parent_goes_away() {
    let k = KeyPair::from_secret(SecretKey::from_bytes([0x33; 32]));
    let key = SharedKey::precompute(&k.public, &k.secret).unwrap();
    let (fd, _) = udp(false);
    let side = start(key, 9, fd, 3, None, UdpSends::Addressed);
    drop(side.parent);
    let (exit, _) = side.thread.join().unwrap();
    assert_eq!(exit, Exit::ParentGone);
}
