//! Frames a tun with the virtio-net header hands over (the kernel's, but
//! parsed in the unprivileged network process all the same) and packets
//! from the peer offered for joining. Invariants: no panic; no segment
//! larger than the buffer; every frame the coalescer hands out is one the
//! splitter accepts (a tun reading it back would be well-formed), and
//! what it joined splits back into as many bytes of payload as went in.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vpnd_offload::{Coalescer, Segments, vnet};

fuzz_target!(|data: &[u8]| {
    let mut frame = data.to_vec();
    let mut coalescer = Coalescer::new();
    let mut buf = [0u8; 1600];
    let mut emitted: Vec<Vec<u8>> = Vec::new();
    if let Ok(mut segments) = Segments::new(&mut frame) {
        let mut count = 0usize;
        while let Some(n) = segments.next_into(&mut buf) {
            assert!(n <= buf.len());
            count += 1;
            assert!(count <= 65_536, "runaway split");
            if !coalescer.offer(&buf[..n], &mut |f| emitted.push(f.to_vec())) {
                emitted.push([&[0u8; vnet::LEN][..], &buf[..n]].concat());
            }
        }
    }
    // The raw bytes as a packet from the peer, too.
    let raw = data.get(vnet::LEN..).unwrap_or_default();
    if !coalescer.offer(raw, &mut |f| emitted.push(f.to_vec())) {
        emitted.push([&[0u8; vnet::LEN][..], raw].concat());
    }
    coalescer.flush(&mut |f| emitted.push(f.to_vec()));
    for mut f in emitted {
        let joined = vnet::Header::parse(&f).expect("a header").gso_type != vnet::GSO_NONE;
        let mut segments = Segments::new(&mut f).expect("the splitter takes what was joined");
        let mut big = vec![0u8; 65_536];
        let mut pieces = 0;
        while segments.next_into(&mut big).is_some() {
            pieces += 1;
        }
        assert!(!joined || pieces >= 2, "a joined frame holds several segments");
    }
});
