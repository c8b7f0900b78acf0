//! One gateway, three roaming clients: three host-gw instances in one
//! namespace from `alice.conf`, `bob.conf` and `carol.conf`, files that
//! differ only in keys, port and host address (device, pid file,
//! statistics socket and nonce files follow from each file's name), and
//! three clients, each in a namespace of its own. All are up at once and
//! carry traffic; bob's client is killed with SIGKILL and restarted while
//! pings through alice's and carol's keep being answered and their
//! gateway instances see nothing of it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use vpnd_crypto::KeyPair;
use vpnd_tests::daemon::Daemon;
use vpnd_tests::netns::{self, Netns};
use vpnd_tests::pair::{Scratch, Side, write_private};
use vpnd_tests::site::bare;
use vpnd_tests::traffic;

const NAMES: [&str; 3] = ["alice", "bob", "carol"];
const CLIENTS: [&str; 3] = ["client_alice", "client_bob", "client_carol"];
const INSIDE: &str = "198.19.1.10";

/// Client `i`'s outer link: the gateway's address and the client's.
fn outer(i: usize) -> (String, String) {
    (
        format!("198.18.1.{}/30", 4 * i + 1),
        format!("198.18.1.{}/30", 4 * i + 2),
    )
}

fn host_addr(i: usize) -> String {
    format!("198.19.3.{}/24", i + 2)
}

fn port(i: usize) -> u16 {
    4711 + i as u16
}

/// Pings `to` from `from` in `ns` until `stop`: (sent, answered).
fn keep_pinging(ns: &str, from: &str, to: &str, stop: Arc<AtomicBool>) -> (u32, u32) {
    let ns = Netns::named(ns);
    let (mut sent, mut answered) = (0, 0);
    while !stop.load(Ordering::Relaxed) {
        sent += 1;
        // A generous wait: a busy machine must not pass for a lost ping.
        let ok = ns
            .command("ping")
            .args(["-q", "-c", "1", "-W", "5", "-I", from, to])
            .stdout(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        answered += u32::from(ok);
        std::thread::sleep(Duration::from_millis(100));
    }
    (sent, answered)
}

#[test]
fn three_instances_serve_three_clients_and_one_restarts_alone() {
    if !vpnd_tests::can_run!("ping") {
        return;
    }
    let dir = Scratch::new("instances");
    let (g, i) = (Netns::new("vtg"), Netns::new("vti"));
    let (gw_in, inside_if) = netns::link_bare(&g, &i);
    g.ip(&["addr", "add", "198.19.1.1/24", "dev", &gw_in]);
    i.ip(&["addr", "add", &format!("{INSIDE}/24"), "dev", &inside_if]);
    i.ip(&["route", "add", "default", "via", "198.19.1.1"]);

    // The gateway's files: one directory of named configurations; their
    // runtime and state directories in the scratch directory, made by
    // vpnd itself.
    let confs = dir.join("gateway");
    std::fs::create_dir(&confs).unwrap();
    let (run, state) = (dir.join("run"), dir.join("state"));
    let env = [
        ("VPND_TEST_RUNTIME_DIR", run.as_os_str()),
        ("VPND_TEST_STATE_DIR", state.as_os_str()),
    ];
    let mut gateways = Vec::new();
    let mut clients = Vec::new();
    for (k, name) in NAMES.iter().enumerate() {
        let c = Netns::new("vtc");
        let (gw_addr, client_addr) = outer(k);
        netns::link(&g, &gw_addr, &c, &client_addr);
        let (kg, kc) = (KeyPair::generate(), KeyPair::generate());
        let conf = confs.join(format!("{name}.conf"));
        write_private(
            &conf,
            &format!(
                "role: host-gw\nlocal_sk: {}\nremote_pk: {}\nlocal_port: {}\n\
                 local_network: 198.19.1.0/24\nhost_addr: {}\n\
                 user: nobody\nchroot_dir: {}\n",
                kg.secret.expose_hex(),
                kc.public.to_hex(),
                port(k),
                host_addr(k),
                dir.join("empty").display()
            ),
        );
        let stats = run.join(format!("{name}_stats.sock"));
        let log = dir.join(&format!("{name}.log"));
        let mut d = Daemon::start(&g, &conf, &log, &stats, &env, &[]);
        d.wait_running(Duration::from_secs(20));
        gateways.push(d);

        let client = Side::new(&dir, c, CLIENTS[k]);
        client.write_config(
            &dir,
            &kc,
            &kg,
            &format!(
                "role: host\nremote_host: {}\nremote_port: {}\nresolvconf_path: {}\n",
                bare(&gw_addr),
                port(k),
                dir.join("no-resolvconf").display()
            ),
        );
        clients.push(client);
    }

    // What each name gave: its own device, pid file and socket.
    let links = g.ip_output(&["link", "show"]);
    for (k, name) in NAMES.iter().enumerate() {
        assert!(links.contains(&format!("vpnd-{name}")), "{links}");
        let pid = std::fs::read_to_string(run.join(format!("{name}.pid"))).unwrap();
        assert_eq!(pid.trim(), gateways[k].pid().to_string());
    }

    let mut running: Vec<Daemon> = clients.iter().map(|c| c.start(&dir)).collect();
    for (k, client) in clients.iter().enumerate() {
        let from = bare(&host_addr(k)).to_owned();
        assert!(
            traffic::wait_for_ping(&client.ns, &from, INSIDE, Duration::from_secs(30)),
            "{}: no ping through its tunnel\n--- client:\n{}\n--- gateway:\n{}",
            NAMES[k],
            running[k].log_text(),
            gateways[k].log_text()
        );
        assert!(
            traffic::ping_flood(&client.ns, &from, INSIDE, 200),
            "{}: no flood through",
            NAMES[k]
        );
    }
    for (k, name) in NAMES.iter().enumerate() {
        let nonce = state.join(format!("local_{name}.nonce"));
        assert!(nonce.exists(), "{} missing", nonce.display());
        let stats = gateways[k].stats();
        assert!(stats["rx.packets"] >= 200, "{name}: {stats:?}");
        // Its metrics have a path of their own: HOST.NAME.vpnd.*.
        let graphite = gateways[k].graphite_text();
        let first = graphite.lines().next().unwrap_or_default();
        assert!(first.contains(&format!(".{name}.vpnd.")), "{first}");
    }

    // Pings through alice's and carol's tunnels while bob's client dies
    // and comes back.
    let before: Vec<_> = gateways.iter().map(Daemon::stats).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let pingers: Vec<_> = [0, 2]
        .into_iter()
        .map(|k| {
            let (ns, stop) = (clients[k].ns.name.clone(), stop.clone());
            let from = bare(&host_addr(k)).to_owned();
            std::thread::spawn(move || keep_pinging(&ns, &from, INSIDE, stop))
        })
        .collect();
    std::thread::sleep(Duration::from_secs(1));
    running[1].kill_all();
    running[1] = clients[1].start(&dir);
    assert!(
        traffic::wait_for_ping(
            &clients[1].ns,
            bare(&host_addr(1)),
            INSIDE,
            Duration::from_secs(30)
        ),
        "bob's client does not come back\n--- client:\n{}\n--- gateway:\n{}",
        running[1].log_text(),
        gateways[1].log_text()
    );
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    for (pinger, k) in pingers.into_iter().zip([0, 2]) {
        let (sent, answered) = pinger.join().unwrap();
        assert!(sent >= 5, "{}: only {sent} pings", NAMES[k]);
        assert_eq!(
            answered, sent,
            "{}: pings lost while bob's client restarted",
            NAMES[k]
        );
    }
    let after: Vec<_> = gateways.iter().map(Daemon::stats).collect();
    for k in [0, 2] {
        assert!(gateways[k].try_exit().is_none(), "{} exited", NAMES[k]);
        for counter in ["sessions", "peer_deaths", "peer_restarts"] {
            assert_eq!(
                after[k][counter], before[k][counter],
                "{}: {counter} moved",
                NAMES[k]
            );
        }
    }
    assert!(
        after[1]["sessions"] > before[1]["sessions"],
        "bob's gateway started no new session: {:?}",
        after[1]
    );

    // Stopped, an instance takes its own files along and nobody else's.
    drop(running);
    assert!(gateways[0].stop().success());
    assert!(!run.join("alice.pid").exists() && !run.join("alice_stats.sock").exists());
    assert!(run.join("bob.pid").exists() && run.join("carol_stats.sock").exists());
    let mode = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    };
    assert_eq!((mode(&run), mode(&state)), (0o755, 0o700));
}
