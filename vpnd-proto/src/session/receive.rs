//! Receiving: authenticate, check the nonce, and act on each message.

use std::net::SocketAddr;
use std::ops::Range;

use vpnd_crypto::{Freshness, PublicKey, ReplayRule, SharedKey};

use super::keys::KeyUsed;
use super::timer::{PEER_INFO_ANSWER_INTERVAL, Timer};
use super::{
    DEAD_AFTER, DropReason, Entropy, Event, HANDSHAKE_INTERVAL, PREVIOUS_KEY_GRACE, Session, State,
    frame_drop, stale_drop,
};
use crate::Timestamp;
use crate::wire::{self, Message, MessageType, PeerInfo};

impl<E: Entropy> Session<E> {
    // ----- receiving ----------------------------------------------------

    pub(super) fn receive(
        &mut self,
        now: Timestamp,
        from: SocketAddr,
        buf: &mut [u8],
    ) -> Result<Option<Range<usize>>, DropReason> {
        let nonce = wire::read_nonce(buf).map_err(frame_drop)?;
        let used = self.keys.open(buf).ok_or(DropReason::DecryptFailure)?;
        let rule = if used == KeyUsed::Static || !self.keys.ephemeral {
            ReplayRule::StrictlyAbove
        } else {
            ReplayRule::Window
        };
        let fresh = self.window.accept(&nonce, rule).map_err(stale_drop)?;
        self.count_received(fresh, used);
        let known_source = self.peer == Some(from);
        if !known_source && self.state != State::HostWait {
            // Roaming: only an authentic datagram newer than anything seen
            // moves the peer; a replay cannot get here (the window), and a
            // late one from elsewhere is not trusted to move it.
            if fresh != Freshness::InOrder {
                return Err(DropReason::WrongSource);
            }
            self.peer = Some(from);
            self.events.push_back(Event::PeerAddress(Some(from)));
        }
        self.last_heard = Some(now);
        if self.timers.get(Timer::Liveness).is_some() {
            self.timers.set(Timer::Liveness, now + DEAD_AFTER);
        }
        let len = buf.len();
        let plain = buf.get(wire::TYPE_OFFSET..).unwrap_or_default();
        match wire::decode_plaintext(plain).map_err(frame_drop)? {
            Message::PeerInfo(info) => self.on_peer_info(now, from, used, info),
            Message::KeySwitchStart(pk) => self.on_key_switch_start(now, used, pk),
            Message::KeySwitchAck(pk) => self.on_key_switch_ack(now, used, pk),
            Message::KeyReady(info) => self.on_key_ready(now, used, info),
            Message::DebugString(text) => {
                self.stats.rx_data_bytes += plain.len().saturating_sub(1) as u64;
                self.events.push_back(Event::DebugString(text.to_vec()));
                Ok(None)
            }
            Message::Data(_) => self.on_data(now, used, len),
        }
    }

    pub(super) fn count_received(&mut self, fresh: Freshness, used: KeyUsed) {
        self.stats.rx_packets += 1;
        if fresh == Freshness::Late {
            self.stats.rx_late += 1;
            if used == KeyUsed::Current {
                self.stats.rx_cur_key_late += 1;
            }
        }
        self.received_since_persist += 1;
        if self.received_since_persist >= self.config.nonce_reset_incr {
            self.persist_remote();
        }
    }

    pub(super) fn on_peer_info(
        &mut self,
        now: Timestamp,
        from: SocketAddr,
        used: KeyUsed,
        info: PeerInfo,
    ) -> Result<Option<Range<usize>>, DropReason> {
        let previous_id = self.peer_info.map(|p| p.peer_id);
        self.peer_info = Some(info);
        let restarted = match used {
            // A static-key PEER_INFO while ephemeral keys are in use: the
            // window let it through, so it is newer than anything the peer
            // sent before (doc/protocol.md step 11).
            KeyUsed::Static => true,
            // The first handshake, still on the static key.
            KeyUsed::Current if !self.keys.ephemeral => match self.state {
                // A master in a handshake sends no PEER_INFO: it is back in
                // INIT (restarted, or it gave up on us).
                State::SlaveKeySwitching => true,
                // The slave sends PEER_INFO in INIT; a new id is a new process.
                State::MasterKeyStale => previous_id.is_some_and(|id| id != info.peer_id),
                _ => false,
            },
            KeyUsed::Current | KeyUsed::Previous => false,
        };
        if restarted {
            self.stats.peer_restarts += 1;
            self.events.push_back(Event::PeerRestarted);
            self.enter(now, State::Init);
        }
        match self.state {
            State::HostWait => {
                self.peer = Some(from);
                self.events.push_back(Event::PeerAddress(Some(from)));
                self.elect(now, info.peer_id);
            }
            State::Init => self.elect(now, info.peer_id),
            State::MasterKeyReady if used == KeyUsed::Current => {
                self.keys.previous = None;
                self.enter(now, State::ActiveMaster);
            }
            // A heartbeat or a retransmission: liveness was fed above.
            _ => {}
        }
        Ok(None)
    }

    /// The election of doc/protocol.md step 2: the smaller id is master.
    pub(super) fn elect(&mut self, now: Timestamp, their_id: u32) {
        if self.peer_id < their_id {
            self.enter(now, State::MasterKeyStale);
        } else if self.peer_id == their_id {
            self.peer_id = self.draw_peer_id();
            self.enter_or_send_peer_info(now);
        } else if self.state == State::HostWait {
            self.enter(now, State::Init);
        } else if self
            .last_answer
            .is_none_or(|t| now - t >= PEER_INFO_ANSWER_INTERVAL)
        {
            // The slave answers at once so the master need not wait for our
            // next retransmission (W19).
            self.last_answer = Some(now);
            self.send_peer_info();
        }
    }

    pub(super) fn enter_or_send_peer_info(&mut self, now: Timestamp) {
        if self.state == State::HostWait {
            self.enter(now, State::Init);
        } else {
            self.send_peer_info();
        }
    }

    pub(super) fn on_key_switch_start(
        &mut self,
        now: Timestamp,
        used: KeyUsed,
        master_pk: PublicKey,
    ) -> Result<Option<Range<usize>>, DropReason> {
        let may_switch = match self.state {
            State::Init | State::ActiveSlave => true,
            // A different key: the master began a new exchange.
            State::SlaveKeySwitching => self.keys.answered != Some(master_pk),
            _ => false,
        };
        if !may_switch || used != KeyUsed::Current {
            return Err(DropReason::Unexpected);
        }
        let pair = self.draw_key_pair();
        let new_key =
            SharedKey::precompute(&master_pk, &pair.secret).map_err(|_| DropReason::BadBody)?;
        self.keys.pending = Some(new_key);
        self.keys.own_pair = Some(pair);
        self.keys.answered = Some(master_pk);
        self.enter(now, State::SlaveKeySwitching);
        Ok(None)
    }

    pub(super) fn on_key_switch_ack(
        &mut self,
        now: Timestamp,
        used: KeyUsed,
        slave_pk: PublicKey,
    ) -> Result<Option<Range<usize>>, DropReason> {
        if self.state != State::MasterKeyStale || used != KeyUsed::Current {
            return Err(DropReason::Unexpected);
        }
        let Some(pair) = self.keys.own_pair.as_ref() else {
            return Err(DropReason::Unexpected);
        };
        let new_key =
            SharedKey::precompute(&slave_pk, &pair.secret).map_err(|_| DropReason::BadBody)?;
        // KEY_READY goes under the old key, and so do its retransmissions.
        self.keys.retransmit = Some(self.keys.current.clone());
        let info = self.own_peer_info().encode();
        self.send_control(MessageType::KeyReady, &info);
        self.keys.switch_to(new_key);
        self.enter(now, State::MasterKeyReady);
        Ok(None)
    }

    pub(super) fn on_key_ready(
        &mut self,
        now: Timestamp,
        used: KeyUsed,
        info: PeerInfo,
    ) -> Result<Option<Range<usize>>, DropReason> {
        match (self.state, used) {
            (State::SlaveKeySwitching, KeyUsed::Current) => {
                let Some(new_key) = self.keys.pending.take() else {
                    return Err(DropReason::Unexpected);
                };
                self.peer_info = Some(info);
                self.keys.switch_to(new_key);
                self.timers
                    .set(Timer::PreviousKey, now + PREVIOUS_KEY_GRACE);
                self.enter(now, State::ActiveSlave);
                Ok(None)
            }
            // Our PEER_INFO under the new key was lost: the master is still
            // resending KEY_READY. Answer it rather than wait for a heartbeat.
            (State::ActiveSlave, KeyUsed::Previous | KeyUsed::Static) => {
                if self
                    .last_answer
                    .is_none_or(|t| now - t >= HANDSHAKE_INTERVAL)
                {
                    self.last_answer = Some(now);
                    self.send_peer_info();
                }
                Ok(None)
            }
            _ => Err(DropReason::Unexpected),
        }
    }

    pub(super) fn on_data(
        &mut self,
        now: Timestamp,
        used: KeyUsed,
        len: usize,
    ) -> Result<Option<Range<usize>>, DropReason> {
        if used == KeyUsed::Static || (used == KeyUsed::Current && !self.keys.ephemeral) {
            return Err(DropReason::StaticKeyData);
        }
        if !self.state.delivers_data() {
            return Err(DropReason::Unexpected);
        }
        if used == KeyUsed::Current
            && matches!(self.state, State::MasterKeyReady | State::ActiveMaster)
        {
            // The slave uses the new key: nothing more will come under the old.
            self.keys.previous = None;
            self.timers.stop(Timer::PreviousKey);
            if self.state == State::MasterKeyReady {
                self.enter(now, State::ActiveMaster);
            }
        }
        self.stats.rx_data_bytes += (len - wire::BODY_OFFSET) as u64;
        if used == KeyUsed::Current {
            // The slave's direction counts too (W18: the deployed master
            // limits only its own), so neither direction seals more than
            // max_key_packets datagrams under one key before a rotation
            // starts.
            self.key_packets += 1;
            self.check_rotation(now);
        }
        Ok(Some(wire::BODY_OFFSET..len))
    }
}
