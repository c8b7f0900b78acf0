//! Two event loops joined over loopback UDP, with socketpairs standing in
//! for the tun devices (they keep packet boundaries as a tun does): the
//! session comes up, packets cross both ways, the stats socket answers,
//! and a shutdown ends both loops after telling the parent.
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
use vpnd_proto::config::Role;
use vpnd_proto::ipc::{self, MAX_FRAME, ToChild, ToParent};
use vpnd_proto::session::{SeededEntropy, Session, SessionConfig};
use vpnd_proto::wire::Inet6Family;

fn udp(v6: bool) -> (OwnedFd, u16) {
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
}

fn start(
    key: SharedKey,
    peer_port: u16,
    udp: OwnedFd,
    seed: u64,
    stats: Option<UnixListener>,
) -> Side {
    let config = SessionConfig {
        role: Role::NetGw,
        static_key: key,
        peer: Some(SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::LOCALHOST,
            peer_port,
        ))),
        push: None,
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
        udp,
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
    }
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
        let done = want(&r);
        seen.push(r);
        if done {
            return seen;
        }
    }
}

#[test]
fn two_loops_carry_packets_both_ways() {
    let a_pair = KeyPair::from_secret(SecretKey::from_bytes([0x11; 32]));
    let b_pair = KeyPair::from_secret(SecretKey::from_bytes([0x22; 32]));
    let ka = SharedKey::precompute(&b_pair.public, &a_pair.secret).unwrap();
    let kb = SharedKey::precompute(&a_pair.public, &b_pair.secret).unwrap();
    // A on a dual-stack socket (IPv4 peers appear as ::ffff:a.b.c.d), B on
    // a plain IPv4 one.
    let (udp_a, port_a) = udp(true);
    let (udp_b, port_b) = udp(false);
    let scratch = tempfile::tempdir().unwrap();
    let stats_path: PathBuf = scratch.path().join("stats.sock");
    let listener = UnixListener::bind(&stats_path).unwrap();
    listener.set_nonblocking(true).unwrap();
    let a = start(ka, port_b, udp_a, 1, Some(listener));
    let b = start(kb, port_a, udp_b, 2, None);
    let mut buf = Box::new([0u8; MAX_FRAME + 1]);
    let up = |r: &ToParent| matches!(r, ToParent::NetworkUp { .. });
    let seen_a = wait_for(&a, &mut buf, up);
    assert!(
        matches!(seen_a[0], ToParent::PersistNonce { .. }),
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
    let side = start(key, 9, fd, 3, None);
    drop(side.parent);
    let (exit, _) = side.thread.join().unwrap();
    assert_eq!(exit, Exit::ParentGone);
}
