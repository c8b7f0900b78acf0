//! Garbage and forgeries (W1, W8, W9): 120,000 datagrams of every kind
//! (shorter than a header, oversize, random, a DATA frame with a bad MAC,
//! a genuine datagram with its nonce moved far ahead, sealed with a key
//! nobody holds), half from the relay (the peer's own address) and half
//! from a third namespace: the network process neither dies nor restarts
//! the session, each kind lands in its drop counter exactly, genuine
//! traffic goes on meanwhile, and the process's memory stays flat.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use vpnd_tests::netns;
use vpnd_tests::pair::{HOST_A, HOST_B, OUTER_A, Pair, STRANGER};
use vpnd_tests::relay::{Dir, Forger, Forgery};
use vpnd_tests::traffic;

const EACH: u64 = 10_000;

#[test]
fn forgeries_from_anywhere_are_counted_and_change_nothing() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let pair = Pair::relayed("forge", "");
    let relay = pair.start_relay(0xf0f0);
    let (da, _db) = pair.start_both();
    let stranger = pair.stranger();
    // A warm-up the size of the flood, so that what the allocator keeps
    // for the data path is there before the first measurement.
    assert!(traffic::ping_flood(&pair.b.ns, HOST_B, HOST_A, 2000));
    let net_pid = da.net_pid().unwrap();
    let before = da.stats();
    let rss_before = vpnd_tests::procstat::rss_kb(net_pid).unwrap();
    let overflow_before = pair.a.ns.udp_counter("RcvbufErrors");

    // Genuine traffic throughout: pings from b's site to a's.
    let pinger = {
        let ns = pair.b.ns.name.clone();
        std::thread::spawn(move || {
            netns::Netns::named(&ns)
                .command("ping")
                .args([
                    "-q", "-c", "100", "-i", "0.05", "-W", "1", "-I", HOST_B, HOST_A,
                ])
                .output()
                .unwrap()
        })
    };
    for kind in Forgery::ALL {
        relay.inject(Dir::BtoA, kind, EACH);
    }
    let from_stranger = netns::spawn_in(&stranger.name, move |ready| {
        let sock = UdpSocket::bind(format!("{STRANGER}:0")).unwrap();
        ready();
        let mut forger = Forger::new(0x57a4);
        for kind in Forgery::ALL {
            for i in 0..EACH {
                let d = forger.forge(kind, &[]);
                sock.send_to(&d, format!("{OUTER_A}:4706")).unwrap();
                if i % 32 == 31 {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    });
    from_stranger.join().unwrap();
    relay.wait_idle();
    let pings = pinger.join().unwrap();

    // Until a has counted them all.
    let injected = 2 * EACH * Forgery::ALL.len() as u64;
    let total = |s: &BTreeMap<String, u64>| -> u64 {
        ["drops.too_short", "drops.too_long", "drops.decrypt_failure"]
            .iter()
            .map(|k| s[*k])
            .sum()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while total(&da.stats()) < total(&before) + injected && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let after = da.stats();
    let overflow = pair.a.ns.udp_counter("RcvbufErrors") - overflow_before;
    let rss_after = vpnd_tests::procstat::rss_kb(net_pid).unwrap();
    eprintln!(
        "{injected} forgeries: drops {:?} -> {:?}; socket overflow {overflow}; RSS {rss_before} kB -> {rss_after} kB",
        ["drops.too_short", "drops.too_long", "drops.decrypt_failure"].map(|k| before[k]),
        ["drops.too_short", "drops.too_long", "drops.decrypt_failure"].map(|k| after[k]),
    );
    assert_eq!(
        overflow, 0,
        "a's socket overflowed: the counts cannot match"
    );
    let mut expected: BTreeMap<&str, u64> = BTreeMap::new();
    for kind in Forgery::ALL {
        *expected.entry(kind.drop_counter()).or_default() += 2 * EACH;
    }
    for (counter, n) in &expected {
        assert_eq!(after[*counter] - before[*counter], *n, "{counter}");
    }
    // Nothing else moved: no restart, no new session, no death.
    assert_eq!(
        da.net_pid(),
        Some(net_pid),
        "the network process was replaced"
    );
    for same in [
        "sessions",
        "peer_deaths",
        "peer_restarts",
        "drops.replayed",
        "drops.wrong_source",
    ] {
        assert_eq!(after[same], before[same], "{same}");
    }
    let ping_out = String::from_utf8_lossy(&pings.stdout);
    assert!(
        ping_out.contains("100 received") || ping_out.contains(" 0% packet loss"),
        "genuine traffic during the flood: {ping_out}"
    );
    assert!(
        rss_after <= rss_before + 1024,
        "RSS grew from {rss_before} kB to {rss_after} kB"
    );
}
