//! A stand-in for vpnd's network process that breaks the IPC protocol in
//! the way its start message's `stats_prefix` names, then waits to be
//! killed. The end-to-end tests start it behind a real parent (debug
//! builds honour `VPND_TEST_NET_BINARY`) and check that the parent stops
//! it and leaves the network clean.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::time::Duration;

use vpnd_net::transport::Channel;
use vpnd_proto::ipc::{self, IPC_VERSION, NonceSlot, ToChild, ToParent};
use vpnd_proto::wire::Pushed;

fn send(c: &Channel, m: &ToParent) {
    c.send(&ipc::encode(m).unwrap(), &[]).unwrap();
}

/// A `NetworkUp` carrying a push of `host` and `network`.
fn push_up(peer: std::net::SocketAddr, host: &str, network: &str) -> ToParent {
    ToParent::NetworkUp {
        peer,
        pushed: Some(Pushed {
            host: host.parse().unwrap(),
            network: network.parse().unwrap(),
            resolver: None,
            domain: None,
        }),
    }
}

/// Valid requests as fast as the parent takes them, forever, none waiting
/// for its answer: the network up and down, nonces rising. Stops when told
/// to.
fn flood(
    channel: &Channel,
    peer: std::net::SocketAddr,
    frame: &mut vpnd_net::transport::FrameBuffer,
) -> ! {
    vpnd_net::transport::set_nonblocking(channel.as_fd()).unwrap();
    let mut n = 1u64 << 40;
    loop {
        n += 1;
        let mut nonce = [0u8; 24];
        nonce[..8].copy_from_slice(&n.to_le_bytes());
        for m in [
            ToParent::NetworkUp { peer, pushed: None },
            ToParent::NetworkDown,
            ToParent::PersistNonce {
                slot: NonceSlot::Local,
                nonce,
            },
            ToParent::PersistNonce {
                slot: NonceSlot::Remote,
                nonce,
            },
        ] {
            let bytes = ipc::encode(&m).unwrap();
            loop {
                while let Ok(got) = channel.recv(frame) {
                    if let Ok(ToChild::Shutdown) = ipc::decode_to_child(&frame[..got.len]) {
                        std::process::exit(0);
                    }
                }
                match channel.send(&bytes, &[]) {
                    Ok(()) => break,
                    Err(_) => std::thread::sleep(Duration::from_millis(1)),
                }
            }
        }
    }
}

fn main() {
    // SAFETY: the parent placed the IPC socket at descriptor 3.
    #[allow(unsafe_code)]
    let channel = Channel::from_fd(unsafe { OwnedFd::from_raw_fd(3) });
    let mut frame = Box::new([0u8; ipc::MAX_FRAME + 1]);
    let got = channel.recv(&mut frame).unwrap();
    let ToChild::Start(start) = ipc::decode_to_child(&frame[..got.len]).unwrap() else {
        panic!("no start message");
    };
    let mode = start.stats_prefix.as_str().to_owned();
    let peer = start
        .peer
        .unwrap_or_else(|| "198.18.0.2:4706".parse().unwrap());
    if mode != "silent" {
        send(
            &channel,
            &ToParent::Hello {
                version: IPC_VERSION,
            },
        );
    }
    match mode.as_str() {
        "silent" => {}
        "up_twice" => {
            send(&channel, &ToParent::NetworkUp { peer, pushed: None });
            // Wait for the answer, so the route is really in place.
            let _ = channel.recv(&mut frame);
            send(&channel, &ToParent::NetworkUp { peer, pushed: None });
        }
        // Pushed values in a role that takes none: a violation.
        "pushed_for_net_gw" => send(&channel, &push_up(peer, "198.19.9.2/24", "0.0.0.0/1")),
        "down_first" => send(&channel, &ToParent::NetworkDown),
        // Well-formed, but a value the parent must refuse (not a protocol
        // violation): a pushed default route, as if the child's own check
        // had been bypassed.
        "bad_push_for_host" => send(&channel, &push_up(peer, "198.19.3.2/24", "0.0.0.0/0")),
        // The same, repeated (each time after the session "ended"): every
        // one refused, few logged.
        "bad_push_flood" => {
            for _ in 0..200 {
                send(&channel, &push_up(peer, "198.19.3.2/24", "0.0.0.0/0"));
                send(&channel, &ToParent::NetworkDown);
            }
        }
        // Pushes that would take the host's traffic: one covering the
        // real gateway under a lying peer, then (its session ended) one of
        // all global IPv6, whose session stays open; each answer awaited.
        "hijacking_pushes" => {
            let liar = "203.0.113.9:4706".parse().unwrap();
            send(&channel, &push_up(liar, "198.19.3.2/24", "198.18.0.0/15"));
            let _ = channel.recv(&mut frame);
            send(&channel, &ToParent::NetworkDown);
            send(&channel, &push_up(peer, "2001:2:0:3::2/64", "2000::/3"));
            let _ = channel.recv(&mut frame);
        }
        "garbage" => channel.send(&[0xa5; 100], &[]).unwrap(),
        "descriptors" => {
            let hello = ipc::encode(&ToParent::NetworkDown).unwrap();
            channel.send(&hello, &[channel.as_fd()]).unwrap();
        }
        // Small values, below the clock: only the order is wrong.
        "nonce_backwards" => {
            for n in [9u8, 1] {
                let mut nonce = [0u8; 24];
                nonce[0] = n;
                send(
                    &channel,
                    &ToParent::PersistNonce {
                        slot: NonceSlot::Local,
                        nonce,
                    },
                );
            }
        }
        // A local reset point at the top of the nonce space, which no
        // restart could start above: a violation, never written.
        "poison_local" => send(
            &channel,
            &ToParent::PersistNonce {
                slot: NonceSlot::Local,
                nonce: [0xff; 24],
            },
        ),
        // Remote values that would lock the peer out: one at the top
        // (refused), then one far beyond any clock (written, warned of).
        "poison_remote" => {
            let mut far = [0u8; 24];
            far[23] = 0x7f;
            for nonce in [[0xff; 24], far] {
                send(
                    &channel,
                    &ToParent::PersistNonce {
                        slot: NonceSlot::Remote,
                        nonce,
                    },
                );
            }
        }
        "flood" => flood(&channel, peer, &mut frame),
        // Sessions one after another, each answer awaited (what a hostile
        // peer could make of a correct network process): the parent
        // configures a few, refuses the rest and says how many it refused.
        "up_flood" => {
            for _ in 0..40 {
                send(&channel, &ToParent::NetworkUp { peer, pushed: None });
                loop {
                    let got = channel.recv(&mut frame).unwrap();
                    match ipc::decode_to_child(&frame[..got.len]).unwrap() {
                        ToChild::Refusals { total } => eprintln!("refused_requests {total}"),
                        ToChild::NetworkApplied | ToChild::NetworkRefused { .. } => break,
                        _ => {}
                    }
                }
                send(&channel, &ToParent::NetworkDown);
            }
            // The count of the last refusal follows its answer, if any.
            std::thread::sleep(Duration::from_millis(200));
            vpnd_net::transport::set_nonblocking(channel.as_fd()).unwrap();
            if let Ok(got) = channel.recv(&mut frame)
                && let Ok(ToChild::Refusals { total }) = ipc::decode_to_child(&frame[..got.len])
            {
                eprintln!("refused_requests {total}");
            }
            eprintln!("up_flood done");
        }
        // A connected socket where sends name their destination: a
        // violation.
        "connect_unneeded" => send(&channel, &ToParent::ConnectPeer { peer }),
        // Connected sockets to one address after another, each answer
        // awaited: the parent grants a minute's budget, then refuses.
        "connect_flood" => {
            for k in 0..60u16 {
                let peer = std::net::SocketAddr::from(([198, 18, 0, 2], 5000 + k));
                send(&channel, &ToParent::ConnectPeer { peer });
                let _ = channel.recv(&mut frame);
            }
        }
        // Lookups of the peer's name one after another: the parent looks
        // it up once and answers with the address, refuses the rest
        // (within 10 s) and counts them.
        "resolve_flood" => {
            for _ in 0..5 {
                send(&channel, &ToParent::ResolvePeer);
            }
            let (mut refused, mut answered) = (0, false);
            while refused < 4 || !answered {
                let got = channel.recv(&mut frame).unwrap();
                match ipc::decode_to_child(&frame[..got.len]).unwrap() {
                    ToChild::PeerAddress { peer } => {
                        eprintln!("resolve_flood: the name has {peer}");
                        answered = true;
                    }
                    ToChild::Refusals { total } => refused = total,
                    _ => {}
                }
            }
            eprintln!("resolve_flood: {refused} refused");
        }
        // Its standard error, written as if it were root's terminal:
        // escape sequences, a bidirectional override, a line that poses
        // as the parent's, one far over the length limit.
        "stderr_escapes" => {
            use std::io::Write;
            let long = "y".repeat(10_000);
            let text = format!(
                "<3>\x1b]0;owned\x07\x1b[2Jred \u{202e}gnp.exe\u{202c}\n\
                 vpnd[1] parent: network configured for the session\n\
                 {long}\n<4>after the long line\n"
            );
            std::io::stderr().write_all(text.as_bytes()).unwrap();
        }
        other => panic!("unknown mode {other}"),
    }
    std::thread::sleep(Duration::from_secs(60));
}
