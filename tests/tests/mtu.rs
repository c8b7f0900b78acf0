//! The MTU (W21): with the default tun MTU, the largest ping that fits
//! crosses without any outer datagram fragmented and one byte more is
//! refused locally; a larger configured MTU is handled visibly (a warning
//! at start, outer datagrams fragmented by the sender's kernel, every
//! packet delivered whole), never truncated or lost silently.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Output;

use vpnd_tests::netns::Netns;
use vpnd_tests::pair::{HOST_A, HOST_B, Pair};
use vpnd_tests::traffic::tcp_transfer;

fn ip_counter(ns: &Netns, name: &str) -> u64 {
    let out = ns.command("cat").arg("/proc/net/snmp").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut ip = text.lines().filter(|l| l.starts_with("Ip: "));
    let (names, values) = (ip.next().unwrap(), ip.next().unwrap());
    let i = names.split_whitespace().position(|n| n == name).unwrap();
    values.split_whitespace().nth(i).unwrap().parse().unwrap()
}

/// A ping of `size` payload bytes with don't-fragment set.
fn ping_df(ns: &Netns, size: usize) -> Output {
    ns.command("ping")
        .args([
            "-c",
            "2",
            "-W",
            "2",
            "-M",
            "do",
            "-s",
            &size.to_string(),
            "-I",
            HOST_A,
            HOST_B,
        ])
        .output()
        .unwrap()
}

fn tun_mtu(ns: &Netns, device: &str) -> usize {
    let link = ns.ip_output(&["link", "show", "dev", device]);
    let after = link.split(" mtu ").nth(1).unwrap();
    after.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn the_largest_packet_that_fits_crosses_unfragmented_and_one_more_is_refused() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let pair = Pair::new("mtu", "");
    let (_da, _db) = pair.start_both();
    let mtu = tun_mtu(&pair.a.ns, &pair.a.device);
    assert_eq!(
        mtu, 1431,
        "an IPv4 peer: 1500 - 20 (IP) - 8 (UDP) - 41 (vpnd)"
    );
    let frags = (
        ip_counter(&pair.a.ns, "FragCreates"),
        ip_counter(&pair.b.ns, "ReasmReqds"),
    );

    let largest = mtu - 28; // the inner IPv4 and ICMP headers
    let out = ping_df(&pair.a.ns, largest);
    assert!(out.status.success(), "{largest} bytes: {out:?}");
    assert_eq!(
        (
            ip_counter(&pair.a.ns, "FragCreates"),
            ip_counter(&pair.b.ns, "ReasmReqds")
        ),
        frags,
        "outer datagrams were fragmented"
    );

    let out = ping_df(&pair.a.ns, largest + 1);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("message too long") && text.contains("1431"),
        "{text}"
    );
}

#[test]
fn a_larger_configured_mtu_is_warned_about_and_fragmented_never_truncated() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let pair = Pair::new("mtu1500", "mtu: 1500\n");
    let (da, _db) = pair.start_both();
    assert_eq!(tun_mtu(&pair.a.ns, &pair.a.device), 1500);
    assert!(
        da.log_text()
            .contains("mtu 1500: datagrams of up to 1569 bytes"),
        "{}",
        da.log_text()
    );
    let before = (da.stats(), ip_counter(&pair.a.ns, "FragCreates"));
    let out = ping_df(&pair.a.ns, 1472);
    assert!(out.status.success(), "a full 1500-byte packet: {out:?}");
    let reply = String::from_utf8_lossy(&out.stdout);
    assert!(
        reply.contains("1480 bytes from"),
        "delivered whole: {reply}"
    );
    let after = (da.stats(), ip_counter(&pair.a.ns, "FragCreates"));
    assert!(
        after.1 > before.1,
        "the outer datagrams were fragmented by the kernel"
    );
    assert_eq!(after.0["udp_send_errors"], before.0["udp_send_errors"]);
    // A TCP transfer sends runs of equal-sized 1541-byte datagrams: the
    // kernel refuses to segment what exceeds the veth's 1500 bytes, vpnd
    // says so once and sends them one by one, fragmented; nothing is lost.
    let t = tcp_transfer(&pair.a.ns, HOST_A, &pair.b.ns, HOST_B, 4 << 20);
    t.assert_whole("at mtu 1500");
    let log = da.log_text();
    assert_eq!(
        log.matches("UDP segmentation refused by the kernel")
            .count(),
        1,
        "{log}"
    );
    assert_eq!(da.stats()["udp_send_errors"], before.0["udp_send_errors"]);
}
