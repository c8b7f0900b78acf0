//! Just enough of IPv4, IPv6, TCP and UDP to split and join segments: where
//! the headers end, where the addresses lie, the fields that change from
//! one segment to the next. Every offset is checked against the packet's
//! length before use.

/// IP protocol number of TCP.
pub const TCP: u8 = 6;
/// IP protocol number of UDP.
pub const UDP: u8 = 17;

/// TCP flag bits (byte 13 of the header).
pub mod flags {
    /// No more data from the sender.
    pub const FIN: u8 = 0x01;
    /// Synchronise sequence numbers.
    pub const SYN: u8 = 0x02;
    /// Reset the connection.
    pub const RST: u8 = 0x04;
    /// Push the data to the application.
    pub const PSH: u8 = 0x08;
    /// The acknowledgment field is significant.
    pub const ACK: u8 = 0x10;
    /// Congestion window reduced.
    pub const CWR: u8 = 0x80;
}

/// The IP layer of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ip {
    /// True for IPv4, false for IPv6.
    pub v4: bool,
    /// Bytes of IP header (the transport header starts here).
    pub header_len: usize,
    /// The transport protocol (IPv6: the first next-header; extension
    /// headers are not followed).
    pub protocol: u8,
}

impl Ip {
    /// Parses the IP header at the start of `packet`.
    pub fn parse(packet: &[u8]) -> Option<Ip> {
        match packet.first()? >> 4 {
            4 => {
                let header_len = usize::from(packet[0] & 0x0f) * 4;
                if header_len < 20 || packet.len() < header_len {
                    return None;
                }
                Some(Ip {
                    v4: true,
                    header_len,
                    protocol: packet[9],
                })
            }
            6 if packet.len() >= 40 => Some(Ip {
                v4: false,
                header_len: 40,
                protocol: packet[6],
            }),
            _ => None,
        }
    }

    /// The source and destination addresses, together (8 or 32 bytes).
    pub fn addresses<'p>(&self, packet: &'p [u8]) -> &'p [u8] {
        if self.v4 {
            &packet[12..20]
        } else {
            &packet[8..40]
        }
    }

    /// The pseudo-header sum for a transport segment of `length` bytes.
    pub fn pseudo_header(&self, packet: &[u8], length: usize) -> u64 {
        let a = self.addresses(packet);
        let half = a.len() / 2;
        crate::checksum::pseudo_header(&a[..half], &a[half..], self.protocol, length)
    }

    /// Sets the length fields (and, for IPv4, the identification and the
    /// header checksum) of the packet that is `total` bytes long.
    pub fn set_length(&self, packet: &mut [u8], total: usize, id: Option<u16>) {
        if self.v4 {
            packet[2..4].copy_from_slice(&(total as u16).to_be_bytes());
            if let Some(id) = id {
                packet[4..6].copy_from_slice(&id.to_be_bytes());
            }
            packet[10..12].fill(0);
            let c = crate::checksum::finish(crate::checksum::add(0, &packet[..self.header_len]));
            packet[10..12].copy_from_slice(&c.to_be_bytes());
        } else {
            packet[4..6].copy_from_slice(&((total - 40) as u16).to_be_bytes());
        }
    }

    /// The IPv4 identification (0 for IPv6).
    pub fn id(&self, packet: &[u8]) -> u16 {
        if self.v4 {
            u16::from_be_bytes([packet[4], packet[5]])
        } else {
            0
        }
    }

    /// The length the header claims for the whole packet.
    pub fn claimed_len(&self, packet: &[u8]) -> usize {
        if self.v4 {
            usize::from(u16::from_be_bytes([packet[2], packet[3]]))
        } else {
            40 + usize::from(u16::from_be_bytes([packet[4], packet[5]]))
        }
    }

    /// An IPv4 fragment (more fragments, or an offset).
    pub fn is_fragment(&self, packet: &[u8]) -> bool {
        self.v4 && u16::from_be_bytes([packet[6], packet[7]]) & 0x3fff != 0
    }
}

/// The length of the TCP header at `at` (data offset), if it fits.
pub fn tcp_header_len(packet: &[u8], at: usize) -> Option<usize> {
    let len = usize::from(packet.get(at + 12)? >> 4) * 4;
    (len >= 20 && packet.len() >= at + len).then_some(len)
}

/// Reads a big-endian u32 at `at` (the caller checked the bounds).
pub fn be32(packet: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([packet[at], packet[at + 1], packet[at + 2], packet[at + 3]])
}

/// Computes and stores the TCP or UDP checksum of the segment starting at
/// `l4` (to the end of `packet`), whose field lies at `l4 + field`.
pub fn store_l4_checksum(ip: &Ip, packet: &mut [u8], l4: usize, field: usize) {
    packet[l4 + field..l4 + field + 2].fill(0);
    let sum = ip.pseudo_header(packet, packet.len() - l4);
    let mut c = crate::checksum::finish(crate::checksum::add(sum, &packet[l4..]));
    if ip.protocol == UDP && c == 0 {
        // A zero UDP checksum means "none": all ones is the same sum.
        c = 0xffff;
    }
    packet[l4 + field..l4 + field + 2].copy_from_slice(&c.to_be_bytes());
}
