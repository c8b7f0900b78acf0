//! Two event loops joined over loopback UDP, with socketpairs standing in
//! for the tun devices (they keep packet boundaries as a tun does): the
//! session comes up, packets cross both ways, the stats socket answers,
//! and a shutdown ends both loops after telling the parent; with one loop
//! sending by connected sockets, the test answers its requests for them as
//! the parent does. A parent stand-in per loop answers its requests (nonce
//! files "written" at once) and can stop reading, as a busy parent does;
//! a loop whose peer died asks for the peer's address again.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::OwnedFd;
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

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

/// The test's side of one loop: its "tun" end, its "parent" end (for the
/// test's own messages), what the parent stand-in heard, and its controls.
struct Side {
    tun: UnixDatagram,
    parent: Channel,
    requests: Receiver<ToParent>,
    stand_in: Arc<StandIn>,
    thread: JoinHandle<(Exit, IoStats)>,
}

/// What the parent stand-in shares with the test.
#[derive(Default)]
struct StandIn {
    /// Stop reading the channel (a parent busy with a command or fsyncs).
    stalled: AtomicBool,
    /// The last local reset point confirmed.
    confirmed: Mutex<Option<Nonce>>,
    /// Close the channel (the parent died).
    hang_up: AtomicBool,
}

/// The parent's side of the channel: answers every request as the parent
/// does and hands it to the test, until the loop closes the channel.
fn stand_in(
    parent: Channel,
    listener: Option<OwnedFd>,
    shared: Arc<StandIn>,
    heard: Sender<ToParent>,
) {
    rustix::fs::fcntl_setfl(&parent, rustix::fs::OFlags::NONBLOCK).unwrap();
    let mut buf: Box<FrameBuffer> = Box::new([0; MAX_FRAME + 1]);
    loop {
        if shared.hang_up.load(Ordering::SeqCst) {
            return;
        }
        if shared.stalled.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        let request = match parent.recv(&mut buf) {
            Ok(r) => ipc::decode_to_parent(&buf[..r.len]).unwrap(),
            Err(vpnd_net::transport::TransportError::Closed) => return,
            Err(_) => {
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
        };
        match request {
            ToParent::ConnectPeer { peer } => {
                connect_peer(&parent, listener.as_ref().expect("addressed sends"), peer)
            }
            ToParent::PersistNonce { slot, nonce } => {
                if slot == ipc::NonceSlot::Local {
                    *shared.confirmed.lock().unwrap() = Some(Nonce::from_bytes(nonce));
                }
                let saved = ipc::encode(&ToChild::NonceSaved { slot, nonce }).unwrap();
                parent.send(&saved, &[]).unwrap();
            }
            _ => {}
        }
        let _ = heard.send(request);
    }
}

fn start(
    key: SharedKey,
    peer_port: u16,
    udp: OwnedFd,
    seed: u64,
    stats: Option<UnixListener>,
    sends: UdpSends,
) -> Side {
    start_with(key, peer_port, udp, seed, stats, sends, 10_000)
}

fn start_with(
    key: SharedKey,
    peer_port: u16,
    udp: OwnedFd,
    seed: u64,
    stats: Option<UnixListener>,
    sends: UdpSends,
    nonce_reset_incr: u64,
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
        nonce_reset_incr,
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
    let shared = Arc::new(StandIn::default());
    let (heard, requests) = channel();
    let parent = Channel::from_fd(
        std::os::fd::AsFd::as_fd(&ipc_test)
            .try_clone_to_owned()
            .unwrap(),
    );
    let s = shared.clone();
    std::thread::spawn(move || stand_in(parent, listener, s, heard));
    Side {
        tun: tun_test,
        parent: ipc_test,
        requests,
        stand_in: shared,
        thread,
    }
}

/// What the parent does for `ConnectPeer`: a socket beside the loop's,
/// connected to `peer`, sent with the answer.
fn connect_peer(parent: &Channel, listener: &OwnedFd, peer: SocketAddr) {
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
    parent
        .send(&answer, &[std::os::fd::AsFd::as_fd(&fd)])
        .unwrap();
}

/// The next message the loop sent its parent, within 5 s.
fn next_request(side: &Side) -> ToParent {
    side.requests
        .recv_timeout(Duration::from_secs(5))
        .expect("no request from the loop")
}

/// The requests up to the first that `want` takes.
fn wait_for(side: &Side, want: impl Fn(&ToParent) -> bool) -> Vec<ToParent> {
    let mut seen = Vec::new();
    loop {
        let r = next_request(side);
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
    let up = |r: &ToParent| matches!(r, ToParent::NetworkUp { .. });
    let seen_a = wait_for(&a, up);
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
    wait_for(&b, up);

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

    // The stats socket answers with Graphite lines, the parent's count of
    // refusals among them.
    a.parent
        .send(&ipc::encode(&ToChild::Refusals { total: 3 }).unwrap(), &[])
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
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
    assert!(
        text.lines()
            .any(|l| l.starts_with("test.vpnd.refused_requests 3 ")),
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
        wait_for(side, |r| matches!(r, ToParent::NetworkDown));
        // The loop ends once its last writes are answered, the remote
        // nonce's among them.
        let seen: Vec<ToParent> = side.requests.iter().collect();
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
    side.stand_in.hang_up.store(true, Ordering::SeqCst);
    drop(side.parent);
    let (exit, _) = side.thread.join().unwrap();
    assert_eq!(exit, Exit::ParentGone);
}

/// A UDP relay between two loops: `a` sends to the first port, `b` to the
/// second; each datagram from `a` is shown to `look` (its nonce is its
/// first 24 bytes) on the way.
fn relay(a_port: u16, b_port: u16, look: impl Fn(Nonce) + Send + 'static) -> (u16, u16) {
    let for_a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let for_b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let ports = (
        for_a.local_addr().unwrap().port(),
        for_b.local_addr().unwrap().port(),
    );
    let (a_in, b_out) = (for_a.try_clone().unwrap(), for_b.try_clone().unwrap());
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok(n) = a_in.recv(&mut buf) {
            if let Some(nonce) = Nonce::from_slice(&buf[..n.min(24)]) {
                look(nonce);
            }
            let _ = b_out.send_to(&buf[..n], ("127.0.0.1", b_port));
        }
    });
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok(n) = for_b.recv(&mut buf) {
            let _ = for_a.send_to(&buf[..n], ("127.0.0.1", a_port));
        }
    });
    ports
}

/// A parent that stops reading for 15 s while packets flood in, at the
/// smallest `nonce_reset_incr`: the loop lives on, the session stays up,
/// and no datagram leaves with a nonce at or above the last reset point
/// the parent confirmed (the parent confirms nothing while it stalls).
#[test]
fn a_stalled_parent_stops_no_loop_and_no_nonce_passes_the_confirmed_point() {
    let a_pair = KeyPair::from_secret(SecretKey::from_bytes([0x44; 32]));
    let b_pair = KeyPair::from_secret(SecretKey::from_bytes([0x55; 32]));
    let ka = SharedKey::precompute(&b_pair.public, &a_pair.secret).unwrap();
    let kb = SharedKey::precompute(&a_pair.public, &b_pair.secret).unwrap();
    let (udp_a, port_a) = udp(false);
    let (udp_b, port_b) = udp(false);
    let confirmed: Arc<Mutex<Option<Arc<StandIn>>>> = Arc::default();
    let (sent, beyond) = (
        Arc::new(std::sync::atomic::AtomicU64::new(0)),
        Arc::new(std::sync::atomic::AtomicU64::new(0)),
    );
    let (seen, (s, b2)) = (confirmed.clone(), (sent.clone(), beyond.clone()));
    let (to_b, to_a) = relay(port_a, port_b, move |nonce| {
        s.fetch_add(1, Ordering::SeqCst);
        let Some(stand_in) = seen.lock().unwrap().clone() else {
            return;
        };
        let point = *stand_in.confirmed.lock().unwrap();
        if point.is_none_or(|p| nonce >= p) {
            b2.fetch_add(1, Ordering::SeqCst);
        }
    });
    let a = start_with(ka, to_b, udp_a, 4, None, UdpSends::Addressed, 16);
    let b = start(kb, to_a, udp_b, 5, None, UdpSends::Addressed);
    *confirmed.lock().unwrap() = Some(a.stand_in.clone());
    let up = |r: &ToParent| matches!(r, ToParent::NetworkUp { .. });
    wait_for(&a, up);
    wait_for(&b, up);

    // The flood: A's tun as fast as the loop takes it; B's drained.
    let stop = Arc::new(AtomicBool::new(false));
    let flooder = {
        let (tun, stop) = (a.tun.try_clone().unwrap(), stop.clone());
        std::thread::spawn(move || {
            let packet = [0x45u8; 200];
            while !stop.load(Ordering::SeqCst) {
                let _ = tun.send(&packet);
            }
        })
    };
    let delivered = Arc::new(std::sync::atomic::AtomicU64::new(0));
    {
        let (tun, delivered, stop) = (b.tun.try_clone().unwrap(), delivered.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut got = [0u8; 2048];
            while !stop.load(Ordering::SeqCst) {
                if tun.recv(&mut got).is_ok() {
                    delivered.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
    }
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        delivered.load(Ordering::SeqCst) > 0,
        "nothing crossed before the stall"
    );

    a.stand_in.stalled.store(true, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(100));
    let sent_at_stall = sent.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_secs(15));
    assert!(
        !a.thread.is_finished(),
        "the loop ended while its parent was busy"
    );
    let sent_in_stall = sent.load(Ordering::SeqCst) - sent_at_stall;
    a.stand_in.stalled.store(false, Ordering::SeqCst);
    let delivered_at_resume = delivered.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        delivered.load(Ordering::SeqCst) > delivered_at_resume + 100,
        "packets do not cross again after the stall"
    );
    stop.store(true, Ordering::SeqCst);
    flooder.join().unwrap();
    assert_eq!(
        beyond.load(Ordering::SeqCst),
        0,
        "datagrams sent at or above the confirmed reset point ({} sent in the stall)",
        sent_in_stall
    );
    // The session never ended on either side.
    for side in [&a, &b] {
        let ended: Vec<ToParent> = side
            .requests
            .try_iter()
            .filter(|r| matches!(r, ToParent::NetworkDown))
            .collect();
        assert!(ended.is_empty(), "the session ended: {ended:?}");
    }
    for side in [&a, &b] {
        side.parent
            .send(&ipc::encode(&ToChild::Shutdown).unwrap(), &[])
            .unwrap();
    }
    for side in [a, b] {
        let (exit, _) = side.thread.join().unwrap();
        assert_eq!(exit, Exit::Shutdown);
    }
    eprintln!("stall: {sent_in_stall} datagrams from A in the 15 s stall");
}

/// A loop whose peer went silent asks the parent to look the peer's name
/// up again once it declares the peer dead, and reaches the peer at the
/// address the parent answers: here a new process on another port, which
/// cannot reach the loop by itself (its own peer address is wrong).
#[test]
fn a_loop_asks_for_its_peers_address_when_the_peer_dies_and_follows_the_answer() {
    follow_the_peer_address(UdpSends::Addressed);
}

/// Where sends leave by connected sockets, the new address gets its own
/// (the loop asks for it when it first sends there).
#[test]
fn a_loop_sending_by_connected_sockets_follows_the_answer_too() {
    follow_the_peer_address(UdpSends::Connected);
}

/// A's sends leave as `a_sends` says.
fn follow_the_peer_address(a_sends: UdpSends) {
    let a_pair = KeyPair::from_secret(SecretKey::from_bytes([0x66; 32]));
    let b_pair = KeyPair::from_secret(SecretKey::from_bytes([0x77; 32]));
    let ka = SharedKey::precompute(&b_pair.public, &a_pair.secret).unwrap();
    let kb = SharedKey::precompute(&a_pair.public, &b_pair.secret).unwrap();
    let (udp_a, port_a) = shared_udp(false, a_sends == UdpSends::Connected);
    let (udp_b, port_b) = udp(false);
    let a = start(ka, port_b, udp_a, 6, None, a_sends);
    let b = start(kb.clone(), port_a, udp_b, 7, None, UdpSends::Addressed);
    let up = |r: &ToParent| matches!(r, ToParent::NetworkUp { .. });
    wait_for(&a, up);
    wait_for(&b, up);
    // B stops, and starts again elsewhere, sending to a port nobody has.
    b.parent
        .send(&ipc::encode(&ToChild::Shutdown).unwrap(), &[])
        .unwrap();
    assert_eq!(b.thread.join().unwrap().0, Exit::Shutdown);
    let (udp_moved, port_moved) = udp(false);
    let moved = start(kb, 9, udp_moved, 8, None, UdpSends::Addressed);
    // Silent for 20 s: dead, and the name is asked for.
    let mut seen = Vec::new();
    loop {
        let r = a
            .requests
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no ResolvePeer after the peer went silent: {seen:?}"));
        if r == ToParent::ResolvePeer {
            break;
        }
        seen.push(r);
    }
    assert!(
        seen.iter().any(|r| matches!(r, ToParent::NetworkDown)),
        "no NetworkDown before the request: {seen:?}"
    );
    let peer = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port_moved));
    a.parent
        .send(&ipc::encode(&ToChild::PeerAddress { peer }).unwrap(), &[])
        .unwrap();
    let seen = wait_for(&a, up);
    let asked = seen
        .iter()
        .filter(|r| **r == ToParent::ConnectPeer { peer })
        .count();
    assert_eq!(
        asked,
        usize::from(a_sends == UdpSends::Connected),
        "{seen:?}"
    );
    wait_for(&moved, up);
    let packet: Vec<u8> = (0..100u8).collect();
    a.tun.send(&packet).unwrap();
    let mut got = [0u8; 2000];
    let n = moved.tun.recv(&mut got).unwrap();
    assert_eq!(&got[..n], &packet[..]);
    for side in [&a, &moved] {
        side.parent
            .send(&ipc::encode(&ToChild::Shutdown).unwrap(), &[])
            .unwrap();
    }
    for side in [a, moved] {
        assert_eq!(side.thread.join().unwrap().0, Exit::Shutdown);
    }
}
