//! The Internet checksum (RFC 1071) and the TCP/UDP pseudo-header sums.
//!
//! Sums are kept unfolded (`u64`) while bytes are added, and folded to 16
//! bits at the end; the one's complement sum does not depend on how the
//! words are grouped, so eight bytes are added at a time.

/// Adds `data` (big-endian 16-bit words, an odd last byte padded with a
/// zero) to `sum`.
pub fn add(mut sum: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        // Two 32-bit halves: their sum cannot overflow a u64 before the
        // fold for any packet size (2^32 * 2^16 is far away).
        sum += (w >> 32) + (w & 0xffff_ffff);
    }
    let mut rest = chunks.remainder().chunks_exact(2);
    for c in &mut rest {
        sum += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = rest.remainder() {
        sum += u64::from(*last) << 8;
    }
    sum
}

/// Folds a sum to 16 bits (end-around carry), not complemented.
pub fn fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// The checksum to store: the complement of the folded sum.
pub fn finish(sum: u64) -> u16 {
    !fold(sum)
}

/// The pseudo-header sum of a TCP or UDP segment: the addresses (4 or 16
/// bytes each), the protocol and the segment's length.
pub fn pseudo_header(src: &[u8], dst: &[u8], protocol: u8, length: usize) -> u64 {
    let sum = add(add(0, src), dst);
    sum + u64::from(protocol) + length as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: the sum of 00 01 f2 03 f4 f5 f6 f7 is ddf2.
        assert_eq!(
            fold(add(0, &[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7])),
            0xddf2
        );
    }

    #[test]
    fn a_packet_with_its_checksum_sums_to_zero() {
        let mut data = vec![0x45u8, 0, 0, 20, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0];
        data.extend_from_slice(&[198, 18, 0, 1, 198, 18, 0, 2]);
        let c = finish(add(0, &data));
        data[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(finish(add(0, &data)), 0);
    }
}
