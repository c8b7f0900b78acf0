//! The session state machine of doc/protocol.md as a sans-IO value.
//!
//! A [`Session`] owns the keys, the nonces, the replay window, the timers and
//! the counters of one tunnel, and does no I/O: the caller feeds it what
//! happened and carries out what it asks for.
//!
//! Calling order, in the style of quinn-proto:
//!
//! 1. [`Session::new`], then drain the outputs (step 4).
//! 2. For each UDP datagram: [`Session::handle_datagram`]; `Ok(Some(range))`
//!    means `buf[range]` is an IP packet to write to the tun.
//!    For each tun packet: read it into `buf[wire::BODY_OFFSET..]`, call
//!    [`Session::seal_packet`] and send the returned length of `buf` to
//!    [`Session::peer`].
//! 3. When the clock passes [`Session::poll_timeout`]: [`Session::handle_timeout`].
//! 4. After any of these: send every [`Session::poll_transmit`], act on
//!    every [`Session::poll_event`], and re-read `poll_timeout`. A caller
//!    that holds sealed DATA back to send it in batches keeps one order:
//!    a transmit polled after a seal leaves after that DATA and before the
//!    next (a KEY_READY before the first DATA under the new key).

mod entropy;
mod from_start;
mod keys;
mod nonces;
mod receive;
mod send;
mod state;
mod stats;
mod timer;
mod transitions;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::ops::Range;
use std::time::Duration;

use vpnd_crypto::{Nonce, ReplayWindow, SharedKey, Stale};

pub use entropy::{Entropy, SeededEntropy};
pub use nonces::initial_send_nonce;
pub use state::State;
pub use stats::{DropReason, Stats};
pub use timer::{
    DEAD_AFTER, HANDSHAKE_INTERVAL, HEARTBEAT_INTERVAL, HOST_GIVE_UP, PEER_INFO_INTERVAL,
    PREVIOUS_KEY_GRACE,
};

use crate::Timestamp;
use crate::config::{MinPushedPrefix, Role};
use crate::wire::{self, FrameError, Inet6Family, MessageType, PeerInfo, PushError, Pushed};
use keys::KeySet;
use nonces::SendCounter;
use timer::Timers;

/// What a session needs to start.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The role: who waits, who pushes, who applies.
    pub role: Role,
    /// `crypto_box_beforenm(remote_pk, local_sk)`.
    pub static_key: SharedKey,
    /// The peer's address; `None` for a host-gw, which learns it.
    pub peer: Option<SocketAddr>,
    /// host-gw: the client address, network, resolver and domain to push.
    pub push: Option<Pushed>,
    /// host: the widest network taken from the gateway's push.
    pub min_pushed_prefix: MinPushedPrefix,
    /// The family byte written for the pushed IPv6 addresses: this
    /// system's `AF_INET6`, which the caller knows and this crate does not.
    pub inet6_family: Inet6Family,
    /// Rotate when the key is this old (`max_key_age`).
    pub max_key_age: Duration,
    /// Rotate when this many datagrams were sealed under the key.
    pub max_key_packets: u64,
    /// Persist the nonces every this many datagrams.
    pub nonce_reset_incr: u64,
    /// The first send nonce: see [`initial_send_nonce`].
    pub send_nonce: Nonce,
    /// The highest nonce received before (remote nonce file, or zero).
    pub recv_nonce: Nonce,
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where to.
    pub dest: SocketAddr,
    /// The sealed datagram.
    pub datagram: Vec<u8>,
}

/// Something the caller must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A session began: apply the role's network configuration. `pushed`
    /// carries, for a host only, the validated values the gateway pushed.
    NetworkUp {
        /// The peer's outer address.
        peer: SocketAddr,
        /// host: what the gateway pushed, validated; `None` otherwise.
        pushed: Option<Pushed>,
    },
    /// The session ended: undo the network configuration.
    NetworkDown,
    /// Write the local nonce file (a reset point above every nonce sent);
    /// tell [`Session::local_nonce_saved`] when it is on disk.
    PersistLocalNonce(Nonce),
    /// Write the remote nonce file (the highest nonce received).
    PersistRemoteNonce(Nonce),
    /// The state changed.
    StateChanged {
        /// Before.
        from: State,
        /// After.
        to: State,
    },
    /// The peer's address was learned, moved (roaming) or forgotten.
    PeerAddress(Option<SocketAddr>),
    /// The peer was silent for [`DEAD_AFTER`]; the session returned to INIT.
    PeerDied,
    /// An authentic static-key PEER_INFO arrived while a session was up: the
    /// peer restarted; the session returned to INIT.
    PeerRestarted,
    /// A host refused the values its gateway pushed; nothing is applied.
    PushRefused(PushError),
    /// The peer sent a debug string (console text); log it.
    DebugString(Vec<u8>),
}

/// One tunnel's protocol state. See the module documentation for the
/// calling order.
#[derive(Debug)]
pub struct Session<E: Entropy> {
    config: SessionConfig,
    entropy: E,
    state: State,
    peer: Option<SocketAddr>,
    peer_id: u32,
    keys: KeySet,
    send: SendCounter,
    window: ReplayWindow,
    received_since_persist: u64,
    timers: Timers,
    /// The peer's latest peer info (every PEER_INFO and accepted KEY_READY).
    peer_info: Option<PeerInfo>,
    session_up: bool,
    key_started: Timestamp,
    /// Datagrams sealed under the current key plus DATA opened under it.
    key_packets: u64,
    last_heard: Option<Timestamp>,
    last_answer: Option<Timestamp>,
    state_since: Timestamp,
    session_started: Option<Timestamp>,
    /// Since when the session has been down (start, or the last end).
    down_since: Timestamp,
    /// Time spent with a session up / down, before the current period.
    active_before: Duration,
    inactive_before: Duration,
    stats: Stats,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    /// A control message found no nonce below the confirmed reset point.
    control_starved: bool,
}

impl<E: Entropy> Session<E> {
    /// A session at `now`: a host-gw waits, every other role enters INIT and
    /// sends its PEER_INFO. The first local reset point is an event already.
    pub fn new(config: SessionConfig, now: Timestamp, entropy: E) -> Self {
        let (send, reset_point) = SendCounter::new(config.send_nonce, config.nonce_reset_incr);
        let mut s = Session {
            keys: KeySet::new(config.static_key.clone()),
            window: ReplayWindow::new(config.recv_nonce),
            peer: config.peer,
            config,
            entropy,
            state: State::HostWait,
            peer_id: 0,
            send,
            received_since_persist: 0,
            timers: Timers::default(),
            peer_info: None,
            session_up: false,
            key_started: now,
            key_packets: 0,
            last_heard: None,
            last_answer: None,
            state_since: now,
            session_started: None,
            down_since: now,
            active_before: Duration::ZERO,
            inactive_before: Duration::ZERO,
            stats: Stats::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            control_starved: false,
        };
        s.peer_id = s.draw_peer_id();
        s.events.push_back(Event::PersistLocalNonce(reset_point));
        if s.config.role != Role::HostGw {
            s.enter(now, State::Init);
        }
        s
    }

    // ----- inputs -------------------------------------------------------

    /// Handles one received UDP datagram from `from`, decrypting in place.
    /// `Ok(Some(range))`: `buf[range]` is an IP packet for the tun.
    /// `Ok(None)`: a control message, handled. `Err(reason)`: dropped and
    /// counted.
    pub fn handle_datagram(
        &mut self,
        now: Timestamp,
        from: SocketAddr,
        buf: &mut [u8],
    ) -> Result<Option<Range<usize>>, DropReason> {
        let result = self.receive(now, from, buf);
        if let Err(reason) = result {
            self.stats.count_drop(reason);
        }
        result
    }

    /// Seals the tun packet at `buf[wire::BODY_OFFSET..][..len]` as DATA in
    /// place and returns the datagram length (send `buf[..n]` to
    /// [`Session::peer`]). Refused while no ephemeral key is in use (W6).
    pub fn seal_packet(
        &mut self,
        now: Timestamp,
        buf: &mut [u8],
        len: usize,
    ) -> Result<usize, DropReason> {
        let result = self.seal_data(now, buf, len);
        if let Err(reason) = result {
            self.stats.count_drop(reason);
        }
        result
    }

    /// Sends `text` to the peer as a DEBUG_STRING (the console's lines).
    pub fn send_debug_string(&mut self, text: &[u8]) -> Result<(), DropReason> {
        if !self.keys.ephemeral || self.peer.is_none() {
            return Err(DropReason::NoSession);
        }
        let text = text.split(|&b| b == 0).next().unwrap_or_default();
        if text.len() + 1 > wire::MAX_BODY {
            return Err(DropReason::BadPacketSize);
        }
        let mut body = Vec::with_capacity(text.len() + 1);
        body.extend_from_slice(text);
        body.push(0);
        self.stats.tx_data_bytes += body.len() as u64;
        self.send_control(MessageType::DebugString, &body);
        Ok(())
    }

    /// The parent has written `reset_point` (a [`Event::PersistLocalNonce`]
    /// value) to the local nonce file, on disk. Until the first one is,
    /// nothing is sealed; DATA stops a quarter `nonce_reset_incr` below the
    /// last one confirmed ([`DropReason::NonceWait`]); control messages wait
    /// at it and the state's own message is sent at the next confirmation.
    pub fn local_nonce_saved(&mut self, now: Timestamp, reset_point: Nonce) {
        self.reset_point_saved(now, reset_point);
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        for timer in self.timers.expire(now) {
            self.on_timer(now, timer);
        }
    }

    /// The parent looked `remote_host` up again and found `peer` (a
    /// net-gw's or a host's; a host-gw, which learns its client, ignores
    /// it): datagrams go there from now on. In INIT the PEER_INFO goes at
    /// once, since a silent peer is why the name was looked up. A session
    /// or a handshake carries on under its keys: a peer that only changed
    /// its address answers there, and one that is heard at another
    /// address moves the session back, as roaming does (an authenticated
    /// datagram says more than a name).
    pub fn handle_peer_address(&mut self, now: Timestamp, peer: SocketAddr) {
        if self.config.role == Role::HostGw || self.peer == Some(peer) {
            return;
        }
        self.peer = Some(peer);
        self.events.push_back(Event::PeerAddress(Some(peer)));
        if self.state == State::Init {
            self.send_peer_info();
            self.timers
                .set(timer::Timer::PeerInfo, now + PEER_INFO_INTERVAL);
        }
    }

    /// Ends the session for good (vpnd is stopping): the remote nonce is to
    /// be persisted and the network configuration undone.
    pub fn close(&mut self, now: Timestamp) {
        self.events
            .push_back(Event::PersistRemoteNonce(*self.window.highest()));
        self.end_session(now);
        self.timers.stop_all();
    }

    // ----- outputs ------------------------------------------------------

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event to act on.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Session::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.timers.next()
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The role.
    pub fn role(&self) -> Role {
        self.config.role
    }

    /// Where datagrams go: `None` while a host-gw waits for its client.
    pub fn peer(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// Our peer id (big-endian on the wire).
    pub fn peer_id(&self) -> u32 {
        self.peer_id
    }

    /// The peer's latest peer info.
    pub fn peer_info(&self) -> Option<&PeerInfo> {
        self.peer_info.as_ref()
    }

    /// True while an ephemeral key is in use.
    pub fn key_is_ephemeral(&self) -> bool {
        self.keys.ephemeral
    }

    /// True between NetworkUp and NetworkDown.
    pub fn session_is_up(&self) -> bool {
        self.session_up
    }

    /// The nonce the next datagram will carry.
    pub fn send_nonce(&self) -> Nonce {
        self.send.peek()
    }

    /// The local reset point on disk, as the parent last confirmed it:
    /// above every nonce sent.
    pub fn local_reset_point(&self) -> Nonce {
        self.send.reset_point()
    }

    /// Datagrams sent since the local nonce was last persisted (about).
    pub fn nonces_since_reset(&self) -> u64 {
        self.send.since_reset()
    }

    /// The highest nonce received.
    pub fn recv_nonce(&self) -> Nonce {
        *self.window.highest()
    }

    /// How long the current key has been in use (zero before the first).
    pub fn key_age(&self, now: Timestamp) -> Duration {
        if self.keys.ephemeral {
            now - self.key_started
        } else {
            Duration::ZERO
        }
    }

    /// How long the current session has been up.
    pub fn session_age(&self, now: Timestamp) -> Option<Duration> {
        self.session_started.map(|t| now - t)
    }

    /// Time spent with a session up, in all (the state dump's "active").
    pub fn time_active(&self, now: Timestamp) -> Duration {
        self.active_before + self.session_age(now).unwrap_or_default()
    }

    /// Time spent without a session, in all (the state dump's "inactive").
    pub fn time_inactive(&self, now: Timestamp) -> Duration {
        let current = if self.session_up {
            Duration::ZERO
        } else {
            now - self.down_since
        };
        self.inactive_before + current
    }

    /// How long ago the last authenticated datagram arrived.
    pub fn last_heard(&self, now: Timestamp) -> Option<Duration> {
        self.last_heard.map(|t| now - t)
    }

    /// How long the session has been in its current state.
    pub fn time_in_state(&self, now: Timestamp) -> Duration {
        now - self.state_since
    }
}

pub(crate) fn frame_drop(e: FrameError) -> DropReason {
    match e {
        FrameError::TooShort(_) => DropReason::TooShort,
        FrameError::TooLong(_) | FrameError::BufferTooSmall { .. } => DropReason::TooLong,
        FrameError::UnknownType(_) => DropReason::UnknownType,
        FrameError::BodyLength { .. } => DropReason::BadBody,
    }
}

pub(crate) fn stale_drop(s: Stale) -> DropReason {
    match s {
        Stale::Replayed => DropReason::Replayed,
        Stale::NotAbove => DropReason::NonceNotAbove,
        Stale::TooOld => DropReason::NonceTooOld,
    }
}
