//! Splitting (TSO, USO, partial checksums) and joining (TCP segments),
//! checked against an independent, word-by-word checksum and against each
//! other: what is split and joined again splits into the same segments.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use vpnd_offload::packet::flags::{ACK, CWR, FIN, PSH, SYN};
use vpnd_offload::vnet::{self, Header};
use vpnd_offload::{Coalescer, MAX_FLOWS, Refused, Segments};

const SRC4: [u8; 4] = [198, 18, 0, 1];
const DST4: [u8; 4] = [198, 18, 0, 2];
const SRC6: [u8; 16] = [0x20, 0x01, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const DST6: [u8; 16] = [0x20, 0x01, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
/// NOP NOP timestamp: what Linux puts on every segment.
const TIMESTAMPS: [u8; 12] = [1, 1, 8, 10, 0, 1, 2, 3, 4, 5, 6, 7];

/// RFC 1071, one 16-bit word at a time: independent of the crate's sum.
fn reference_sum(data: &[u8]) -> u32 {
    let mut sum = 0u32;
    for (i, b) in data.iter().enumerate() {
        sum += if i % 2 == 0 {
            u32::from(*b) << 8
        } else {
            u32::from(*b)
        };
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum
}

fn reference_checksum(parts: &[&[u8]]) -> u16 {
    let mut sum = 0u32;
    for p in parts {
        sum += reference_sum(p);
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[test]
fn the_crates_sum_matches_the_word_by_word_sum_at_every_length() {
    use vpnd_offload::checksum::{add, finish};
    let data: Vec<u8> = (0..3000u32)
        .map(|i| (i * 7919 % 251) as u8 ^ 0xa5)
        .collect();
    for len in (0..200).chain([1499, 1500, 3000]) {
        let want = reference_checksum(&[&data[..len]]);
        assert_eq!(finish(add(0, &data[..len])), want, "{len} bytes");
    }
    let ones = vec![0xffu8; 65535];
    assert_eq!(finish(add(0, &ones)), reference_checksum(&[&ones]));
}

fn pseudo(v4: bool, protocol: u8, len: usize) -> Vec<u8> {
    let mut p = Vec::new();
    if v4 {
        p.extend_from_slice(&SRC4);
        p.extend_from_slice(&DST4);
    } else {
        p.extend_from_slice(&SRC6);
        p.extend_from_slice(&DST6);
    }
    p.extend_from_slice(&[0, protocol]);
    p.extend_from_slice(&(len as u32).to_be_bytes()[..]);
    p
}

struct Tcp {
    v4: bool,
    seq: u32,
    flags: u8,
    options: Vec<u8>,
    id: u16,
    window: u16,
    ports: (u16, u16),
}

impl Tcp {
    fn new(v4: bool) -> Tcp {
        Tcp {
            v4,
            seq: 0xfffff000, // wraps within a few segments
            flags: ACK,
            options: TIMESTAMPS.to_vec(),
            id: 0xfffe,
            window: 502,
            ports: (40000, 5201),
        }
    }

    fn ip_len(&self) -> usize {
        if self.v4 { 20 } else { 40 }
    }

    /// A complete packet with correct checksums (a segment as a peer sends it).
    fn packet(&self, payload: &[u8]) -> Vec<u8> {
        let tcp_len = 20 + self.options.len();
        let total = self.ip_len() + tcp_len + payload.len();
        let mut p = Vec::new();
        if self.v4 {
            p.extend_from_slice(&[0x45, 0, 0, 0]);
            p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
            p.extend_from_slice(&self.id.to_be_bytes());
            p.extend_from_slice(&[0x40, 0, 64, 6, 0, 0]);
            p.extend_from_slice(&SRC4);
            p.extend_from_slice(&DST4);
            let c = reference_checksum(&[&p]);
            p[10..12].copy_from_slice(&c.to_be_bytes());
        } else {
            p.extend_from_slice(&[0x60, 0, 0, 0]);
            p.extend_from_slice(&((total - 40) as u16).to_be_bytes());
            p.extend_from_slice(&[6, 64]);
            p.extend_from_slice(&SRC6);
            p.extend_from_slice(&DST6);
        }
        let l4 = p.len();
        p.extend_from_slice(&self.ports.0.to_be_bytes());
        p.extend_from_slice(&self.ports.1.to_be_bytes());
        p.extend_from_slice(&self.seq.to_be_bytes());
        p.extend_from_slice(&0x01020304u32.to_be_bytes());
        p.push(((tcp_len / 4) as u8) << 4);
        p.push(self.flags);
        p.extend_from_slice(&self.window.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 0]);
        p.extend_from_slice(&self.options);
        p.extend_from_slice(payload);
        let c = reference_checksum(&[&pseudo(self.v4, 6, p.len() - l4), &p[l4..]]);
        p[l4 + 16..l4 + 18].copy_from_slice(&c.to_be_bytes());
        p
    }

    /// What a tun with TSO hands over: one large packet, the checksum
    /// field holding the pseudo-header sum only.
    fn tso_frame(&self, payload: &[u8], gso: u16) -> Vec<u8> {
        let mut p = self.packet(payload);
        let l4 = self.ip_len();
        let partial = !reference_checksum(&[&pseudo(self.v4, 6, p.len() - l4)]);
        p[l4 + 16..l4 + 18].copy_from_slice(&partial.to_be_bytes());
        let h = Header {
            flags: vnet::F_NEEDS_CSUM,
            gso_type: if self.v4 {
                vnet::GSO_TCPV4
            } else {
                vnet::GSO_TCPV6
            },
            hdr_len: (l4 + 20 + self.options.len()) as u16,
            gso_size: gso,
            csum_start: l4 as u16,
            csum_offset: 16,
        };
        with_header(h, &p)
    }
}

fn with_header(h: Header, packet: &[u8]) -> Vec<u8> {
    let mut b = [0u8; vnet::LEN];
    h.write(&mut b);
    let mut f = b.to_vec();
    f.extend_from_slice(packet);
    f
}

fn payload(len: usize, salt: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ salt)
        .collect()
}

/// The buffer each segment is written into: a datagram's worth.
const ROOM: usize = 1500;

fn split(frame: &[u8]) -> Result<Vec<Vec<u8>>, Refused> {
    let mut frame = frame.to_vec();
    let mut segments = Segments::new(&mut frame)?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; ROOM];
    while let Some(n) = segments.next_into(&mut buf) {
        out.push(buf[..n].to_vec());
        assert!(out.len() < 1000, "runaway split");
    }
    Ok(out)
}

/// Checks the IPv4 header checksum and the TCP/UDP checksum independently.
fn assert_checksums_valid(p: &[u8]) {
    let v4 = p[0] >> 4 == 4;
    let l4 = if v4 { 20 } else { 40 };
    if v4 {
        assert_eq!(reference_checksum(&[&p[..20]]), 0, "IPv4 header checksum");
        assert_eq!(usize::from(u16::from_be_bytes([p[2], p[3]])), p.len());
    } else {
        assert_eq!(usize::from(u16::from_be_bytes([p[4], p[5]])) + 40, p.len());
    }
    let protocol = if v4 { p[9] } else { p[6] };
    let c = reference_checksum(&[&pseudo(v4, protocol, p.len() - l4), &p[l4..]]);
    assert_eq!(c, 0, "transport checksum");
}

fn seq(p: &[u8]) -> u32 {
    let l4 = if p[0] >> 4 == 4 { 20 } else { 40 };
    u32::from_be_bytes([p[l4 + 4], p[l4 + 5], p[l4 + 6], p[l4 + 7]])
}

fn tcp_flags(p: &[u8]) -> u8 {
    p[if p[0] >> 4 == 4 { 33 } else { 53 }]
}

#[test]
fn tso_splits_into_segments_with_their_own_headers_v4_and_v6() {
    for v4 in [true, false] {
        let mut t = Tcp::new(v4);
        t.flags = ACK | PSH | FIN | CWR;
        let data = payload(10_000, 7);
        // The MSS a 1500-byte MTU gives with timestamps.
        let mss = 1500 - t.ip_len() - 32;
        let segments = split(&t.tso_frame(&data, mss as u16)).unwrap();
        let n = 10_000usize.div_ceil(mss);
        assert_ne!(10_000 % mss, 0, "the last segment is short");
        assert_eq!(segments.len(), n);
        let headers = t.ip_len() + 32;
        let mut joined = Vec::new();
        for (i, s) in segments.iter().enumerate() {
            assert_checksums_valid(s);
            let last = i == segments.len() - 1;
            assert_eq!(
                s.len() - headers,
                if last { 10_000 - (n - 1) * mss } else { mss }
            );
            assert_eq!(seq(s), t.seq.wrapping_add((mss * i) as u32), "sequence");
            let f = tcp_flags(s);
            assert_eq!(f & (PSH | FIN) != 0, last, "PSH and FIN on the last only");
            assert_eq!(f & CWR != 0, i == 0, "CWR on the first only");
            assert!(f & ACK != 0);
            if v4 {
                assert_eq!(
                    u16::from_be_bytes([s[4], s[5]]),
                    t.id.wrapping_add(i as u16)
                );
            }
            assert_eq!(&s[t.ip_len() + 20..headers], &TIMESTAMPS, "options copied");
            joined.extend_from_slice(&s[headers..]);
        }
        assert_eq!(joined, data);
    }
}

#[test]
fn a_payload_of_exactly_whole_segments_has_no_empty_tail() {
    let t = Tcp::new(true);
    let segments = split(&t.tso_frame(&payload(1448 * 3, 1), 1448)).unwrap();
    assert_eq!(segments.len(), 3);
    assert!(segments.iter().all(|s| s.len() == 20 + 32 + 1448));
}

fn udp_packet(v4: bool, data: &[u8]) -> Vec<u8> {
    let mut t = Tcp::new(v4);
    t.options.clear();
    let mut p = t.packet(&[]);
    let l4 = t.ip_len();
    p.truncate(l4);
    if v4 {
        p[9] = 17;
    } else {
        p[6] = 17;
    }
    let len = 8 + data.len();
    p.extend_from_slice(&[0x9c, 0x40, 0x14, 0x51]);
    p.extend_from_slice(&(len as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(data);
    let total = p.len();
    if v4 {
        p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        p[10..12].fill(0);
        let c = reference_checksum(&[&p[..20]]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
    } else {
        p[4..6].copy_from_slice(&((total - 40) as u16).to_be_bytes());
    }
    let partial = !reference_checksum(&[&pseudo(v4, 17, len)]);
    p[l4 + 6..l4 + 8].copy_from_slice(&partial.to_be_bytes());
    p
}

#[test]
fn uso_splits_into_datagrams() {
    for v4 in [true, false] {
        let data = payload(4000, 3);
        let p = udp_packet(v4, &data);
        let l4 = if v4 { 20 } else { 40 };
        let h = Header {
            flags: vnet::F_NEEDS_CSUM,
            gso_type: vnet::GSO_UDP_L4,
            hdr_len: (l4 + 8) as u16,
            gso_size: 1400,
            csum_start: l4 as u16,
            csum_offset: 6,
        };
        let segments = split(&with_header(h, &p)).unwrap();
        let lens: Vec<usize> = segments.iter().map(|s| s.len() - l4 - 8).collect();
        assert_eq!(lens, [1400, 1400, 1200]);
        let mut joined = Vec::new();
        for s in &segments {
            assert_checksums_valid(s);
            let udp_len = u16::from_be_bytes([s[l4 + 4], s[l4 + 5]]);
            assert_eq!(usize::from(udp_len), s.len() - l4);
            joined.extend_from_slice(&s[l4 + 8..]);
        }
        assert_eq!(joined, data);
    }
}

#[test]
fn a_partial_checksum_without_gso_is_completed() {
    for v4 in [true, false] {
        let p = udp_packet(v4, &payload(333, 9));
        let l4 = if v4 { 20 } else { 40 };
        let h = Header {
            flags: vnet::F_NEEDS_CSUM,
            csum_start: l4 as u16,
            csum_offset: 6,
            ..Header::default()
        };
        let segments = split(&with_header(h, &p)).unwrap();
        assert_eq!(segments.len(), 1);
        assert_checksums_valid(&segments[0]);
        // Without NEEDS_CSUM the packet passes untouched.
        let plain = split(&with_header(Header::default(), &p)).unwrap();
        assert_eq!(plain, [p]);
    }
}

#[test]
fn malformed_frames_are_refused() {
    let t = Tcp::new(true);
    let good = t.tso_frame(&payload(3000, 0), 1448);
    assert_eq!(split(&good[..5]), Err(Refused::NoHeader));
    let mut f = good.clone();
    f[1] = vnet::GSO_UDP;
    assert_eq!(split(&f), Err(Refused::GsoType(vnet::GSO_UDP)));
    f[1] = vnet::GSO_TCPV6; // an IPv4 packet
    assert_eq!(split(&f), Err(Refused::GsoType(vnet::GSO_TCPV6)));
    f[1] = 0x42;
    assert_eq!(split(&f), Err(Refused::GsoType(0x42)));
    let mut f = good.clone();
    f[4..6].fill(0);
    assert_eq!(split(&f), Err(Refused::NoSegmentSize));
    let mut f = good.clone();
    f[vnet::LEN + 9] = 17; // TSO of UDP
    assert_eq!(split(&f), Err(Refused::Protocol(17)));
    let mut f = good.clone();
    f[vnet::LEN + 20 + 12] = 0xf0; // data offset 60 bytes, past the end
    f.truncate(vnet::LEN + 20 + 40);
    assert_eq!(split(&f), Err(Refused::BadTransport));
    let mut f = good.clone();
    f[vnet::LEN + 6] = 0x20; // more fragments
    assert_eq!(split(&f), Err(Refused::BadIp));
    assert_eq!(split(&good[..vnet::LEN + 12]), Err(Refused::BadIp));
    let h = Header {
        flags: vnet::F_NEEDS_CSUM,
        csum_start: 20,
        csum_offset: 4000,
        ..Header::default()
    };
    assert_eq!(
        split(&with_header(h, &t.packet(b"x"))),
        Err(Refused::ChecksumOutside)
    );
    let mut v6 = Tcp::new(false).tso_frame(&payload(3000, 0), 1400);
    v6[vnet::LEN + 6] = 0; // a hop-by-hop extension header first
    assert_eq!(split(&v6), Err(Refused::Protocol(0)));
}

#[test]
fn a_segment_size_beyond_the_buffer_is_cut_to_show_it() {
    let t = Tcp::new(true);
    let mut frame = t.tso_frame(&payload(5000, 0), 4000);
    let mut segments = Segments::new(&mut frame).unwrap();
    let mut buf = [0u8; 1500];
    assert_eq!(segments.next_into(&mut buf), Some(1500));
    assert_eq!(segments.next_into(&mut buf), Some(20 + 32 + 1000));
    assert_eq!(segments.next_into(&mut buf), None);
}

/// A tiny deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// What splitting `frame` must have made, however odd the frame: with GSO,
/// one segment per `gso_size` bytes of payload (at least one), each the
/// headers and that payload (the last the rest), none over [`ROOM`] (a
/// larger one is cut to it, so the caller sees and counts it), each
/// uncut one carrying its own length in its IP (and UDP) header; without
/// GSO, the packet as it is. True if the frame was a GSO one.
fn assert_sizes(frame: &[u8], segments: &[Vec<u8>], round: usize) -> bool {
    let h = Header::parse(frame).unwrap();
    let packet = &frame[vnet::LEN..];
    let kind = h.gso_type & !vnet::GSO_ECN;
    let lengths: Vec<usize> = segments.iter().map(Vec::len).collect();
    if kind == vnet::GSO_NONE {
        assert_eq!(lengths, [packet.len().min(ROOM)], "round {round}: whole");
        return false;
    }
    let v4 = packet[0] >> 4 == 4;
    let ip = if v4 {
        usize::from(packet[0] & 0x0f) * 4
    } else {
        40
    };
    let udp = kind == vnet::GSO_UDP_L4;
    let transport = if udp {
        8
    } else {
        usize::from(packet[ip + 12] >> 4) * 4
    };
    let headers = ip + transport;
    let (payload, mss) = (packet.len() - headers, usize::from(h.gso_size));
    let mut want: Vec<usize> = (0..payload)
        .step_by(mss)
        .map(|at| headers + mss.min(payload - at))
        .collect();
    if want.is_empty() {
        want.push(headers);
    }
    let want: Vec<usize> = want.into_iter().map(|n| n.min(ROOM)).collect();
    assert_eq!(lengths, want, "round {round}: mss {mss}, headers {headers}");
    for s in segments.iter().filter(|s| s.len() < ROOM) {
        let be16 = |at: usize| usize::from(u16::from_be_bytes([s[at], s[at + 1]]));
        let ip_says = if v4 { be16(2) } else { be16(4) + 40 };
        assert_eq!(ip_says, s.len(), "round {round}: IP length");
        if udp {
            assert_eq!(be16(ip + 4), s.len() - ip, "round {round}: UDP length");
        }
    }
    true
}

#[test]
fn random_and_mutated_frames_never_panic_and_split_to_the_size_asked() {
    let mut rng = Rng(0x5eed);
    let seeds = [
        Tcp::new(true).tso_frame(&payload(5000, 1), 1448),
        Tcp::new(false).tso_frame(&payload(5000, 1), 1428),
        with_header(
            Header {
                gso_type: vnet::GSO_UDP_L4,
                gso_size: 100,
                ..Header::default()
            },
            &udp_packet(true, &payload(900, 2)),
        ),
    ];
    let mut coalescer = Coalescer::new();
    let mut split_by_gso = 0;
    for round in 0..20_000 {
        let mut f = seeds[round % seeds.len()].clone();
        for _ in 0..(rng.next() % 6) {
            let i = (rng.next() as usize) % f.len();
            f[i] = rng.next() as u8;
        }
        f.truncate((rng.next() as usize) % (f.len() + 1));
        if let Ok(segments) = split(&f) {
            split_by_gso += usize::from(assert_sizes(&f, &segments, round));
            for s in segments {
                coalescer.offer(&s, &mut |_| {});
            }
        }
        coalescer.offer(&f[f.len().min(vnet::LEN)..], &mut |_| {});
    }
    coalescer.flush(&mut |_| {});
    // Most mutated frames still split (so the sizes above were checked).
    assert!(split_by_gso > 10_000, "only {split_by_gso} GSO splits");
}

/// Offers every packet; returns what was emitted, with packets the
/// caller writes itself given a zero header, in output order.
fn join(packets: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut c = Coalescer::new();
    let mut out = Vec::new();
    for p in packets {
        let mut emitted = Vec::new();
        let held = c.offer(p, &mut |f: &[u8]| emitted.push(f.to_vec()));
        out.extend(emitted);
        if !held {
            out.push(with_header(Header::default(), p));
        }
    }
    c.flush(&mut |f: &[u8]| out.push(f.to_vec()));
    out
}

/// What the kernel does with a joined frame: complete the checksum, then
/// the frame must be a valid packet.
fn complete(frame: &[u8]) -> Vec<u8> {
    let h = Header::parse(frame).unwrap();
    let mut p = frame[vnet::LEN..].to_vec();
    if h.flags & vnet::F_NEEDS_CSUM != 0 {
        let (s, o) = (usize::from(h.csum_start), usize::from(h.csum_offset));
        let c = reference_checksum(&[&p[s..]]);
        p[s + o..s + o + 2].copy_from_slice(&c.to_be_bytes());
    }
    p
}

#[test]
fn segments_join_into_one_frame_that_splits_back_into_them() {
    for v4 in [true, false] {
        let mut t = Tcp::new(v4);
        t.flags = ACK | PSH;
        let data = payload(20_000, 5);
        let segments = split(&t.tso_frame(&data, 1400)).unwrap();
        let joined = join(&segments);
        assert_eq!(joined.len(), 1, "one frame");
        let h = Header::parse(&joined[0]).unwrap();
        let l4 = t.ip_len();
        assert_eq!(
            (
                h.flags,
                h.gso_size,
                h.csum_start,
                h.csum_offset,
                usize::from(h.hdr_len)
            ),
            (vnet::F_NEEDS_CSUM, 1400, l4 as u16, 16, l4 + 32)
        );
        assert_eq!(
            h.gso_type,
            if v4 { vnet::GSO_TCPV4 } else { vnet::GSO_TCPV6 }
        );
        let whole = complete(&joined[0]);
        assert_checksums_valid(&whole);
        assert_eq!(&whole[l4 + 32..], &data[..]);
        assert_eq!(tcp_flags(&whole), ACK | PSH, "PSH of the last segment kept");
        assert_eq!(split(&joined[0]).unwrap(), segments, "splits back the same");
    }
}

#[test]
fn flows_interleaved_are_joined_each_in_order() {
    let a = Tcp::new(true);
    let mut b = Tcp::new(true);
    b.ports = (40001, 5201);
    let sa = split(&a.tso_frame(&payload(6000, 1), 1000)).unwrap();
    let sb = split(&b.tso_frame(&payload(4000, 2), 1000)).unwrap();
    let mut mixed = Vec::new();
    for i in 0..sa.len().max(sb.len()) {
        mixed.extend(sa.get(i).cloned());
        mixed.extend(sb.get(i).cloned());
    }
    let out = join(&mixed);
    assert_eq!(out.len(), 2);
    assert_eq!(split(&out[0]).unwrap(), sa);
    assert_eq!(split(&out[1]).unwrap(), sb);
}

#[test]
fn what_may_not_join_passes_alone_after_its_flow() {
    let t = Tcp::new(true);
    let s = split(&t.tso_frame(&payload(5000, 1), 1000)).unwrap();
    // A gap in the sequence: two frames, in order.
    let out = join(&[s[0].clone(), s[1].clone(), s[3].clone(), s[4].clone()]);
    assert_eq!(out.len(), 2);
    assert_eq!(split(&out[0]).unwrap(), &s[..2]);
    assert_eq!(split(&out[1]).unwrap(), &s[3..]);
    // A bad checksum: held segments first, then it alone, untouched.
    let mut bad = s[2].clone();
    let n = bad.len();
    bad[n - 1] ^= 1;
    let out = join(&[s[0].clone(), s[1].clone(), bad.clone(), s[3].clone()]);
    assert_eq!(out.len(), 3);
    assert_eq!(split(&out[0]).unwrap(), &s[..2]);
    assert_eq!(complete(&out[1]), bad);
    assert_eq!(complete(&out[2]), s[3]);
    // SYN, FIN and a changed window never join.
    let mut syn = Tcp::new(true);
    syn.flags = SYN;
    let mut fin = Tcp::new(true);
    fin.flags = ACK | FIN;
    fin.seq = t.seq.wrapping_add(2000);
    let mut window = Tcp::new(true);
    window.window = 1;
    window.seq = t.seq.wrapping_add(1000);
    window.id = t.id.wrapping_add(1);
    for odd in [
        syn.packet(b"x"),
        fin.packet(&payload(1000, 1)),
        window.packet(&payload(1000, 1)),
    ] {
        let out = join(&[s[0].clone(), odd.clone()]);
        assert_eq!(out.len(), 2);
        assert_eq!(complete(&out[0]), s[0], "the first alone, unchanged");
        assert_eq!(Header::parse(&out[0]).unwrap(), Header::default());
        assert_eq!(complete(&out[1]), odd);
    }
    // After a short segment (the end of a send) the next starts anew.
    let short = split(&t.tso_frame(&payload(2500, 1), 1000)).unwrap();
    let mut next = Tcp::new(true);
    next.seq = t.seq.wrapping_add(2500);
    next.id = t.id.wrapping_add(3);
    let after = next.packet(&payload(1000, 2));
    let out = join(&[short.clone(), vec![after.clone()]].concat());
    assert_eq!(out.len(), 2);
    assert_eq!(split(&out[0]).unwrap(), short);
    assert_eq!(complete(&out[1]), after);
    // UDP and ICMP pass alone.
    assert_eq!(join(&[udp_packet(true, b"hello")]).len(), 1);
}

#[test]
fn more_flows_than_slots_hand_out_the_oldest() {
    let mut packets = Vec::new();
    for f in 0..=MAX_FLOWS {
        let mut t = Tcp::new(true);
        t.ports = (41000 + f as u16, 5201);
        packets.push(split(&t.tso_frame(&payload(2000, f as u8), 1000)).unwrap());
    }
    let mut c = Coalescer::new();
    let mut emitted = Vec::new();
    for p in &packets {
        assert!(c.offer(&p[0], &mut |f: &[u8]| emitted.push(complete(f))));
    }
    assert_eq!(emitted, [packets[0][0].clone()], "the oldest went out");
    c.flush(&mut |f: &[u8]| emitted.push(complete(f)));
    assert_eq!(emitted.len(), MAX_FLOWS + 1);
}
