//! Splitting what a tun with `IFF_VNET_HDR` hands over into the packets
//! that go on the wire: a large TCP packet (TSO) into MTU-sized segments,
//! a large UDP packet (USO) into datagrams, a packet whose checksum the
//! kernel left to us (`NEEDS_CSUM`) completed. Each segment gets its own
//! lengths, IPv4 identification, sequence number and checksums; FIN and
//! PSH stay on the last segment, CWR on the first, as the kernel's own
//! segmentation does.

use crate::Refused;
use crate::packet::{self, Ip, flags};
use crate::vnet::{self, Header};

/// The segments of one frame, written one at a time into the caller's
/// buffer (no allocation).
#[derive(Debug)]
pub struct Segments<'a> {
    packet: &'a [u8],
    plan: Plan,
}

#[derive(Debug)]
enum Plan {
    /// One packet, as it is.
    Whole { done: bool },
    /// Cut the payload after `headers` into `gso`-byte pieces.
    Split {
        ip: Ip,
        headers: usize,
        gso: usize,
        /// Payload offset of the next segment.
        next: usize,
        index: u16,
    },
}

impl<'a> Segments<'a> {
    /// Reads the virtio-net header at the start of `frame` and prepares
    /// the split. A checksum left to complete (`NEEDS_CSUM` without GSO)
    /// is completed in place, hence `mut`.
    pub fn new(frame: &'a mut [u8]) -> Result<Segments<'a>, Refused> {
        let header = Header::parse(frame).ok_or(Refused::NoHeader)?;
        let packet = &mut frame[vnet::LEN..];
        let plan = match header.gso_type & !vnet::GSO_ECN {
            vnet::GSO_NONE => {
                if header.flags & vnet::F_NEEDS_CSUM != 0 {
                    complete_checksum(packet, &header)?;
                }
                Plan::Whole { done: false }
            }
            kind @ (vnet::GSO_TCPV4 | vnet::GSO_TCPV6 | vnet::GSO_UDP_L4) => {
                split_plan(packet, &header, kind)?
            }
            other => return Err(Refused::GsoType(other)),
        };
        Ok(Segments { packet, plan })
    }

    /// Writes the next segment into `out` and returns its length; `None`
    /// when all were written. A segment larger than `out` is cut to
    /// `out.len()` bytes (the caller leaves a spare byte, so it sees the
    /// packet is too large and counts it).
    pub fn next_into(&mut self, out: &mut [u8]) -> Option<usize> {
        match &mut self.plan {
            Plan::Whole { done } => {
                if std::mem::replace(done, true) {
                    return None;
                }
                let n = self.packet.len().min(out.len());
                out[..n].copy_from_slice(&self.packet[..n]);
                Some(n)
            }
            Plan::Split {
                ip,
                headers,
                gso,
                next,
                index,
            } => {
                let payload = self.packet.len() - *headers;
                if *next >= payload && (*index > 0 || payload > 0) {
                    return None;
                }
                let chunk = (*gso).min(payload - *next);
                let len = *headers + chunk;
                if len > out.len() {
                    // Larger than any datagram: let the caller see that.
                    let n = out.len();
                    out.copy_from_slice(&self.packet[..n]);
                    *next += chunk;
                    *index = index.wrapping_add(1);
                    return Some(n);
                }
                out[..*headers].copy_from_slice(&self.packet[..*headers]);
                out[*headers..len]
                    .copy_from_slice(&self.packet[*headers + *next..*headers + *next + chunk]);
                let last = *next + chunk >= payload;
                fix_segment(&mut out[..len], ip, *index, *next, last);
                *next += chunk;
                *index = index.wrapping_add(1);
                Some(len)
            }
        }
    }
}

/// Completes a checksum the kernel left partial: the field holds the
/// pseudo-header sum; the sum over everything from `csum_start` is stored.
fn complete_checksum(packet: &mut [u8], header: &Header) -> Result<(), Refused> {
    let start = usize::from(header.csum_start);
    let field = start + usize::from(header.csum_offset);
    if field + 2 > packet.len() {
        return Err(Refused::ChecksumOutside);
    }
    let c = crate::checksum::finish(crate::checksum::add(0, &packet[start..]));
    packet[field..field + 2].copy_from_slice(&c.to_be_bytes());
    Ok(())
}

fn split_plan(packet: &[u8], header: &Header, kind: u8) -> Result<Plan, Refused> {
    let ip = Ip::parse(packet).ok_or(Refused::BadIp)?;
    let (want_v4, want_protocol) = match kind {
        vnet::GSO_TCPV4 => (Some(true), packet::TCP),
        vnet::GSO_TCPV6 => (Some(false), packet::TCP),
        _ => (None, packet::UDP),
    };
    if want_v4.is_some_and(|v4| v4 != ip.v4) {
        return Err(Refused::GsoType(header.gso_type));
    }
    if ip.protocol != want_protocol {
        // IPv6 extension headers land here too: the kernel does not
        // offload them to a tun.
        return Err(Refused::Protocol(ip.protocol));
    }
    if ip.is_fragment(packet) {
        return Err(Refused::BadIp);
    }
    let transport = if want_protocol == packet::TCP {
        packet::tcp_header_len(packet, ip.header_len).ok_or(Refused::BadTransport)?
    } else if packet.len() >= ip.header_len + 8 {
        8
    } else {
        return Err(Refused::BadTransport);
    };
    let gso = usize::from(header.gso_size);
    if gso == 0 {
        return Err(Refused::NoSegmentSize);
    }
    Ok(Plan::Split {
        ip,
        headers: ip.header_len + transport,
        gso,
        next: 0,
        index: 0,
    })
}

/// Lengths, identification, sequence number, flags and checksums of the
/// `index`th segment, whose payload started at `offset`.
fn fix_segment(seg: &mut [u8], ip: &Ip, index: u16, offset: usize, last: bool) {
    let id = ip.id(seg).wrapping_add(index);
    ip.set_length(seg, seg.len(), Some(id));
    let l4 = ip.header_len;
    if ip.protocol == packet::TCP {
        let seq = packet::be32(seg, l4 + 4).wrapping_add(offset as u32);
        seg[l4 + 4..l4 + 8].copy_from_slice(&seq.to_be_bytes());
        if !last {
            seg[l4 + 13] &= !(flags::FIN | flags::PSH);
        }
        if index > 0 {
            seg[l4 + 13] &= !flags::CWR;
        }
        packet::store_l4_checksum(ip, seg, l4, 16);
    } else {
        let len = (seg.len() - l4) as u16;
        seg[l4 + 4..l4 + 6].copy_from_slice(&len.to_be_bytes());
        packet::store_l4_checksum(ip, seg, l4, 6);
    }
}
