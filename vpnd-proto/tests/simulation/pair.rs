//! Two sessions joined by a simulated link on a virtual clock, with the
//! bookkeeping the tests assert on: every nonce sent, every packet delivered.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use vpnd_crypto::{KeyPair, Nonce, SecretKey, SharedKey};
use vpnd_proto::Timestamp;
use vpnd_proto::config::Role;
use vpnd_proto::session::{Event, SeededEntropy, Session, SessionConfig, initial_send_nonce};
use vpnd_proto::wire::{self, Inet6Family, Pushed};

use crate::link::{Faults, Link, Side};

/// One end: its session and what it wrote to "disk" and to "the tun".
pub struct Peer {
    pub session: Session<SeededEntropy>,
    pub config: SessionConfig,
    seed: u64,
    pub disk_local: Option<Nonce>,
    pub disk_remote: Nonce,
    pub network_up: bool,
    /// NetworkUp events seen, over all incarnations.
    pub ups: u64,
    pub downs: u64,
    pub pushed: Vec<Option<Pushed>>,
    pub events: Vec<Event>,
    /// Every nonce this end ever sent, over all incarnations.
    pub sent_nonces: HashSet<[u8; 24]>,
    pub reused_nonces: u64,
    pub delivered: HashSet<u64>,
    pub delivered_twice: u64,
    pub delivered_out_of_session: u64,
    pub restarts: u64,
    /// This end's clock runs this far ahead of the simulation's...
    pub ahead: Duration,
    /// ...and this far behind it (a clock that jumped back).
    pub behind: Duration,
}

/// The two ends and the link.
pub struct Pair {
    pub now: Timestamp,
    pub a: Peer,
    pub b: Peer,
    pub link: Link,
    /// Every datagram that went onto the link, when capturing.
    pub capture: Option<Vec<(Side, Vec<u8>)>>,
    next_id: u64,
    pub data_sent: u64,
}

pub fn addr(side: Side) -> SocketAddr {
    match side {
        Side::A => "198.18.0.1:4706".parse().unwrap(),
        Side::B => "198.18.0.2:4706".parse().unwrap(),
    }
}

pub fn static_keys() -> (SharedKey, SharedKey) {
    let a = KeyPair::from_secret(SecretKey::from_bytes([0x11; 32]));
    let b = KeyPair::from_secret(SecretKey::from_bytes([0x22; 32]));
    (
        SharedKey::precompute(&b.public, &a.secret).unwrap(),
        SharedKey::precompute(&a.public, &b.secret).unwrap(),
    )
}

pub fn config(role: Role, key: SharedKey, peer: Option<SocketAddr>) -> SessionConfig {
    SessionConfig {
        role,
        static_key: key,
        peer,
        push: None,
        min_pushed_prefix: vpnd_proto::config::MinPushedPrefix::default(),
        inet6_family: Inet6Family::LINUX,
        max_key_age: Duration::from_secs(60),
        max_key_packets: 100_000,
        nonce_reset_incr: 10_000,
        send_nonce: Nonce::default(),
        recv_nonce: Nonce::default(),
    }
}

pub fn host_push() -> Pushed {
    Pushed {
        host: "198.19.3.2/24".parse().unwrap(),
        network: "198.19.1.0/24".parse().unwrap(),
        resolver: Some("198.19.1.53".parse().unwrap()),
        domain: Some("vpnd.test".parse().unwrap()),
    }
}

impl Peer {
    fn new(mut config: SessionConfig, seed: u64, now: Timestamp) -> Peer {
        let mut entropy = SeededEntropy::new(seed);
        let mut random = [0u8; 16];
        vpnd_proto::session::Entropy::fill(&mut entropy, &mut random);
        config.send_nonce = initial_send_nonce(None, 0, random);
        let session = Session::new(config.clone(), now, entropy);
        let mut peer = Peer {
            session,
            config,
            seed,
            disk_local: None,
            disk_remote: Nonce::default(),
            network_up: false,
            ups: 0,
            downs: 0,
            pushed: Vec::new(),
            events: Vec::new(),
            sent_nonces: HashSet::new(),
            reused_nonces: 0,
            delivered: HashSet::new(),
            delivered_twice: 0,
            delivered_out_of_session: 0,
            restarts: 0,
            ahead: Duration::ZERO,
            behind: Duration::ZERO,
        };
        peer.absorb_events(now);
        peer
    }

    /// The simulation's `now` on this end's clock.
    pub fn local(&self, now: Timestamp) -> Timestamp {
        Timestamp::from_nanos(
            (now + self.ahead)
                .as_nanos()
                .saturating_sub(self.behind.as_nanos() as u64),
        )
    }

    /// A time on this end's clock, on the simulation's.
    fn global(&self, t: Timestamp) -> Timestamp {
        Timestamp::from_nanos(
            (t + self.behind)
                .as_nanos()
                .saturating_sub(self.ahead.as_nanos() as u64),
        )
    }

    /// When this end's session wants its next timeout, on the
    /// simulation's clock.
    fn next_timeout(&self) -> Option<Timestamp> {
        self.session.poll_timeout().map(|t| self.global(t))
    }

    /// Acts on the session's events as the daemon would: the nonce files
    /// are written (and confirmed) at once. `now` on this end's clock.
    fn absorb_events(&mut self, now: Timestamp) {
        let mut saved = None;
        while let Some(ev) = self.session.poll_event() {
            match &ev {
                Event::PersistLocalNonce(n) => {
                    self.disk_local = Some(*n);
                    saved = Some(*n);
                }
                Event::PersistRemoteNonce(n) => self.disk_remote = *n,
                Event::NetworkUp { pushed, .. } => {
                    assert!(!self.network_up, "NetworkUp twice without NetworkDown");
                    self.network_up = true;
                    self.ups += 1;
                    self.pushed.push(pushed.clone());
                }
                Event::NetworkDown => {
                    assert!(self.network_up, "NetworkDown without NetworkUp");
                    self.network_up = false;
                    self.downs += 1;
                }
                _ => {}
            }
            self.events.push(ev);
        }
        if let Some(n) = saved {
            self.session.local_nonce_saved(now, n);
        }
    }

    /// A process restart (kill -9 and start): the new session starts from
    /// the nonce files, with a clock whose Unix time tells nothing (zero),
    /// so only the file keeps the counter from going back.
    fn restart(&mut self, now: Timestamp) {
        self.restarts += 1;
        self.seed = self.seed.wrapping_add(0x1000);
        let mut entropy = SeededEntropy::new(self.seed);
        let mut random = [0u8; 16];
        vpnd_proto::session::Entropy::fill(&mut entropy, &mut random);
        let mut config = self.config.clone();
        config.send_nonce = initial_send_nonce(self.disk_local, 0, random);
        config.recv_nonce = self.disk_remote;
        if self.network_up {
            // The parent undoes the network when its child dies.
            self.network_up = false;
            self.downs += 1;
        }
        self.session = Session::new(config, self.local(now), entropy);
        self.absorb_events(self.local(now));
    }
}

impl Pair {
    pub fn new(a: SessionConfig, b: SessionConfig, faults: Faults, seed: u64) -> Pair {
        let now = Timestamp::ZERO;
        let mut pair = Pair {
            now,
            a: Peer::new(a, seed.wrapping_mul(31).wrapping_add(1), now),
            b: Peer::new(b, seed.wrapping_mul(31).wrapping_add(2), now),
            link: Link::new(faults, seed),
            capture: None,
            next_id: 0,
            data_sent: 0,
        };
        pair.flush(Side::A);
        pair.flush(Side::B);
        pair
    }

    /// Two net-gw sessions.
    pub fn net_gw(faults: Faults, seed: u64) -> Pair {
        Pair::with(faults, seed, |_| {})
    }

    /// Two net-gw sessions, both configurations adjusted by `tweak`.
    pub fn with(faults: Faults, seed: u64, tweak: impl Fn(&mut SessionConfig)) -> Pair {
        let (ka, kb) = static_keys();
        let mut a = config(Role::NetGw, ka, Some(addr(Side::B)));
        let mut b = config(Role::NetGw, kb, Some(addr(Side::A)));
        tweak(&mut a);
        tweak(&mut b);
        Pair::new(a, b, faults, seed)
    }

    pub fn peer(&mut self, side: Side) -> &mut Peer {
        match side {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        }
    }

    /// Moves a side's transmits onto the link and absorbs its events.
    fn flush(&mut self, side: Side) {
        let now = self.now;
        loop {
            let peer = self.peer(side);
            let Some(t) = peer.session.poll_transmit() else {
                break;
            };
            assert_eq!(t.dest, addr(side.other()), "sent to the wrong address");
            let nonce: [u8; 24] = t.datagram[..24].try_into().unwrap();
            if !peer.sent_nonces.insert(nonce) {
                peer.reused_nonces += 1;
            }
            self.put_on_link(side.other(), t.datagram, now);
        }
        let local = self.peer(side).local(now);
        self.peer(side).absorb_events(local);
    }

    fn put_on_link(&mut self, to: Side, datagram: Vec<u8>, now: Timestamp) {
        if let Some(c) = self.capture.as_mut() {
            c.push((to, datagram.clone()));
        }
        self.link.send(now, to, datagram);
    }

    /// Hands `datagram` to `side` as if from `from`; returns the result.
    pub fn inject(
        &mut self,
        side: Side,
        from: SocketAddr,
        mut datagram: Vec<u8>,
    ) -> Result<Option<std::ops::Range<usize>>, vpnd_proto::session::DropReason> {
        let global = self.now;
        let peer = self.peer(side);
        let now = peer.local(global);
        let result = peer.session.handle_datagram(now, from, &mut datagram);
        // A datagram can bring the session up before it is delivered.
        self.peer(side).absorb_events(now);
        if let Ok(Some(range)) = &result {
            self.record_delivery(side, &datagram[range.clone()]);
        }
        self.flush(side);
        result
    }

    fn record_delivery(&mut self, side: Side, packet: &[u8]) {
        let id = u64::from_le_bytes(packet[..8].try_into().unwrap());
        let stamp = u64::from_le_bytes(packet[8..16].try_into().unwrap());
        let peer = self.peer(side);
        if !peer.delivered.insert(id) {
            peer.delivered_twice += 1;
        }
        if !peer.network_up || stamp != peer.downs {
            peer.delivered_out_of_session += 1;
        }
    }

    /// Seals one tun packet of `size` bytes at `side` (if a session is up).
    pub fn send_data(&mut self, side: Side, size: usize) -> bool {
        let now = self.now;
        self.next_id += 1;
        let id = self.next_id;
        // The receiver's session: it must not deliver this after it went
        // down, whatever came up since.
        let stamp = self.peer(side.other()).downs;
        let mut buf = vec![0u8; wire::BODY_OFFSET + size];
        buf[wire::BODY_OFFSET..][..8].copy_from_slice(&id.to_le_bytes());
        buf[wire::BODY_OFFSET + 8..][..8].copy_from_slice(&stamp.to_le_bytes());
        let peer = self.peer(side);
        let local = peer.local(now);
        let sent = match peer.session.seal_packet(local, &mut buf, size) {
            Ok(n) => {
                buf.truncate(n);
                let nonce: [u8; 24] = buf[..24].try_into().unwrap();
                if !peer.sent_nonces.insert(nonce) {
                    peer.reused_nonces += 1;
                }
                self.data_sent += 1;
                self.put_on_link(side.other(), buf, now);
                true
            }
            Err(_) => false,
        };
        self.flush(side);
        sent
    }

    /// Runs the clock to `until`, with `side`s sending a packet of `size`
    /// bytes every `interval` when given. Bounded: a stuck loop fails.
    pub fn run_until(&mut self, until: Timestamp, traffic: Option<(Duration, usize)>) {
        let mut next_send = traffic.map(|(interval, _)| self.now + interval);
        let mut steps = 0u64;
        loop {
            steps += 1;
            assert!(steps < 50_000_000, "simulation does not make progress");
            let candidates = [
                self.a.next_timeout(),
                self.b.next_timeout(),
                self.link.next_arrival(),
                next_send,
            ];
            let Some(next) = candidates.into_iter().flatten().min() else {
                break;
            };
            if next > until {
                break;
            }
            self.now = self.now.max(next);
            let now = self.now;
            while let Some((to, datagram)) = self.link.pop_arrived(now) {
                let from = addr(to.other());
                let _ = self.inject(to, from, datagram);
            }
            for side in [Side::A, Side::B] {
                let peer = self.peer(side);
                if peer.next_timeout().is_some_and(|t| t <= now) {
                    let local = peer.local(now);
                    peer.session.handle_timeout(local);
                    self.flush(side);
                }
            }
            if let (Some(at), Some((interval, size))) = (next_send, traffic)
                && at <= now
            {
                self.send_data(Side::A, size);
                self.send_data(Side::B, size);
                next_send = Some(now + interval);
            }
        }
        self.now = self.now.max(until);
    }

    /// Runs for `d` more virtual time.
    pub fn run_for(&mut self, d: Duration, traffic: Option<(Duration, usize)>) {
        let until = self.now + d;
        self.run_until(until, traffic);
    }

    /// Runs until both sessions are up, at most `limit`; returns the time
    /// it took.
    pub fn run_until_up(&mut self, limit: Duration) -> Option<Duration> {
        let start = self.now;
        let step = Duration::from_millis(1);
        while self.now - start < limit {
            if self.a.network_up && self.b.network_up {
                return Some(self.now - start);
            }
            self.run_for(step, None);
        }
        None
    }

    /// One side's clock jumps: `forward` ahead, then `back` behind (the
    /// simulation's time stands still meanwhile).
    pub fn jump(&mut self, side: Side, forward: Duration, back: Duration) {
        let peer = self.peer(side);
        peer.ahead += forward;
        peer.behind += back;
    }

    /// kill -9 and restart of one side.
    pub fn restart(&mut self, side: Side) {
        let now = self.now;
        self.peer(side).restart(now);
        self.flush(side);
    }

    /// Asserts the invariants every scenario keeps.
    pub fn assert_sound(&self) {
        for (name, p) in [("a", &self.a), ("b", &self.b)] {
            assert_eq!(p.reused_nonces, 0, "{name} reused a nonce");
            assert_eq!(p.delivered_twice, 0, "{name} delivered a packet twice");
            assert_eq!(
                p.delivered_out_of_session, 0,
                "{name} delivered a packet outside its session"
            );
        }
    }
}
