//! Sending: sealing tun packets and control messages, nonces, rotation.

use vpnd_crypto::Nonce;

use super::nonces::Purpose;
use super::{DropReason, Entropy, Event, Session, State, Transmit, frame_drop};
use crate::Timestamp;
use crate::config::Role;
use crate::wire::{self, MessageType, PeerInfo};

impl<E: Entropy> Session<E> {
    // ----- sending ------------------------------------------------------

    pub(super) fn seal_data(
        &mut self,
        now: Timestamp,
        buf: &mut [u8],
        len: usize,
    ) -> Result<usize, DropReason> {
        if len == 0 || len > wire::MAX_BODY {
            return Err(DropReason::BadPacketSize);
        }
        if !self.keys.ephemeral || self.peer.is_none() {
            return Err(DropReason::NoSession);
        }
        let nonce = self
            .next_nonce(Purpose::Data)
            .ok_or(DropReason::NonceWait)?;
        let n = wire::seal_in_place(&self.keys.current, &nonce, MessageType::Data, buf, len)
            .map_err(frame_drop)?;
        self.key_packets += 1;
        self.stats.tx_packets += 1;
        self.stats.tx_data_bytes += len as u64;
        self.check_rotation(now);
        Ok(n)
    }

    pub(super) fn send_peer_info(&mut self) {
        let info = self.own_peer_info().encode();
        self.send_control(MessageType::PeerInfo, &info);
    }

    /// Seals a control message under the current key and queues it.
    pub(super) fn send_control(&mut self, msg_type: MessageType, body: &[u8]) {
        self.send_under(msg_type, body, false);
    }

    /// Seals a control message under the current key, or with
    /// `retransmit_key` under the key it first went out under, and queues
    /// it for the peer.
    pub(super) fn send_under(&mut self, msg_type: MessageType, body: &[u8], retransmit_key: bool) {
        let Some(dest) = self.peer else { return };
        let Some(nonce) = self.next_nonce(Purpose::Control) else {
            // Not a drop: the state's own message goes out when the parent
            // confirms the next reset point.
            self.control_starved = true;
            return;
        };
        let key = match (&self.keys.retransmit, retransmit_key) {
            (Some(old), true) => old,
            _ => &self.keys.current,
        };
        let mut datagram = vec![0u8; wire::OVERHEAD + body.len()];
        if wire::seal(key, &nonce, msg_type, body, &mut datagram).is_err() {
            return;
        }
        if !retransmit_key {
            self.key_packets += 1;
        }
        self.stats.tx_packets += 1;
        self.transmits.push_back(Transmit { dest, datagram });
    }

    /// A nonce below the confirmed reset point, if one is left for
    /// `purpose`; asks for the next reset point when it is due.
    pub(super) fn next_nonce(&mut self, purpose: Purpose) -> Option<Nonce> {
        let (nonce, persist) = self.send.take(purpose);
        if let Some(reset_point) = persist {
            self.events.push_back(Event::PersistLocalNonce(reset_point));
        }
        nonce
    }

    /// The parent confirmed a local reset point on disk. A control message
    /// that found no nonce is made good by the state's own message now,
    /// not at its next timer (the first PEER_INFO after a start, a
    /// handshake step, a heartbeat).
    pub(super) fn reset_point_saved(&mut self, now: Timestamp, point: Nonce) {
        self.send.confirmed(point);
        if !std::mem::take(&mut self.control_starved) {
            return;
        }
        match self.state {
            State::HostWait => {}
            State::Init | State::ActiveMaster | State::ActiveSlave => self.send_peer_info(),
            State::MasterKeyStale | State::SlaveKeySwitching | State::MasterKeyReady => {
                self.retransmit_handshake(now)
            }
        }
    }

    pub(super) fn persist_remote(&mut self) {
        self.received_since_persist = 0;
        self.events
            .push_back(Event::PersistRemoteNonce(*self.window.highest()));
    }

    /// The master rotates on age or packet count (both directions'),
    /// checked on every datagram, not only at heartbeat time (W18).
    pub(super) fn check_rotation(&mut self, now: Timestamp) {
        let due = self.key_packets >= self.config.max_key_packets
            || now - self.key_started >= self.config.max_key_age;
        if self.state == State::ActiveMaster && due {
            self.enter(now, State::MasterKeyStale);
        }
    }

    pub(super) fn own_peer_info(&self) -> PeerInfo {
        match (&self.config.role, &self.config.push) {
            (Role::HostGw, Some(push)) => {
                PeerInfo::for_host_gw(self.peer_id, push, self.config.inet6_family)
            }
            _ => PeerInfo::id_only(self.peer_id),
        }
    }
}
