//! The one way out to the peer: DATA sealed from tun packets and the
//! control datagrams the session queued go through one send batch in the
//! order the session made them, so a control datagram queued before a DATA
//! (a KEY_READY before the first DATA under the new key) leaves before it.

use std::net::SocketAddr;

use vpnd_proto::Timestamp;
use vpnd_proto::session::{Entropy, Session};
use vpnd_proto::wire;

use crate::report::IoStats;
use crate::tun_io::PacketSink;
use crate::udp::send_batch::SendBatch;
use crate::udp::sockets::UdpSockets;

/// The send batch.
#[derive(Debug)]
pub struct Outbound {
    batch: SendBatch,
}

impl Outbound {
    /// With `gso`, runs of equal-sized DATA leave in one UDP_SEGMENT send
    /// each.
    pub fn new(gso: bool) -> Outbound {
        Outbound {
            batch: SendBatch::new(gso),
        }
    }

    /// Moves the control datagrams the session queued into the batch,
    /// behind what it holds.
    pub fn take_control<E: Entropy>(
        &mut self,
        session: &mut Session<E>,
        udp: &mut UdpSockets,
        io: &mut IoStats,
    ) {
        while let Some(t) = session.poll_transmit() {
            self.push_control(&t.datagram, t.dest, udp, io);
        }
    }

    /// Queues one control datagram for `dest` (as the session writes
    /// addresses) behind what the batch holds.
    pub fn push_control(
        &mut self,
        datagram: &[u8],
        dest: SocketAddr,
        udp: &mut UdpSockets,
        io: &mut IoStats,
    ) {
        self.make_room(udp, io);
        if !self.batch.push_control(datagram, udp.destination(dest)) {
            io.udp_send_errors += 1;
        }
    }

    /// Sends what the batch holds.
    pub fn send(&mut self, udp: &mut UdpSockets, io: &mut IoStats) {
        let sent = self.batch.send(udp);
        io.udp_send_errors += sent.refused;
        if let Some(errno) = sent.gso_failed {
            io.offloads.udp_gso = false;
            log::warn!(
                "UDP segmentation refused by the kernel ({errno}): datagrams now leave one by one"
            );
        }
    }

    /// Sends the batch if no slot is free.
    fn make_room(&mut self, udp: &mut UdpSockets, io: &mut IoStats) {
        if self.batch.is_full() {
            self.send(udp, io);
        }
    }
}

/// Seals what the tun hands over into the batch, each packet behind the
/// control datagrams the session queued before it was sealed.
#[derive(Debug)]
pub struct Sealer<'a, E: Entropy> {
    /// The session that seals (and may queue control datagrams).
    pub session: &'a mut Session<E>,
    /// The batch the sealed packets join.
    pub out: &'a mut Outbound,
    /// The sockets the batch leaves by when it fills up.
    pub udp: &'a mut UdpSockets,
    /// Where refused sends are counted.
    pub io: &'a mut IoStats,
    /// The time the packets are sealed at.
    pub now: Timestamp,
}

impl<E: Entropy> PacketSink for Sealer<'_, E> {
    fn room(&mut self) -> &mut [u8] {
        self.out.take_control(self.session, self.udp, self.io);
        self.out.make_room(self.udp, self.io);
        &mut self.out.batch.next_slot()[wire::BODY_OFFSET..]
    }

    fn take(&mut self, len: usize) {
        let sealed = self
            .session
            .seal_packet(self.now, self.out.batch.next_slot(), len);
        // A packet is sealed only while the session has a peer.
        if let (Ok(sealed), Some(peer)) = (sealed, self.session.peer()) {
            let to = self.udp.destination(peer);
            self.out.batch.commit_data(sealed, to);
        }
    }
}
