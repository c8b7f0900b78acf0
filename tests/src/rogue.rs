//! A gateway that pushes what vpnd's own gateway never would (a default
//! route, a multicast resolver): the real session core over a UDP socket in
//! the gateway's namespace, with a push that skips the checks. It speaks
//! the protocol correctly; only its values are hostile.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use vpnd_crypto::{KeyPair, Nonce, SharedKey};
use vpnd_proto::config::Role;
use vpnd_proto::session::{SeededEntropy, Session, SessionConfig};
use vpnd_proto::wire::{Inet6Family, Pushed};

/// The running rogue gateway; stops when dropped.
#[derive(Debug)]
pub struct RogueGateway {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RogueGateway {
    /// Listens on `bind` in namespace `ns` as a host-gw with keys `own`
    /// for the client `client`, pushing `push`.
    pub fn start(
        ns: &str,
        bind: SocketAddr,
        own: &KeyPair,
        client: &KeyPair,
        push: Pushed,
    ) -> Self {
        let config = SessionConfig {
            role: Role::HostGw,
            static_key: SharedKey::precompute(&client.public, &own.secret).unwrap(),
            peer: None,
            push: Some(push),
            min_pushed_prefix: vpnd_proto::config::MinPushedPrefix::default(),
            inet6_family: Inet6Family::LINUX,
            max_key_age: Duration::from_secs(60),
            max_key_packets: 100_000,
            nonce_reset_incr: 10_000,
            send_nonce: Nonce::from_time_and_random(vpnd_net::clock::unix_time(), [3; 16]),
            recv_nonce: Nonce::from_bytes([0; 24]),
        };
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = crate::netns::spawn_in(ns, move |ready| {
            let sock = UdpSocket::bind(bind).unwrap();
            sock.set_read_timeout(Some(Duration::from_millis(50)))
                .unwrap();
            ready();
            let now = vpnd_net::clock::now;
            let mut session = Session::new(config, now(), SeededEntropy::new(7));
            let mut buf = vec![0u8; 2048];
            while !flag.load(Ordering::Relaxed) {
                if let Ok((n, from)) = sock.recv_from(&mut buf) {
                    let _ = session.handle_datagram(now(), from, &mut buf[..n]);
                }
                if session.poll_timeout().is_some_and(|t| t <= now()) {
                    session.handle_timeout(now());
                }
                while let Some(t) = session.poll_transmit() {
                    let _ = sock.send_to(&t.datagram, t.dest);
                }
                // Its nonce files are "written" at once.
                while let Some(event) = session.poll_event() {
                    if let vpnd_proto::session::Event::PersistLocalNonce(n) = event {
                        session.local_nonce_saved(now(), n);
                    }
                }
            }
        });
        RogueGateway {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for RogueGateway {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
