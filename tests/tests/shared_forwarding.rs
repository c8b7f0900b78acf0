//! Three net-gw instances in one namespace share its forwarding switch:
//! the first to end leaves it on for the others, a `kill -9` of the
//! second takes nothing with it, and the last to end restores what the
//! first found. Routing IPv4 only, none of them touches IPv6 forwarding.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use vpnd_crypto::KeyPair;
use vpnd_tests::daemon::Daemon;
use vpnd_tests::netns::{self, Netns};
use vpnd_tests::pair::{OUTER_A, OUTER_B, Scratch, Side};

const FORWARDING_V4: &str = "/proc/sys/net/ipv4/conf/all/forwarding";
const FORWARDING_V6: &str = "/proc/sys/net/ipv6/conf/all/forwarding";
const SESSION_UP: &str = "network configured for the session";

#[test]
fn forwarding_stays_on_until_the_last_instance_ends() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let dir = Scratch::new("fwd");
    let record = dir.join("forwarding");
    let env = [("VPND_TEST_FORWARDING_DIR", record.as_os_str())];
    let (gateways, peers) = (Netns::new("vtg"), Netns::new("vtp"));
    netns::link(
        &gateways,
        &format!("{OUTER_A}/30"),
        &peers,
        &format!("{OUTER_B}/30"),
    );
    let sysctl = |path: &str| {
        let out = gateways.command("cat").arg(path).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(
        sysctl(FORWARDING_V4),
        "0",
        "a new namespace forwards nothing"
    );
    assert_eq!(sysctl(FORWARDING_V6), "0");

    // Instance i in each namespace, on port 4710 + i, each pair with its
    // own keys and networks; the gateways' sessions up one after another.
    // The sides share the two namespaces (each deletes it when dropped,
    // after the daemons: the first deletion wins).
    let share = |ns: &Netns| Netns {
        name: ns.name.clone(),
    };
    let mut sides: Vec<Side> = Vec::new();
    let mut running: Vec<(Daemon, Daemon)> = Vec::new();
    for (i, (g, p)) in [("g1", "p1"), ("g2", "p2"), ("g3", "p3")]
        .into_iter()
        .enumerate()
    {
        let port = 4711 + i;
        let (kg, kp) = (KeyPair::generate(), KeyPair::generate());
        let lines = |peer: &str, network: u8| {
            format!(
                "role: net-gw\nremote_host: {peer}\nremote_port: {port}\nlocal_port: {port}\n\
                 remote_network: 198.19.{network}.0/24\n"
            )
        };
        let gateway = Side::new(&dir, share(&gateways), g);
        gateway.write_config(&dir, &kg, &kp, &lines(OUTER_B, 11 + i as u8));
        let peer = Side::new(&dir, share(&peers), p);
        peer.write_config(&dir, &kp, &kg, &lines(OUTER_A, 21 + i as u8));
        let mut dg = gateway.start_with_env(&dir, &env);
        dg.wait_running(Duration::from_secs(20));
        let mut dp = peer.start_with_env(&dir, &env);
        dp.wait_running(Duration::from_secs(20));
        assert!(
            dg.wait_for_log(SESSION_UP, Duration::from_secs(30)),
            "{g}: no session\n{}\n--- {p}:\n{}",
            dg.log_text(),
            dp.log_text()
        );
        assert_eq!(sysctl(FORWARDING_V4), "1", "{g}: IPv4 forwarding off");
        assert_eq!(sysctl(FORWARDING_V6), "0", "{g} routes IPv4 only");
        running.push((dg, dp));
        sides.extend([gateway, peer]);
    }

    let mut third = running.pop().unwrap();
    let mut second = running.pop().unwrap();
    let mut first = running.pop().unwrap();
    assert!(first.0.stop().success(), "{}", first.0.log_text());
    assert_eq!(
        sysctl(FORWARDING_V4),
        "1",
        "the first to end switched forwarding off under the others"
    );
    second.0.kill_all();
    assert_eq!(
        sysctl(FORWARDING_V4),
        "1",
        "a killed instance took it along"
    );
    assert!(third.0.stop().success(), "{}", third.0.log_text());
    assert_eq!(
        sysctl(FORWARDING_V4),
        "0",
        "the last to end did not restore what the first found"
    );
    assert_eq!(sysctl(FORWARDING_V6), "0");
    for (_, mut peer) in [first, second, third] {
        peer.stop();
    }
    // The peers' namespace has its own record, gone with them too.
    let left: Vec<_> = std::fs::read_dir(&record)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "record left behind: {left:?}");
}
