//! The soak benchmark (bench/soak runs it): a net-gw pair through the
//! fault relay under steady numbered traffic for a long time, with the
//! shortest key lifetimes, relay faults and random kill -9 restarts of one
//! peer. Prints sessions, rotations, delivered and dropped packets by
//! reason, and each process's memory and descriptors at start and end;
//! exits 1 if a packet was delivered twice, a nonce repeated, the tunnel
//! did not come back, or the long-lived peer's memory or descriptors grew.
//!
//!   vpnd-soak [--seconds N] [--seed S]      (default 1800 s)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, HashSet};
use std::net::UdpSocket;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use vpnd_tests::daemon::Daemon;
use vpnd_tests::netns;
use vpnd_tests::numbered::Receiver;
use vpnd_tests::pair::{HOST_A, HOST_B, Pair};
use vpnd_tests::procstat::{fd_count, rss_kb};
use vpnd_tests::relay::{Dir, Faults, Rng};
use vpnd_tests::traffic;

const PORT: u16 = 9300;
/// Numbered datagrams a second from a's site to b's.
const RATE: u64 = 2000;

struct Args {
    seconds: u64,
    seed: u64,
}

fn args() -> Args {
    let mut a = Args {
        seconds: 1800,
        seed: 0x50a6,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().and_then(|v| v.parse().ok());
        match (flag.as_str(), value) {
            ("--seconds", Some(v)) => a.seconds = v,
            ("--seed", Some(v)) => a.seed = v,
            _ => {
                eprintln!("usage: vpnd-soak [--seconds N] [--seed S]");
                std::process::exit(64);
            }
        }
    }
    a
}

/// Memory and descriptors of a daemon's two processes.
#[derive(Debug, Clone, Copy)]
struct Footprint {
    parent: (u64, usize),
    net: (u64, usize),
}

/// The smallest of five readings 100 ms apart: a descriptor the parent
/// holds for a moment (the pipe of an `ip` it runs) is not a leak.
fn footprint(d: &Daemon) -> Footprint {
    let of = |pid: u32| (rss_kb(pid).unwrap_or(0), fd_count(pid).unwrap_or(0));
    let mut least = Footprint {
        parent: (u64::MAX, usize::MAX),
        net: (u64::MAX, usize::MAX),
    };
    for _ in 0..5 {
        let (p, n) = (of(d.pid()), of(d.net_pid().unwrap_or(0)));
        least.parent = (least.parent.0.min(p.0), least.parent.1.min(p.1));
        least.net = (least.net.0.min(n.0), least.net.1.min(n.1));
        std::thread::sleep(Duration::from_millis(100));
    }
    least
}

/// Numbered datagrams at RATE until `stop`.
fn sender(pair: &Pair, stop: Arc<AtomicBool>, sent: Arc<AtomicU64>) -> std::thread::JoinHandle<()> {
    let to = format!("{HOST_B}:{PORT}");
    netns::spawn_in(&pair.a.ns.name, move |ready| {
        let sock = UdpSocket::bind(format!("{HOST_A}:0")).unwrap();
        ready();
        let start = Instant::now();
        let mut payload = [0u8; 200];
        payload[..14].copy_from_slice(b"vpnd-numbered:");
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            // Paced by the clock: RATE a second on average.
            let due = start.elapsed().as_micros() as u64 * RATE / 1_000_000;
            while n < due {
                payload[14..22].copy_from_slice(&n.to_be_bytes());
                let _ = sock.send_to(&payload, &to);
                n += 1;
            }
            sent.store(n, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(2));
        }
    })
}

fn add_counters(total: &mut BTreeMap<String, u64>, stats: &BTreeMap<String, u64>) {
    for (k, v) in stats {
        if k == "sessions" || k == "keys" || k.starts_with("drops.") || k.contains("packets") {
            *total.entry(k.clone()).or_default() += v;
        }
    }
}

fn main() -> ExitCode {
    let args = args();
    if !rustix::process::geteuid().is_root() {
        eprintln!("vpnd-soak: run as root (network namespaces)");
        return ExitCode::from(77);
    }
    let extra = "max_key_packets: 5000\nmax_key_age: 30\nnonce_reset_incr: 16\n";
    let pair = Pair::relayed("soak", extra);
    let relay = pair.start_relay(args.seed);
    let faults = Faults {
        drop: 0.02,
        duplicate: 0.01,
        reorder: 0.02,
        max_displacement: 8,
        delay: 0.01,
        delay_ms: (1, 20),
        ..Faults::default()
    };
    let (da, mut db) = pair.start_both();
    relay.set_faults(Dir::AtoB, faults);
    relay.set_faults(Dir::BtoA, faults);
    let rx = Receiver::start(&pair.b.ns, HOST_B, PORT);
    let (stop, sent) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let tx = sender(&pair, stop.clone(), sent.clone());
    // Warm up before the first footprint: buffers and keys in place.
    std::thread::sleep(Duration::from_secs(5).min(Duration::from_secs(args.seconds / 4 + 1)));
    let start = Instant::now();
    let (a_start, b_start) = (footprint(&da), footprint(&db));
    let mut rng = Rng::new(args.seed);
    let mut restarts = 0u32;
    let mut failures = Vec::new();
    let mut b_total = BTreeMap::new();
    let end = start + Duration::from_secs(args.seconds);
    // One restart every 1/6 of the run at a random moment within it.
    let slice = Duration::from_secs(args.seconds / 6).max(Duration::from_secs(5));
    let mut next_restart = start + slice.mul_f64(0.5 + rng.range(0, 1000) as f64 / 2000.0);
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(200));
        if Instant::now() >= next_restart && Instant::now() + Duration::from_secs(5) < end {
            add_counters(&mut b_total, &db.stats());
            db.kill_all();
            db = pair.start(&pair.b);
            restarts += 1;
            if !traffic::wait_for_ping(&pair.b.ns, HOST_B, HOST_A, Duration::from_secs(30)) {
                failures.push(format!("restart {restarts}: the tunnel did not come back"));
            }
            next_restart += slice;
        }
    }
    let (a_end, b_end) = (footprint(&da), footprint(&db));
    stop.store(true, Ordering::Relaxed);
    tx.join().unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let (sa, sb) = (da.stats(), db.stats());
    add_counters(&mut b_total, &sb);
    let report = relay.report();

    let sent = sent.load(Ordering::Relaxed);
    println!(
        "vpnd soak: {} s, seed {:#x}, {restarts} restarts of b (kill -9)",
        args.seconds, args.seed
    );
    println!(
        "traffic a->b: {sent} numbered datagrams sent, {} delivered ({:.2} %), {} twice",
        rx.distinct(),
        100.0 * rx.distinct() as f64 / sent.max(1) as f64,
        rx.repeated().len()
    );
    println!(
        "relay: a->b received {} dropped {} duplicated {} reordered {} delayed {}; b->a received {} dropped {}",
        report.a_to_b.received,
        report.a_to_b.dropped,
        report.a_to_b.duplicated,
        report.a_to_b.reordered,
        report.a_to_b.delayed,
        report.b_to_a.received,
        report.b_to_a.dropped
    );
    println!(
        "a: sessions {}, rotations {}, packets rx/tx {}/{}",
        sa["sessions"], sa["keys"], sa["rx.packets"], sa["tx.packets"]
    );
    println!(
        "b (all runs): sessions {}, rotations {}, packets rx/tx {}/{}",
        b_total["sessions"], b_total["keys"], b_total["rx.packets"], b_total["tx.packets"]
    );
    for (name, stats) in [("a", &sa), ("b (all runs)", &b_total)] {
        let drops: Vec<String> = stats
            .iter()
            .filter(|(k, v)| k.starts_with("drops.") && **v > 0)
            .map(|(k, v)| format!("{} {v}", k.trim_start_matches("drops.")))
            .collect();
        println!(
            "{name} drops: {}",
            if drops.is_empty() {
                "none".into()
            } else {
                drops.join(", ")
            }
        );
    }
    println!("process            RSS kB start/end   fds start/end");
    for (name, s, e) in [
        ("a parent", a_start.parent, a_end.parent),
        ("a network", a_start.net, a_end.net),
        ("b parent", b_start.parent, b_end.parent),
        ("b network", b_start.net, b_end.net),
    ] {
        println!(
            "{name:<18} {:>6}/{:<6}        {:>3}/{:<3}",
            s.0, e.0, s.1, e.1
        );
    }
    println!("(b's end figures are its last incarnation's)");

    if !rx.repeated().is_empty() {
        failures.push(format!("{} datagrams delivered twice", rx.repeated().len()));
    }
    for (dir, nonces) in [
        ("a->b", &report.a_to_b.nonces),
        ("b->a", &report.b_to_a.nonces),
    ] {
        let mut seen = HashSet::new();
        let repeated = nonces.iter().filter(|n| !seen.insert(**n)).count();
        if repeated > 0 {
            failures.push(format!("{dir}: {repeated} nonces sent twice"));
        }
    }
    // a ran throughout: its memory and descriptors must be flat.
    for (name, s, e) in [
        ("a parent", a_start.parent, a_end.parent),
        ("a network", a_start.net, a_end.net),
    ] {
        if e.0 > s.0 + 1024 || e.1 > s.1 {
            failures.push(format!(
                "{name}: RSS {} -> {} kB, fds {} -> {}",
                s.0, e.0, s.1, e.1
            ));
        }
    }
    // Each restart costs up to two seconds of traffic (the peer notices
    // the restart and a new session starts); the rest must arrive.
    let expected = sent.saturating_sub(u64::from(restarts) * 2 * RATE);
    if (rx.distinct() as f64) < 0.9 * expected as f64 {
        failures.push(format!(
            "{} delivered, fewer than 90 % of the {expected} expected besides the restarts",
            rx.distinct()
        ));
    }
    for f in &failures {
        println!("soak: FAILED: {f}");
    }
    if failures.is_empty() {
        println!("soak: OK");
        ExitCode::SUCCESS
    } else {
        // Returned, not exited: the daemons, the relay and the namespaces
        // are dropped (stopped, deleted) on the way out.
        ExitCode::FAILURE
    }
}
