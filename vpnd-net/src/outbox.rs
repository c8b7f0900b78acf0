//! The requests the network process owes its parent, waiting for the
//! channel. A parent busy with one command (up to 10 s) or with fsyncs
//! must not stop the loop, nor kill it: a send that would block leaves the
//! request here, and the loop sends it when the channel is writable again
//! while it goes on forwarding packets.
//!
//! Nonce writes are coalesced: at most one per file is unanswered (the
//! parent answers each with `NonceSaved` or `NonceRefused`), and a newer
//! value replaces one that waits, since only the newest reset point
//! matters. The other requests keep their order and are never dropped; a
//! `NetworkUp` the parent has not been sent yet is withdrawn with the
//! `NetworkDown` that follows it (the session ended before the parent heard
//! of it), so that they cannot pile up however the sessions come and go;
//! a `ResolvePeer` that waits already stands for a second one.

use std::collections::VecDeque;
use std::time::Duration;

use rustix::io::Errno;
use vpnd_proto::Timestamp;
use vpnd_proto::ipc::{self, IpcError, NonceSlot, ToParent};

use crate::transport::{Channel, TransportError};

/// The most ordered requests that can wait. Withdrawn pairs leave at most
/// a `NetworkDown` and a `NetworkUp` of the sessions, the loop asks for
/// a connected socket again only after the answer, and a waiting
/// `ResolvePeer` is not doubled, so a correct loop has four at most; more
/// is a bug, reported, not a reason to grow.
pub const MAX_ORDERED: usize = 5;

/// How long a nonce file rests after the parent refused a write before the
/// value is asked for again (a refusal is counted, and a loop that asked
/// again at once would be counted without end).
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Why a request could not be queued or sent.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// More ordered requests than a correct loop produces.
    #[error("more than {MAX_ORDERED} requests wait for the parent")]
    Full,
    /// The channel failed (other than by being full).
    #[error("{0}")]
    Transport(#[from] TransportError),
    /// A request did not encode.
    #[error("{0}")]
    Encode(#[from] IpcError),
}

/// One nonce file's writes.
#[derive(Debug, Default)]
struct NonceWrites {
    /// Sent, not yet answered.
    in_flight: bool,
    /// The newest value not yet sent.
    waiting: Option<[u8; 24]>,
    /// Refused last time: ask again only from then.
    rest_until: Option<Timestamp>,
}

impl NonceWrites {
    fn sendable(&self, now: Timestamp) -> Option<[u8; 24]> {
        let rested = self.rest_until.is_none_or(|t| now >= t);
        (!self.in_flight && rested)
            .then_some(self.waiting)
            .flatten()
    }
}

/// The requests waiting for the channel.
#[derive(Debug, Default)]
pub struct Outbox {
    ordered: VecDeque<ToParent>,
    local: NonceWrites,
    remote: NonceWrites,
    /// The last send would have blocked: wait for the channel to be
    /// writable.
    blocked: bool,
}

impl Outbox {
    /// Nothing waiting.
    pub fn new() -> Self {
        Outbox::default()
    }

    fn slot(&mut self, slot: NonceSlot) -> &mut NonceWrites {
        match slot {
            NonceSlot::Local => &mut self.local,
            NonceSlot::Remote => &mut self.remote,
        }
    }

    /// Queues `request` (it leaves at the next [`Outbox::send`]).
    pub fn push(&mut self, request: ToParent) -> Result<(), OutboxError> {
        match request {
            ToParent::PersistNonce { slot, nonce } => {
                self.slot(slot).waiting = Some(nonce);
                return Ok(());
            }
            ToParent::NetworkDown => {
                let last_session = self
                    .ordered
                    .iter()
                    .rposition(|r| matches!(r, ToParent::NetworkUp { .. } | ToParent::NetworkDown));
                if let Some(i) = last_session
                    && matches!(self.ordered[i], ToParent::NetworkUp { .. })
                {
                    self.ordered.remove(i);
                    return Ok(());
                }
            }
            ToParent::ResolvePeer if self.ordered.contains(&ToParent::ResolvePeer) => {
                return Ok(());
            }
            _ => {}
        }
        if self.ordered.len() >= MAX_ORDERED {
            return Err(OutboxError::Full);
        }
        self.ordered.push_back(request);
        Ok(())
    }

    /// Sends what may go, in order, until the channel would block.
    pub fn send(&mut self, channel: &Channel, now: Timestamp) -> Result<(), OutboxError> {
        self.blocked = false;
        while let Some(request) = self.ordered.front() {
            if !send_one(channel, request)? {
                self.blocked = true;
                return Ok(());
            }
            self.ordered.pop_front();
        }
        for slot in [NonceSlot::Local, NonceSlot::Remote] {
            let Some(nonce) = self.slot(slot).sendable(now) else {
                continue;
            };
            if !send_one(channel, &ToParent::PersistNonce { slot, nonce })? {
                self.blocked = true;
                return Ok(());
            }
            let writes = self.slot(slot);
            writes.in_flight = true;
            writes.waiting = None;
            writes.rest_until = None;
        }
        Ok(())
    }

    /// The parent wrote the file of `slot`: the next value may go.
    pub fn saved(&mut self, slot: NonceSlot) {
        self.slot(slot).in_flight = false;
    }

    /// The parent did not write `nonce` to the file of `slot`: it is asked
    /// for again after [`RETRY_AFTER`], unless a newer value is by then.
    pub fn refused(&mut self, slot: NonceSlot, nonce: [u8; 24], now: Timestamp) {
        let writes = self.slot(slot);
        writes.in_flight = false;
        writes.waiting.get_or_insert(nonce);
        writes.rest_until = Some(now + RETRY_AFTER);
    }

    /// The channel was full at the last send: watch it for room.
    pub fn blocked(&self) -> bool {
        self.blocked
    }

    /// When a refused nonce write may be asked for again.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        [&self.local, &self.remote]
            .into_iter()
            .filter(|w| w.waiting.is_some())
            .filter_map(|w| w.rest_until)
            .min()
    }

    /// Nothing waits and nothing is unanswered.
    pub fn idle(&self) -> bool {
        let quiet = |w: &NonceWrites| !w.in_flight && w.waiting.is_none();
        self.ordered.is_empty() && quiet(&self.local) && quiet(&self.remote)
    }
}

/// Sends one request; false when the channel would block.
fn send_one(channel: &Channel, request: &ToParent) -> Result<bool, OutboxError> {
    let frame = ipc::encode(request)?;
    match channel.send(&frame, &[]) {
        Ok(()) => Ok(true),
        Err(TransportError::Io(Errno::AGAIN)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::FrameBuffer;

    fn nonce(n: u8) -> ToParent {
        ToParent::PersistNonce {
            slot: NonceSlot::Local,
            nonce: [n; 24],
        }
    }

    fn up() -> ToParent {
        ToParent::NetworkUp {
            peer: "198.18.0.2:4706".parse().unwrap(),
            pushed: None,
        }
    }

    fn received(channel: &Channel) -> Vec<ToParent> {
        crate::transport::set_nonblocking(std::os::fd::AsFd::as_fd(channel)).unwrap();
        let mut buf: Box<FrameBuffer> = Box::new([0; ipc::MAX_FRAME + 1]);
        let mut got = Vec::new();
        while let Ok(r) = channel.recv(&mut buf) {
            got.push(ipc::decode_to_parent(&buf[..r.len]).unwrap());
        }
        got
    }

    #[test]
    fn one_nonce_write_in_flight_the_newest_waiting() {
        let (child, parent) = Channel::pair().unwrap();
        let mut out = Outbox::new();
        let now = Timestamp::ZERO;
        for n in 1..=3 {
            out.push(nonce(n)).unwrap();
            out.send(&child, now).unwrap();
        }
        assert_eq!(received(&parent), [nonce(1)]);
        out.saved(NonceSlot::Local);
        out.send(&child, now).unwrap();
        assert_eq!(received(&parent), [nonce(3)]);
        // Refused: asked for again, not at once.
        out.refused(NonceSlot::Local, [3; 24], now);
        out.send(&child, now).unwrap();
        assert_eq!(received(&parent), []);
        assert_eq!(out.next_deadline(), Some(now + RETRY_AFTER));
        out.send(&child, now + RETRY_AFTER).unwrap();
        assert_eq!(received(&parent), [nonce(3)]);
        assert!(!out.idle());
        out.saved(NonceSlot::Local);
        assert!(out.idle());
    }

    #[test]
    fn ordered_requests_wait_for_room_and_sessions_cannot_pile_up() {
        let (child, parent) = Channel::pair().unwrap();
        crate::transport::set_nonblocking(std::os::fd::AsFd::as_fd(&child)).unwrap();
        // Fill the channel as a parent that stopped reading would.
        let filler = ipc::encode(&ToParent::NetworkDown).unwrap();
        let mut filled = 0;
        while child.send(&filler, &[]).is_ok() {
            filled += 1;
        }
        let mut out = Outbox::new();
        let now = Timestamp::ZERO;
        out.push(ToParent::NetworkDown).unwrap();
        for _ in 0..1000 {
            out.push(up()).unwrap();
            out.push(ToParent::NetworkDown).unwrap();
        }
        out.push(up()).unwrap();
        out.send(&child, now).unwrap();
        assert!(out.blocked());
        let connect = ToParent::ConnectPeer {
            peer: "198.18.0.2:4706".parse().unwrap(),
        };
        out.push(connect.clone()).unwrap();
        // A second look-up of the peer's name while one waits is the same.
        out.push(ToParent::ResolvePeer).unwrap();
        out.push(ToParent::ResolvePeer).unwrap();
        out.push(connect.clone()).unwrap();
        assert!(matches!(out.push(connect.clone()), Err(OutboxError::Full)));
        let got = received(&parent);
        assert_eq!(got.len(), filled);
        out.send(&child, now).unwrap();
        assert!(!out.blocked());
        assert_eq!(
            received(&parent),
            [
                ToParent::NetworkDown,
                up(),
                connect.clone(),
                ToParent::ResolvePeer,
                connect
            ]
        );
    }
}
