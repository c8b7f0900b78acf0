//! The wire format against `shared/vectors/`: computed vectors for every
//! message type, and datagrams recorded from the deployed vpnd 1.1.7.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod vectors_common;

use vectors_common::{bytes, key, vectors};
use vpnd_crypto::{Nonce, SharedKey};
use vpnd_proto::wire::{self, Message, MessageType};

/// Opens and decodes; returns the type and the body as on the wire.
fn open(key: &SharedKey, datagram: &[u8]) -> (MessageType, Vec<u8>, Vec<u8>) {
    let mut d = datagram.to_vec();
    wire::read_nonce(&d).unwrap();
    wire::open_in_place(key, &mut d).unwrap();
    let t = MessageType::from_byte(d[wire::TYPE_OFFSET]).unwrap();
    let decoded = match wire::decode_plaintext(&d[wire::TYPE_OFFSET..]).unwrap() {
        Message::PeerInfo(p) | Message::KeyReady(p) => p.encode().to_vec(),
        Message::KeySwitchStart(pk) | Message::KeySwitchAck(pk) => pk.as_bytes().to_vec(),
        Message::DebugString(s) => s.to_vec(),
        Message::Data(p) => p.to_vec(),
    };
    (t, d[wire::BODY_OFFSET..].to_vec(), decoded)
}

#[test]
fn every_computed_vector_decodes_and_our_encoder_reproduces_it() {
    let v = vectors("wire.json");
    let k = key(&v, "a_sk", "b_pk");
    for d in v["datagrams"].as_array().unwrap() {
        let name = d["name"].as_str().unwrap();
        let datagram = bytes(&d["datagram"]);
        let body = bytes(&d["body"]);
        let (t, raw, decoded) = open(&k, &datagram);
        assert_eq!(
            u64::from(t.to_byte()),
            d["type"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(t.name(), d["type_name"].as_str().unwrap());
        assert_eq!(raw, body, "{name}");
        match t {
            // The text without its NUL.
            MessageType::DebugString => assert_eq!(decoded, b"hello"),
            _ => assert_eq!(decoded, body, "{name}: decode and encode disagree"),
        }
        let nonce = Nonce::from_slice(&bytes(&d["nonce"])).unwrap();
        let mut out = vec![0u8; wire::MAX_DATAGRAM];
        let n = wire::seal(&k, &nonce, t, &body, &mut out).unwrap();
        assert_eq!(out[..n], datagram[..], "{name}");
    }
    let mut bad = bytes(&v["bad_mac_datagram"]);
    assert!(wire::open_in_place(&k, &mut bad).is_err());
}

#[test]
fn the_peer_info_vectors_carry_their_pushes() {
    let v = vectors("wire.json");
    let k = key(&v, "a_sk", "b_pk");
    let by_name = |n: &str| {
        let d = v["datagrams"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == n)
            .unwrap();
        let mut b = bytes(&d["datagram"]);
        wire::open_in_place(&k, &mut b).unwrap();
        match wire::decode_plaintext(&b[wire::TYPE_OFFSET..]).unwrap() {
            Message::PeerInfo(p) | Message::KeyReady(p) => p,
            other => panic!("{other:?}"),
        }
    };
    let net_gw = by_name("peer_info_net_gw");
    assert_eq!(net_gw.peer_id, 0x0102_0304);
    assert_eq!(net_gw.pushed(), Ok(None));
    let v4 = by_name("peer_info_host_gw");
    assert_eq!(v4.peer_id, 0xdead_beef);
    let p = v4.pushed().unwrap().unwrap();
    assert_eq!(p.host.to_string(), "198.19.7.2/24");
    assert_eq!(p.network.to_string(), "198.19.1.0/24");
    assert_eq!(p.resolver.unwrap().to_string(), "198.19.1.53");
    assert_eq!(p.domain.unwrap().as_str(), "example.test");
    let v6 = by_name("peer_info_host_gw_v6");
    assert_eq!(v6.peer_id, 7);
    let p = v6.pushed().unwrap().unwrap();
    assert_eq!(p.host.to_string(), "2001:2:0:7::2/64");
    assert_eq!(p.network.to_string(), "2001:2:0:1::/64");
    assert_eq!(p.resolver.unwrap().to_string(), "2001:2:0:1::53");
    assert_eq!(p.domain.unwrap().as_str(), "v6.example.test");
}

fn check_capture(file: &str, sk: &str, pk: &str) -> (usize, usize) {
    let v = vectors(file);
    let k = key(&v, sk, pk);
    let (mut static_ok, mut others) = (0, 0);
    for d in v["datagrams"].as_array().unwrap() {
        let datagram = bytes(&d["datagram"]);
        assert_eq!(datagram.len() as u64, d["len"].as_u64().unwrap());
        if d["static_key"] == true {
            let (t, raw, _) = open(&k, &datagram);
            assert_eq!(t.name(), d["type_name"].as_str().unwrap());
            assert_eq!(raw, bytes(&d["body"]));
            static_ok += 1;
        } else {
            let mut copy = datagram.clone();
            assert!(wire::read_nonce(&copy).is_ok());
            assert!(wire::open_in_place(&k, &mut copy).is_err());
            assert_eq!(copy, datagram);
            others += 1;
        }
    }
    (static_ok, others)
}

#[test]
fn captured_net_gw_datagrams() {
    assert_eq!(
        check_capture("captured-net-gw.json", "a_sk", "b_pk"),
        (6, 34)
    );
}

#[test]
fn captured_host_gw_datagrams_and_the_pushed_values() {
    assert_eq!(
        check_capture("captured-host-gw.json", "gateway_sk", "client_pk"),
        (5, 7)
    );
    let v = vectors("captured-host-gw.json");
    let k = key(&v, "client_sk", "gateway_pk");
    let ready = v["datagrams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["type_name"] == "KEY_READY")
        .unwrap();
    let mut b = bytes(&ready["datagram"]);
    wire::open_in_place(&k, &mut b).unwrap();
    let Message::KeyReady(info) = wire::decode_plaintext(&b[wire::TYPE_OFFSET..]).unwrap() else {
        panic!()
    };
    let p = info.pushed().unwrap().unwrap();
    assert_eq!(p.host.to_string(), "198.19.7.2/24");
    assert_eq!(p.network.to_string(), "198.19.2.0/24");
    assert_eq!(p.resolver.unwrap().to_string(), "198.19.2.53");
    assert_eq!(p.domain.as_ref().unwrap().as_str(), "example.test");
    // Our encoder gives the deployed gateway's bytes for the same push
    // (IPv4 only: the family byte for IPv6 does not show).
    assert_eq!(
        wire::PeerInfo::for_host_gw(info.peer_id, &p, wire::Inet6Family::LINUX).encode(),
        info.encode()
    );
}
