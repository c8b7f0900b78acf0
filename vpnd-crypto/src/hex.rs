//! Hexadecimal text for keys and nonces (lower case out, either case in).

/// Why a hex string did not decode to the expected number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HexError {
    /// The text has this many hex digits, not the required number.
    Length(usize),
    /// The character at this (0-based) position is not a hex digit.
    Digit(usize),
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes exactly `N` bytes from `2 * N` hex digits.
pub(crate) fn decode<const N: usize>(text: &str) -> Result<[u8; N], HexError> {
    let bytes = text.as_bytes();
    if let Some(pos) = bytes.iter().position(|&c| nibble(c).is_none()) {
        return Err(HexError::Digit(pos));
    }
    if bytes.len() != 2 * N {
        return Err(HexError::Length(bytes.len()));
    }
    let mut out = [0u8; N];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        // Both digits were checked above.
        out[i] = (nibble(pair[0]).unwrap_or(0) << 4) | nibble(pair[1]).unwrap_or(0);
    }
    Ok(out)
}

/// Lower-case hex of `bytes`.
pub(crate) fn encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_case() {
        let b: [u8; 3] = decode("0aFf10").unwrap();
        assert_eq!(b, [0x0a, 0xff, 0x10]);
        assert_eq!(encode(&b), "0aff10");
    }

    #[test]
    fn rejects_bad_digit_and_length() {
        assert_eq!(decode::<2>("12g4"), Err(HexError::Digit(2)));
        assert_eq!(decode::<2>("123"), Err(HexError::Length(3)));
        assert_eq!(decode::<2>("123456"), Err(HexError::Length(6)));
        assert_eq!(decode::<2>(""), Err(HexError::Length(0)));
    }
}
