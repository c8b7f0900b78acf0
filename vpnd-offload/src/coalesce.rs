//! Joining the TCP segments that arrive from the peer into large packets
//! for a tun opened with `IFF_VNET_HDR`: one write (and one pass through
//! the kernel's TCP receive path) for up to 64 KB instead of one per
//! segment, as the kernel's GRO does for a network card.
//!
//! A segment joins the packet held for its flow when everything but the
//! lengths, identification and checksums is equal (addresses, ports,
//! TTL, TOS, acknowledgment, window, options), its sequence number
//! follows, its IPv4 identification follows, and it carries no more
//! payload than the first. A shorter segment or one with PSH ends the
//! packet. Only ACK (and PSH) segments with a valid checksum are joined;
//! anything else passes alone, after what is held for its flow, so the
//! order within a flow never changes. What is held is handed out by
//! [`Coalescer::flush`], which the caller calls once per batch received:
//! nothing waits for more traffic.

use crate::packet::{self, Ip, flags};
use crate::vnet::{self, Header};
use crate::{MAX_FRAME, checksum};

/// Flows held at once; a further flow hands out the oldest.
pub const MAX_FLOWS: usize = 8;

/// One flow's packet being built: the virtio-net header room, then the
/// first segment's headers, then the payloads.
#[derive(Debug)]
struct Held {
    frame: Vec<u8>,
    len: usize,
    ip: Ip,
    tcp_len: usize,
    gso: usize,
    segments: u32,
    next_seq: u32,
    last_id: u16,
    psh: bool,
    closed: bool,
    age: u64,
}

/// The packets being joined, one per flow, in buffers allocated once.
#[derive(Debug)]
pub struct Coalescer {
    held: Vec<Option<Held>>,
    spare: Vec<Vec<u8>>,
    ticks: u64,
}

/// A TCP segment that may be joined.
struct Segment {
    ip: Ip,
    tcp_len: usize,
    payload: usize,
    seq: u32,
    psh: bool,
}

impl Default for Coalescer {
    fn default() -> Self {
        Self::new()
    }
}

impl Coalescer {
    /// Allocates the buffers for [`MAX_FLOWS`] flows.
    pub fn new() -> Coalescer {
        Coalescer {
            held: (0..MAX_FLOWS).map(|_| None).collect(),
            spare: (0..MAX_FLOWS).map(|_| vec![0u8; MAX_FRAME]).collect(),
            ticks: 0,
        }
    }

    /// Offers one packet from the peer. True if it is held (it will come
    /// out of a later `emit`); false if the caller must write it itself,
    /// now: whatever was held for its flow has been emitted first.
    /// `emit` gets whole frames, virtio-net header included.
    pub fn offer(&mut self, packet: &[u8], emit: &mut impl FnMut(&[u8])) -> bool {
        let Some(ip) = Ip::parse(packet) else {
            return false;
        };
        if ip.protocol != packet::TCP || ip.is_fragment(packet) {
            return false;
        }
        let flow = self.flow_of(&ip, packet);
        let Some(seg) = joinable(ip, packet) else {
            if let Some(i) = flow {
                self.emit(i, emit);
            }
            return false;
        };
        if let Some(i) = flow {
            if self.append(i, &seg, packet) {
                return true;
            }
            self.emit(i, emit);
        }
        let i = match self.held.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                let oldest = self.oldest();
                self.emit(oldest, emit);
                oldest
            }
        };
        self.start(i, seg, packet);
        true
    }

    /// Emits everything held, oldest first.
    pub fn flush(&mut self, emit: &mut impl FnMut(&[u8])) {
        while self.held.iter().any(Option::is_some) {
            let oldest = self.oldest();
            self.emit(oldest, emit);
        }
    }

    fn oldest(&self) -> usize {
        let ages = self.held.iter().enumerate();
        ages.filter_map(|(i, h)| h.as_ref().map(|h| (h.age, i)))
            .min()
            .map_or(0, |(_, i)| i)
    }

    /// The slot holding `packet`'s flow (addresses and ports).
    fn flow_of(&self, ip: &Ip, packet: &[u8]) -> Option<usize> {
        let ports = packet.get(ip.header_len..ip.header_len + 4)?;
        let addresses = ip.addresses(packet);
        self.held.iter().position(|h| {
            h.as_ref().is_some_and(|h| {
                let first = &h.frame[vnet::LEN..h.len];
                h.ip.v4 == ip.v4
                    && h.ip.addresses(first) == addresses
                    && first[h.ip.header_len..h.ip.header_len + 4] == *ports
            })
        })
    }

    fn start(&mut self, i: usize, seg: Segment, packet: &[u8]) {
        let mut frame = self.spare.pop().unwrap_or_else(|| vec![0u8; MAX_FRAME]);
        frame[..vnet::LEN].fill(0);
        frame[vnet::LEN..vnet::LEN + packet.len()].copy_from_slice(packet);
        self.ticks += 1;
        self.held[i] = Some(Held {
            frame,
            len: vnet::LEN + packet.len(),
            ip: seg.ip,
            tcp_len: seg.tcp_len,
            gso: seg.payload,
            segments: 1,
            next_seq: seg.seq.wrapping_add(seg.payload as u32),
            last_id: seg.ip.id(packet),
            psh: seg.psh,
            closed: seg.psh,
            age: self.ticks,
        });
    }

    /// Appends `seg` to slot `i` if it may join; false otherwise.
    fn append(&mut self, i: usize, seg: &Segment, packet: &[u8]) -> bool {
        let Some(h) = self.held[i].as_mut() else {
            return false;
        };
        let first = &h.frame[vnet::LEN..h.len];
        let headers = h.ip.header_len + h.tcp_len;
        let fits = h.len + seg.payload <= MAX_FRAME;
        if h.closed
            || !fits
            || seg.ip != h.ip
            || seg.tcp_len != h.tcp_len
            || seg.payload > h.gso
            || seg.seq != h.next_seq
            || seg.ip.id(packet) != h.last_id.wrapping_add(u16::from(h.ip.v4))
            || !same_headers(&h.ip, first, packet, headers)
        {
            return false;
        }
        h.frame[h.len..h.len + seg.payload].copy_from_slice(&packet[headers..]);
        h.len += seg.payload;
        h.segments += 1;
        h.next_seq = h.next_seq.wrapping_add(seg.payload as u32);
        h.last_id = seg.ip.id(packet);
        h.psh = seg.psh;
        h.closed = seg.psh || seg.payload < h.gso;
        true
    }

    /// Hands out slot `i` (a single segment as it came; several joined,
    /// with a GSO header and a partial checksum for the kernel).
    fn emit(&mut self, i: usize, emit: &mut impl FnMut(&[u8])) {
        let Some(mut h) = self.held[i].take() else {
            return;
        };
        if h.segments > 1 {
            finish_joined(&mut h);
        }
        emit(&h.frame[..h.len]);
        self.spare.push(h.frame);
    }
}

/// A segment that may be joined: TCP over IPv4 without options or IPv6
/// without extensions, lengths as the header says, ACK with at most PSH,
/// payload, and a valid checksum.
fn joinable(ip: Ip, packet: &[u8]) -> Option<Segment> {
    if ip.v4 && ip.header_len != 20 {
        return None;
    }
    if ip.claimed_len(packet) != packet.len() {
        return None;
    }
    let tcp_len = packet::tcp_header_len(packet, ip.header_len)?;
    let payload = packet.len() - ip.header_len - tcp_len;
    let bits = packet[ip.header_len + 13];
    if payload == 0 || bits & !flags::PSH != flags::ACK {
        return None;
    }
    let l4 = &packet[ip.header_len..];
    let sum = checksum::add(ip.pseudo_header(packet, l4.len()), l4);
    if checksum::fold(sum) != 0xffff {
        return None;
    }
    Some(Segment {
        ip,
        tcp_len,
        payload,
        seq: packet::be32(packet, ip.header_len + 4),
        psh: bits & flags::PSH != 0,
    })
}

/// Everything but lengths, identification, checksums, sequence number
/// and PSH is equal.
fn same_headers(ip: &Ip, a: &[u8], b: &[u8], headers: usize) -> bool {
    let l4 = ip.header_len;
    let ip_same = if ip.v4 {
        a[..2] == b[..2] && a[6..10] == b[6..10] && a[12..20] == b[12..20]
    } else {
        a[..4] == b[..4] && a[6..40] == b[6..40]
    };
    ip_same
        && a[l4..l4 + 4] == b[l4..l4 + 4]
        && a[l4 + 8..l4 + 13] == b[l4 + 8..l4 + 13]
        && a[l4 + 13] & !flags::PSH == b[l4 + 13] & !flags::PSH
        && a[l4 + 14..l4 + 16] == b[l4 + 14..l4 + 16]
        && a[l4 + 18..headers] == b[l4 + 18..headers]
}

/// Lengths, PSH, the partial checksum and the virtio-net header of a
/// joined packet.
fn finish_joined(h: &mut Held) {
    let packet = &mut h.frame[vnet::LEN..h.len];
    let total = packet.len();
    let ip = h.ip;
    ip.set_length(packet, total, None);
    let l4 = ip.header_len;
    if h.psh {
        packet[l4 + 13] |= flags::PSH;
    }
    // CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum.
    let partial = checksum::fold(ip.pseudo_header(packet, total - l4));
    packet[l4 + 16..l4 + 18].copy_from_slice(&partial.to_be_bytes());
    let header = Header {
        flags: vnet::F_NEEDS_CSUM,
        gso_type: if ip.v4 {
            vnet::GSO_TCPV4
        } else {
            vnet::GSO_TCPV6
        },
        hdr_len: (l4 + h.tcp_len) as u16,
        gso_size: h.gso as u16,
        csum_start: l4 as u16,
        csum_offset: 16,
    };
    let mut bytes = [0u8; vnet::LEN];
    header.write(&mut bytes);
    h.frame[..vnet::LEN].copy_from_slice(&bytes);
}
