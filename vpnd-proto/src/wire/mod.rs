//! The wire format of doc/protocol.md, byte for byte: framing, message types,
//! sealing and opening in place.
//!
//! ```text
//! offset 0   24 bytes  nonce, in clear
//! offset 24  16 bytes  MAC
//! offset 40   1 byte   message type      } sealed
//! offset 41   n bytes  body              }
//! ```

mod peer_info;
mod push_scope;

pub use peer_info::{AddrField, Inet6Family, PeerInfo, PushError, Pushed};
pub use push_scope::Outside;

use vpnd_crypto::{Nonce, OpenError, PublicKey, SharedKey};

/// Bytes of nonce at the start of every datagram.
pub const NONCE_LEN: usize = 24;
/// Bytes of Poly1305 tag after the nonce.
pub const MAC_LEN: usize = 16;
/// Where the MAC starts: the sealed part (MAC ‖ type ‖ body) begins here.
pub const MAC_OFFSET: usize = NONCE_LEN;
/// Where the (sealed) message type byte sits.
pub const TYPE_OFFSET: usize = MAC_OFFSET + MAC_LEN;
/// Where the body starts.
pub const BODY_OFFSET: usize = TYPE_OFFSET + 1;
/// Bytes every datagram carries besides its body.
pub const OVERHEAD: usize = BODY_OFFSET;
/// The largest body (the deployed peer's `DATA_SZ`).
pub const MAX_BODY: usize = 1500;
/// The largest datagram.
pub const MAX_DATAGRAM: usize = OVERHEAD + MAX_BODY;
/// The body of PEER_INFO and KEY_READY.
pub const PEER_INFO_LEN: usize = 92;
/// The body of KEY_SWITCH_START and KEY_SWITCH_ACK.
pub const PUBLIC_KEY_LEN: usize = 32;

/// The message types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// 0: the sender's peer info.
    PeerInfo,
    /// 1: the master's new ephemeral public key.
    KeySwitchStart,
    /// 2: the slave's new ephemeral public key.
    KeySwitchAck,
    /// 3: the master's peer info, under the old key.
    KeyReady,
    /// 4: console text, NUL-terminated.
    DebugString,
    /// 5: one IP packet.
    Data,
}

impl MessageType {
    /// The type byte.
    pub const fn to_byte(self) -> u8 {
        match self {
            MessageType::PeerInfo => 0,
            MessageType::KeySwitchStart => 1,
            MessageType::KeySwitchAck => 2,
            MessageType::KeyReady => 3,
            MessageType::DebugString => 4,
            MessageType::Data => 5,
        }
    }

    /// The type of a type byte, if it is one.
    pub const fn from_byte(b: u8) -> Option<Self> {
        match b {
            0 => Some(MessageType::PeerInfo),
            1 => Some(MessageType::KeySwitchStart),
            2 => Some(MessageType::KeySwitchAck),
            3 => Some(MessageType::KeyReady),
            4 => Some(MessageType::DebugString),
            5 => Some(MessageType::Data),
            _ => None,
        }
    }

    /// The protocol's name for it.
    pub const fn name(self) -> &'static str {
        match self {
            MessageType::PeerInfo => "PEER_INFO",
            MessageType::KeySwitchStart => "KEY_SWITCH_START",
            MessageType::KeySwitchAck => "KEY_SWITCH_ACK",
            MessageType::KeyReady => "KEY_READY",
            MessageType::DebugString => "DEBUG_STRING",
            MessageType::Data => "DATA",
        }
    }

    /// The body lengths this type may have.
    const fn body_range(self) -> (usize, usize) {
        match self {
            MessageType::PeerInfo | MessageType::KeyReady => (PEER_INFO_LEN, PEER_INFO_LEN),
            MessageType::KeySwitchStart | MessageType::KeySwitchAck => {
                (PUBLIC_KEY_LEN, PUBLIC_KEY_LEN)
            }
            MessageType::DebugString => (0, MAX_BODY),
            MessageType::Data => (1, MAX_BODY),
        }
    }
}

/// Why bytes are not a datagram (or a buffer cannot hold one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Shorter than the 41-byte header (W1: checked before anything else).
    #[error("datagram of {0} bytes is shorter than the {OVERHEAD}-byte header")]
    TooShort(usize),
    /// Longer than the largest datagram.
    #[error("datagram of {0} bytes is longer than {MAX_DATAGRAM}")]
    TooLong(usize),
    /// An authenticated type byte that names no message.
    #[error("unknown message type {0}")]
    UnknownType(u8),
    /// A body whose length does not fit its type.
    #[error("{} body of {len} bytes", msg.name())]
    BodyLength {
        /// The type.
        msg: MessageType,
        /// The body's length.
        len: usize,
    },
    /// The output buffer cannot hold the datagram.
    #[error("buffer of {have} bytes cannot hold a {need}-byte datagram")]
    BufferTooSmall {
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },
}

/// A message, decoded from an opened datagram. Bodies are borrowed from the
/// datagram buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message<'a> {
    /// The peer's peer info.
    PeerInfo(PeerInfo),
    /// The master's new public key.
    KeySwitchStart(PublicKey),
    /// The slave's new public key.
    KeySwitchAck(PublicKey),
    /// The master's peer info, sent as it switches keys.
    KeyReady(PeerInfo),
    /// Console text, without its terminating NUL.
    DebugString(&'a [u8]),
    /// One IP packet.
    Data(&'a [u8]),
}

/// Checks a received datagram's length (41 to 1541 bytes, before anything
/// else is read: W1) and returns its nonce.
pub fn read_nonce(datagram: &[u8]) -> Result<Nonce, FrameError> {
    if datagram.len() < OVERHEAD {
        return Err(FrameError::TooShort(datagram.len()));
    }
    if datagram.len() > MAX_DATAGRAM {
        return Err(FrameError::TooLong(datagram.len()));
    }
    datagram
        .get(..NONCE_LEN)
        .and_then(Nonce::from_slice)
        .ok_or(FrameError::TooShort(datagram.len()))
}

/// Opens a datagram in place under `key`: on success `datagram[TYPE_OFFSET..]`
/// is the plaintext; on failure the datagram is unchanged, so another key
/// can be tried. Call [`read_nonce`] first.
pub fn open_in_place(key: &SharedKey, datagram: &mut [u8]) -> Result<(), OpenError> {
    let (head, sealed) = datagram.split_at_mut(MAC_OFFSET.min(datagram.len()));
    let nonce = Nonce::from_slice(head).ok_or(OpenError)?;
    key.open_in_place(&nonce, sealed)
}

/// Decodes an opened datagram's plaintext: the type byte and the body.
pub fn decode_plaintext(plain: &[u8]) -> Result<Message<'_>, FrameError> {
    let Some((&type_byte, body)) = plain.split_first() else {
        return Err(FrameError::TooShort(TYPE_OFFSET));
    };
    let msg = MessageType::from_byte(type_byte).ok_or(FrameError::UnknownType(type_byte))?;
    let (min, max) = msg.body_range();
    if body.len() < min || body.len() > max {
        return Err(FrameError::BodyLength {
            msg,
            len: body.len(),
        });
    }
    let key = || {
        <[u8; PUBLIC_KEY_LEN]>::try_from(body)
            .map(PublicKey::from_bytes)
            .map_err(|_| FrameError::BodyLength {
                msg,
                len: body.len(),
            })
    };
    Ok(match msg {
        MessageType::PeerInfo => Message::PeerInfo(PeerInfo::decode(body)?),
        MessageType::KeyReady => Message::KeyReady(PeerInfo::decode(body)?),
        MessageType::KeySwitchStart => Message::KeySwitchStart(key()?),
        MessageType::KeySwitchAck => Message::KeySwitchAck(key()?),
        MessageType::DebugString => {
            let text = body.split(|&b| b == 0).next().unwrap_or_default();
            Message::DebugString(text)
        }
        MessageType::Data => Message::Data(body),
    })
}

/// Seals the body already at `buf[BODY_OFFSET..][..body_len]` in place:
/// writes the nonce and the type, seals, and returns the datagram length.
/// The data path reads the tun straight into `buf[BODY_OFFSET..]`.
pub fn seal_in_place(
    key: &SharedKey,
    nonce: &Nonce,
    msg: MessageType,
    buf: &mut [u8],
    body_len: usize,
) -> Result<usize, FrameError> {
    let (min, max) = msg.body_range();
    if body_len < min || body_len > max {
        return Err(FrameError::BodyLength { msg, len: body_len });
    }
    let need = OVERHEAD + body_len;
    let have = buf.len();
    let datagram = buf
        .get_mut(..need)
        .ok_or(FrameError::BufferTooSmall { need, have })?;
    let (head, sealed) = datagram.split_at_mut(MAC_OFFSET);
    head.copy_from_slice(nonce.as_bytes());
    if let Some(type_byte) = sealed.get_mut(MAC_LEN) {
        *type_byte = msg.to_byte();
    }
    key.seal_in_place(nonce, sealed);
    Ok(need)
}

/// Seals `body` as a `msg` datagram into `out`; returns its length.
pub fn seal(
    key: &SharedKey,
    nonce: &Nonce,
    msg: MessageType,
    body: &[u8],
    out: &mut [u8],
) -> Result<usize, FrameError> {
    let need = OVERHEAD + body.len();
    let have = out.len();
    out.get_mut(BODY_OFFSET..need)
        .ok_or(FrameError::BufferTooSmall { need, have })?
        .copy_from_slice(body);
    seal_in_place(key, nonce, msg, out, body.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use vpnd_crypto::{KeyPair, SecretKey};

    fn key() -> SharedKey {
        let a = KeyPair::from_secret(SecretKey::from_bytes([1; 32]));
        SharedKey::precompute(&a.public, &a.secret).unwrap()
    }

    #[test]
    fn layout_constants() {
        assert_eq!(
            (MAC_OFFSET, TYPE_OFFSET, BODY_OFFSET, OVERHEAD),
            (24, 40, 41, 41)
        );
        assert_eq!(MAX_DATAGRAM, 1541);
        for b in 0..=255u8 {
            match MessageType::from_byte(b) {
                Some(t) => assert_eq!(t.to_byte(), b),
                None => assert!(b > 5),
            }
        }
    }

    #[test]
    fn lengths_are_checked_first() {
        for len in 0..OVERHEAD {
            assert_eq!(read_nonce(&vec![0; len]), Err(FrameError::TooShort(len)));
        }
        assert_eq!(read_nonce(&[7; 1542]), Err(FrameError::TooLong(1542)));
        assert_eq!(read_nonce(&[7; 41]), Ok(Nonce::from_bytes([7; 24])));
        assert_eq!(read_nonce(&[7; 1541]), Ok(Nonce::from_bytes([7; 24])));
    }

    #[test]
    fn round_trip_every_type_in_place() {
        let k = key();
        let nonce = Nonce::from_u64(42);
        for (msg, body) in [
            (MessageType::PeerInfo, vec![0u8; 92]),
            (MessageType::KeySwitchStart, vec![3u8; 32]),
            (MessageType::KeySwitchAck, vec![4u8; 32]),
            (MessageType::KeyReady, vec![5u8; 92]),
            (MessageType::DebugString, b"hi\0".to_vec()),
            (MessageType::Data, vec![0x45; 1500]),
        ] {
            let mut out = vec![0u8; MAX_DATAGRAM];
            let n = seal(&k, &nonce, msg, &body, &mut out).unwrap();
            assert_eq!(n, OVERHEAD + body.len());
            let d = &mut out[..n];
            assert_eq!(read_nonce(d), Ok(nonce));
            open_in_place(&k, d).unwrap();
            assert_eq!(d[TYPE_OFFSET], msg.to_byte());
            assert_eq!(&d[BODY_OFFSET..], &body[..]);
            let decoded = decode_plaintext(&d[TYPE_OFFSET..]).unwrap();
            match (msg, decoded) {
                (MessageType::DebugString, Message::DebugString(t)) => assert_eq!(t, b"hi"),
                (MessageType::Data, Message::Data(p)) => assert_eq!(p.len(), 1500),
                (MessageType::KeySwitchStart, Message::KeySwitchStart(pk)) => {
                    assert_eq!(pk.as_bytes(), &[3; 32])
                }
                (MessageType::KeySwitchAck, Message::KeySwitchAck(pk)) => {
                    assert_eq!(pk.as_bytes(), &[4; 32])
                }
                (MessageType::PeerInfo, Message::PeerInfo(_))
                | (MessageType::KeyReady, Message::KeyReady(_)) => {}
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn bad_bodies_and_buffers_are_refused() {
        let k = key();
        let n = Nonce::default();
        let mut out = [0u8; 200];
        assert_eq!(
            seal(&k, &n, MessageType::PeerInfo, &[0; 91], &mut out),
            Err(FrameError::BodyLength {
                msg: MessageType::PeerInfo,
                len: 91
            })
        );
        assert_eq!(
            seal(&k, &n, MessageType::Data, &[], &mut out),
            Err(FrameError::BodyLength {
                msg: MessageType::Data,
                len: 0
            })
        );
        assert_eq!(
            seal(&k, &n, MessageType::Data, &[1; 160], &mut out),
            Err(FrameError::BufferTooSmall {
                need: 201,
                have: 200
            })
        );
        assert_eq!(
            seal_in_place(&k, &n, MessageType::Data, &mut out, 1501),
            Err(FrameError::BodyLength {
                msg: MessageType::Data,
                len: 1501
            })
        );
        assert_eq!(
            decode_plaintext(&[]),
            Err(FrameError::TooShort(TYPE_OFFSET))
        );
        assert_eq!(decode_plaintext(&[6, 1]), Err(FrameError::UnknownType(6)));
        assert_eq!(
            decode_plaintext(&[1; 32]),
            Err(FrameError::BodyLength {
                msg: MessageType::KeySwitchStart,
                len: 31
            })
        );
        assert_eq!(
            decode_plaintext(&[5]),
            Err(FrameError::BodyLength {
                msg: MessageType::Data,
                len: 0
            })
        );
        // A debug string without a NUL is taken whole.
        assert_eq!(
            decode_plaintext(b"\x04abc"),
            Ok(Message::DebugString(b"abc"))
        );
        assert_eq!(decode_plaintext(b"\x04"), Ok(Message::DebugString(b"")));
    }

    #[test]
    fn no_input_panics() {
        let k = key();
        let mut x = 0x1234_5678_9abc_def0u64;
        for len in 0..2000 {
            let mut d: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let _ = decode_plaintext(&d);
            if read_nonce(&d).is_ok() {
                assert!(open_in_place(&k, &mut d).is_err());
            }
            let _ = open_in_place(&k, &mut d);
        }
    }
}
