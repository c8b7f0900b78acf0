//! IPC frames: every message round-trips; truncated, oversized, trailing
//! and random frames are rejected without panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use vpnd_proto::config::{self, Secrets};
use vpnd_proto::ipc::{
    self, IPC_VERSION, IpcError, MAX_FRAME, NonceSlot, Offloads, Refusal, Start, ToChild, ToParent,
    TunFraming, UdpSends,
};
use vpnd_proto::wire::Pushed;

fn pushed() -> Pushed {
    Pushed {
        host: "198.19.3.2/24".parse().unwrap(),
        network: "198.19.1.0/24".parse().unwrap(),
        resolver: Some("2001:2::53".parse().unwrap()),
        domain: Some("vpnd.test".parse().unwrap()),
    }
}

fn to_parent() -> Vec<ToParent> {
    vec![
        ToParent::Hello {
            version: IPC_VERSION,
        },
        ToParent::NetworkUp {
            peer: "198.18.0.2:4706".parse().unwrap(),
            pushed: None,
        },
        ToParent::NetworkUp {
            peer: "[2001:2::2]:4706".parse().unwrap(),
            pushed: Some(pushed()),
        },
        ToParent::NetworkDown,
        ToParent::PersistNonce {
            slot: NonceSlot::Local,
            nonce: [7; 24],
        },
        ToParent::PersistNonce {
            slot: NonceSlot::Remote,
            nonce: [0xff; 24],
        },
        ToParent::ConnectPeer {
            peer: "198.18.0.9:51000".parse().unwrap(),
        },
        ToParent::ConnectPeer {
            peer: "[2001:2::9]:4706".parse().unwrap(),
        },
        ToParent::ResolvePeer,
    ]
}

fn start() -> Start {
    let text = "role: host-gw\nlocal_sk: 845b920bda4cd49d251d3329144a0cf8bdaaa07502626fa87f08e80faedab11f\n\
                remote_pk: 9d8d78b9c9e6661e552f2f1af02095ee2f8743fa2e6183f41bb7077ef51b5379\n\
                local_network: 198.19.1.0/24\nhost_addr: 198.19.3.2/24\nresolv_domain: vpnd.test\n";
    Start {
        version: IPC_VERSION,
        config: config::parse(Path::new("t"), text).unwrap(),
        stats_prefix: "gw_a".parse().unwrap(),
        peer: None,
        local_nonce: Some([1; 24]),
        remote_nonce: [2; 24],
        unix_time: 1_800_000_000,
        uid: 65534,
        gid: 65534,
        offloads: Default::default(),
        console: true,
        udp_sends: UdpSends::Addressed,
    }
}

fn to_child() -> Vec<ToChild> {
    let bsd_tun = Start {
        offloads: Offloads {
            tun_framing: TunFraming::AfHeader,
            ..Default::default()
        },
        udp_sends: UdpSends::Connected,
        ..start()
    };
    vec![
        ToChild::Start(Box::new(start())),
        ToChild::Start(Box::new(bsd_tun)),
        ToChild::PeerConnected {
            peer: "198.18.0.9:51000".parse().unwrap(),
        },
        ToChild::PeerRefused {
            peer: "[2001:2::9]:4706".parse().unwrap(),
            reason: "more than 8 reconnections in a row".into(),
        },
        ToChild::PeerAddress {
            peer: "[2001:2::7]:4706".parse().unwrap(),
        },
        ToChild::NetworkApplied,
        ToChild::NetworkRefused {
            reason: Refusal::PushedValue {
                message: "pushed network: 0.0.0.0/0".into(),
            },
        },
        ToChild::NetworkRefused {
            reason: Refusal::CommandFailed {
                message: "/sbin/ip: exit 2".into(),
            },
        },
        ToChild::NetworkRefused {
            reason: Refusal::TooOften {
                message: "NetworkUp: more than 30 sessions at once or one per 2 s".into(),
            },
        },
        ToChild::NonceSaved {
            slot: NonceSlot::Local,
            nonce: [0xff; 24],
        },
        ToChild::NonceRefused {
            slot: NonceSlot::Remote,
            nonce: [1; 24],
            reason: "rename: No space left on device".into(),
        },
        ToChild::Refusals { total: u64::MAX },
        ToChild::DumpState,
        ToChild::Shutdown,
    ]
}

#[test]
fn every_message_round_trips() {
    for m in to_parent() {
        let f = ipc::encode(&m).unwrap();
        assert_eq!(ipc::decode_to_parent(&f).unwrap(), m);
    }
    for m in to_child() {
        let f = ipc::encode(&m).unwrap();
        assert!(f.len() < MAX_FRAME / 4, "{} bytes", f.len());
        assert_eq!(ipc::decode_to_child(&f).unwrap(), m);
    }
    // The secret survives the trip (the child needs it), and only there.
    let ToChild::Start(s) = ipc::decode_to_child(&ipc::encode(&to_child()[0]).unwrap()).unwrap()
    else {
        panic!()
    };
    assert_eq!(
        s.config.to_text(Secrets::Included),
        start().config.to_text(Secrets::Included)
    );
}

#[test]
fn truncated_trailing_oversized_and_empty_frames_are_rejected() {
    for m in to_parent() {
        let f = ipc::encode(&m).unwrap();
        for cut in 0..f.len() {
            assert!(
                ipc::decode_to_parent(&f[..cut]).is_err(),
                "{m:?} cut at {cut}"
            );
        }
        let mut longer = f.to_vec();
        longer.push(0);
        assert_eq!(
            ipc::decode_to_parent(&longer),
            Err(IpcError::Trailing {
                used: f.len(),
                trailing: 1
            })
        );
    }
    for m in to_child() {
        let f = ipc::encode(&m).unwrap();
        for cut in 0..f.len() {
            assert!(ipc::decode_to_child(&f[..cut]).is_err());
        }
    }
    assert_eq!(ipc::decode_to_parent(&[]), Err(IpcError::Empty));
    let big = vec![0u8; MAX_FRAME + 1];
    assert_eq!(
        ipc::decode_to_parent(&big),
        Err(IpcError::TooLarge(MAX_FRAME + 1))
    );
}

#[test]
fn a_length_prefix_cannot_make_the_decoder_allocate() {
    // A NetworkUp whose domain claims 2^60 bytes.
    let mut f = ipc::encode(&to_parent()[2]).unwrap().to_vec();
    let at = f.len() - "vpnd.test".len() - 1;
    f.truncate(at);
    f.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0x10]);
    assert!(matches!(
        ipc::decode_to_parent(&f),
        Err(IpcError::Malformed(_))
    ));
}

#[test]
fn a_pushed_domain_with_a_newline_does_not_decode() {
    let f = ipc::encode(&to_parent()[2]).unwrap().to_vec();
    let at = f.windows(9).position(|w| w == b"vpnd.test").unwrap();
    let mut bad = f.clone();
    bad[at + 4] = b'\n';
    assert!(matches!(
        ipc::decode_to_parent(&bad),
        Err(IpcError::Malformed(_))
    ));
}

#[test]
fn a_prefix_longer_than_its_address_does_not_decode() {
    // The pushed network 198.19.1.0/24 rewritten to /200: before the
    // length was checked on decode, it became a value whose network()
    // overflowed.
    let f = ipc::encode(&to_parent()[2]).unwrap().to_vec();
    let at = f.windows(5).position(|w| w == [198, 19, 1, 0, 24]).unwrap();
    let mut bad = f.clone();
    bad[at + 4] = 200;
    match ipc::decode_to_parent(&bad) {
        Err(IpcError::Malformed(why)) => {
            assert!(why.contains("prefix length must be 0 to 32"), "{why}")
        }
        other => panic!("decoded: {other:?}"),
    }
    bad[at + 4] = 32;
    assert!(ipc::decode_to_parent(&bad).is_ok());
}

#[test]
fn random_frames_never_panic() {
    let mut x = 0xdead_beef_cafe_f00du64;
    let mut accepted = 0;
    for _ in 0..100_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = (x % 512) as usize;
        let frame: Vec<u8> = (0..len)
            .map(|i| {
                (x.rotate_left(i as u32 % 64) as u8) & if x.is_multiple_of(3) { 0x07 } else { 0xff }
            })
            .collect();
        if ipc::decode_to_parent(&frame).is_ok() {
            accepted += 1;
        }
        let _ = ipc::decode_to_child(&frame);
    }
    // Small frames like [1] (NetworkDown... or Hello{0}) do decode: the
    // parent's policy, not the codec, judges them.
    assert!(accepted < 100_000);
}
