//! Timers and state entry: what each state does when entered or when a
//! timer fires (doc/deployed-peer.md 5.1 and 5.3, with doc/protocol.md's improvements).

use super::timer::Timer;
use super::{
    DEAD_AFTER, Entropy, Event, HANDSHAKE_INTERVAL, HEARTBEAT_INTERVAL, HOST_GIVE_UP,
    PEER_INFO_INTERVAL, PREVIOUS_KEY_GRACE, Session, State,
};
use crate::Timestamp;
use crate::config::Role;
use crate::wire::{MessageType, Outside, PeerInfo, Pushed};

use vpnd_crypto::{KeyPair, SecretKey};

impl<E: Entropy> Session<E> {
    // ----- timers and states --------------------------------------------

    pub(super) fn on_timer(&mut self, now: Timestamp, timer: Timer) {
        match timer {
            Timer::Liveness => {
                if !matches!(self.state, State::Init | State::HostWait) {
                    self.stats.peer_deaths += 1;
                    self.events.push_back(Event::PeerDied);
                    self.enter(now, State::Init);
                }
            }
            Timer::PreviousKey => self.keys.previous = None,
            Timer::HostGiveUp => {
                if self.state == State::Init && self.config.role == Role::HostGw {
                    self.enter(now, State::HostWait);
                }
            }
            Timer::PeerInfo => {
                if self.state == State::Init {
                    self.stats.peer_info_retransmits += 1;
                    self.send_peer_info();
                    self.timers.set(Timer::PeerInfo, now + PEER_INFO_INTERVAL);
                }
            }
            Timer::Handshake => self.retransmit_handshake(now),
            Timer::KeyAge => self.check_rotation(now),
            Timer::Heartbeat => {
                if self.state.is_active() {
                    self.send_peer_info();
                    self.timers.set(Timer::Heartbeat, now + HEARTBEAT_INTERVAL);
                    self.check_rotation(now);
                }
            }
        }
    }

    pub(super) fn retransmit_handshake(&mut self, now: Timestamp) {
        match self.state {
            State::MasterKeyStale => {
                self.stats.key_switch_start_retransmits += 1;
                self.send_own_public(MessageType::KeySwitchStart);
            }
            State::SlaveKeySwitching => {
                self.stats.key_ack_retransmits += 1;
                self.send_own_public(MessageType::KeySwitchAck);
            }
            State::MasterKeyReady => {
                self.stats.key_ready_retransmits += 1;
                let info = self.own_peer_info().encode();
                self.send_under(MessageType::KeyReady, &info, true);
            }
            _ => return,
        }
        self.timers.set(Timer::Handshake, now + HANDSHAKE_INTERVAL);
    }

    pub(super) fn send_own_public(&mut self, msg_type: MessageType) {
        if let Some(pk) = self.keys.own_pair.as_ref().map(|p| p.public) {
            self.send_control(msg_type, pk.as_bytes());
        }
    }

    /// Enters `to` and runs its entry actions (doc/deployed-peer.md 5.1).
    pub(super) fn enter(&mut self, now: Timestamp, to: State) {
        let from = self.state;
        self.state = to;
        self.state_since = now;
        self.events.push_back(Event::StateChanged { from, to });
        let from_idle = matches!(from, State::Init | State::HostWait);
        match to {
            State::HostWait => {
                self.keys.reset_to_static();
                self.timers.stop_all();
                self.end_session(now);
                if self.peer.take().is_some() {
                    self.events.push_back(Event::PeerAddress(None));
                }
            }
            State::Init => {
                self.keys.reset_to_static();
                self.timers.stop_all();
                self.end_session(now);
                if self.config.role == Role::HostGw {
                    self.timers.set(Timer::HostGiveUp, now + HOST_GIVE_UP);
                }
                self.send_peer_info();
                self.timers.set(Timer::PeerInfo, now + PEER_INFO_INTERVAL);
            }
            State::MasterKeyStale => {
                let pair = self.draw_key_pair();
                self.keys.own_pair = Some(pair);
                self.start_handshake(now, from_idle);
                self.send_own_public(MessageType::KeySwitchStart);
            }
            State::SlaveKeySwitching => {
                self.start_handshake(now, from_idle);
                self.send_own_public(MessageType::KeySwitchAck);
            }
            State::MasterKeyReady => {
                self.timers.set(Timer::Handshake, now + HANDSHAKE_INTERVAL);
                self.timers
                    .set(Timer::PreviousKey, now + PREVIOUS_KEY_GRACE);
            }
            State::ActiveMaster | State::ActiveSlave => self.enter_active(now),
        }
    }

    /// Leaving INIT starts the liveness clock, so a lost handshake message
    /// is retransmitted instead of the peer being declared dead (W4).
    pub(super) fn start_handshake(&mut self, now: Timestamp, from_idle: bool) {
        self.timers.stop(Timer::PeerInfo);
        self.timers.stop(Timer::HostGiveUp);
        if from_idle {
            self.timers.set(Timer::Liveness, now + DEAD_AFTER);
        }
        self.timers.set(Timer::Handshake, now + HANDSHAKE_INTERVAL);
    }

    pub(super) fn enter_active(&mut self, now: Timestamp) {
        self.timers.stop(Timer::Handshake);
        self.keys.retransmit = None;
        self.key_started = now;
        self.key_packets = 0;
        self.stats.keys += 1;
        if !self.session_up {
            self.begin_session(now);
        }
        self.send_peer_info();
        self.timers.set(Timer::Heartbeat, now + HEARTBEAT_INTERVAL);
        if self.state == State::ActiveMaster {
            self.timers
                .set(Timer::KeyAge, now + self.config.max_key_age);
        }
    }

    pub(super) fn begin_session(&mut self, now: Timestamp) {
        let Some(peer) = self.peer else { return };
        self.session_up = true;
        self.session_started = Some(now);
        self.inactive_before += now - self.down_since;
        self.stats.sessions += 1;
        let pushed = match self.config.role {
            Role::Host => self.pushed_values(),
            Role::NetGw | Role::HostGw => None,
        };
        self.events.push_back(Event::NetworkUp { peer, pushed });
        self.persist_remote();
    }

    /// What the gateway pushed, if it passes both the checks of its form
    /// and those of how far it reaches (against the peer this session
    /// talks to; the parent judges again with what it knows itself).
    pub(super) fn pushed_values(&mut self) -> Option<Pushed> {
        let outside = Outside {
            min_prefix: self.config.min_pushed_prefix,
            gateway: self.peer.map(|p| p.ip()),
            own: None,
        };
        let checked = |info: &PeerInfo| {
            let pushed = info.pushed()?;
            if let Some(p) = &pushed {
                p.check_outside(&outside)?;
            }
            Ok(pushed)
        };
        match self.peer_info.as_ref().map(checked) {
            Some(Ok(pushed)) => pushed,
            Some(Err(e)) => {
                self.events.push_back(Event::PushRefused(e));
                None
            }
            None => None,
        }
    }

    pub(super) fn end_session(&mut self, now: Timestamp) {
        if self.session_up {
            self.session_up = false;
            if let Some(started) = self.session_started.take() {
                self.active_before += now - started;
            }
            self.down_since = now;
            self.events.push_back(Event::NetworkDown);
        }
    }

    // ----- randomness ---------------------------------------------------

    /// Our peer id: the upper 16 bits set, the lower 16 random, so that a
    /// deployed peer (uniform ids) almost always becomes master and the
    /// first session starts in one round trip.
    pub(super) fn draw_peer_id(&mut self) -> u32 {
        let mut b = [0u8; 2];
        self.entropy.fill(&mut b);
        0xffff_0000 | u32::from(u16::from_le_bytes(b))
    }

    pub(super) fn draw_key_pair(&mut self) -> KeyPair {
        let mut secret = [0u8; 32];
        self.entropy.fill(&mut secret);
        let pair = KeyPair::from_secret(SecretKey::from_bytes(secret));
        zeroize_array(&mut secret);
        pair
    }
}

fn zeroize_array(bytes: &mut [u8; 32]) {
    use zeroize::Zeroize;
    bytes.zeroize();
}
