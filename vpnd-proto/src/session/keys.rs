//! The keys a session holds at once, and which of them opened a datagram.

use vpnd_crypto::{KeyPair, PublicKey, SharedKey};

use crate::wire;

/// Which key opened a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyUsed {
    /// The key in use.
    Current,
    /// The key in use before the last switch, within its grace period.
    Previous,
    /// The static key, while an ephemeral key is in use (a restarted peer).
    Static,
}

/// Every key of a session (doc/deployed-peer.md section 4, plus the previous key of
/// doc/protocol.md step 12).
#[derive(Debug)]
pub(crate) struct KeySet {
    /// From `local_sk` and `remote_pk`: starts every session.
    pub(crate) static_key: SharedKey,
    /// Seals everything sent, opens first.
    pub(crate) current: SharedKey,
    /// False while `current` is the static key.
    pub(crate) ephemeral: bool,
    /// The key before the last switch: opens (never seals) for a grace time.
    pub(crate) previous: Option<SharedKey>,
    /// True when `previous` is the static key (the first switch).
    previous_is_static: bool,
    /// Master in MASTER_KEY_READY: the old key its KEY_READY goes under.
    pub(crate) retransmit: Option<SharedKey>,
    /// Our half of the exchange in progress: master in MASTER_KEY_STALE,
    /// slave in SLAVE_KEY_SWITCHING (its public key is what we resend).
    pub(crate) own_pair: Option<KeyPair>,
    /// Slave in SLAVE_KEY_SWITCHING: the key KEY_READY will switch to.
    pub(crate) pending: Option<SharedKey>,
    /// Slave: the master's public key that `pending` answers.
    pub(crate) answered: Option<PublicKey>,
}

impl KeySet {
    pub(crate) fn new(static_key: SharedKey) -> Self {
        KeySet {
            current: static_key.clone(),
            static_key,
            ephemeral: false,
            previous: None,
            previous_is_static: false,
            retransmit: None,
            own_pair: None,
            pending: None,
            answered: None,
        }
    }

    /// Back to the static key, forgetting every ephemeral one.
    pub(crate) fn reset_to_static(&mut self) {
        *self = KeySet::new(self.static_key.clone());
    }

    /// Switches to `new`, keeping the old key for receiving.
    pub(crate) fn switch_to(&mut self, new: SharedKey) {
        let old = std::mem::replace(&mut self.current, new);
        self.previous = Some(old);
        self.previous_is_static = !self.ephemeral;
        self.ephemeral = true;
        self.pending = None;
        self.own_pair = None;
        self.answered = None;
    }

    /// Opens `datagram` in place under the current key, then the previous
    /// one, then (only for a 133-byte datagram while an ephemeral key is in
    /// use: a PEER_INFO of a restarted peer) the static key. At most two
    /// MAC checks for any other datagram. The static key reports as
    /// [`KeyUsed::Static`] whenever an ephemeral key is in use, also when it
    /// is the previous key.
    pub(crate) fn open(&self, datagram: &mut [u8]) -> Option<KeyUsed> {
        if wire::open_in_place(&self.current, datagram).is_ok() {
            return Some(KeyUsed::Current);
        }
        if let Some(prev) = &self.previous
            && wire::open_in_place(prev, datagram).is_ok()
        {
            return Some(if self.previous_is_static {
                KeyUsed::Static
            } else {
                KeyUsed::Previous
            });
        }
        let peer_info_size = wire::OVERHEAD + wire::PEER_INFO_LEN;
        let static_tried = self.previous.is_some() && self.previous_is_static;
        if self.ephemeral
            && !static_tried
            && datagram.len() == peer_info_size
            && wire::open_in_place(&self.static_key, datagram).is_ok()
        {
            return Some(KeyUsed::Static);
        }
        None
    }
}
