//! Frames the parent decodes from the network process (untrusted) and the
//! network process decodes from the parent. Invariants: no panic, no
//! allocation beyond the frame limit (bincode's limit), and a decoded
//! message encodes and decodes to itself.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vpnd_proto::ipc;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = ipc::decode_to_parent(data) {
        let frame = ipc::encode(&m).expect("a decoded message encodes");
        assert_eq!(ipc::decode_to_parent(&frame).expect("round trip"), m);
    }
    if let Ok(m) = ipc::decode_to_child(data) {
        let frame = ipc::encode(&m).expect("a decoded message encodes");
        assert_eq!(ipc::decode_to_child(&frame).expect("round trip"), m);
    }
});
