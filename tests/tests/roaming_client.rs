//! Roles host-gw and host: a roaming client reaches a host on the
//! gateway's internal network with the address, route and resolver the
//! gateway pushed, over IPv4 and IPv6; the gateway enables forwarding
//! only while the session is up, follows the client to a new address only
//! on an authenticated datagram, and forgets a client that went away.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use vpnd_tests::capture::Capture;
use vpnd_tests::daemon::all_drops;
use vpnd_tests::netns::{self, Netns};
use vpnd_tests::site::{INNER_V4, INNER_V6, OUTER_V4, OUTER_V6, Site, bare};
use vpnd_tests::traffic::{self, tcp_transfer};

const FORWARDING_V4: &str = "/proc/sys/net/ipv4/conf/all/forwarding";
const FORWARDING_V6: &str = "/proc/sys/net/ipv6/conf/all/forwarding";

/// Waits until `f` holds or `timeout`.
fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    f()
}

#[test]
fn ipv4_outside_and_inside_with_the_pushed_address_route_and_resolver() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let site = Site::new("host4", OUTER_V4, INNER_V4, "", "");
    assert_eq!(site.gateway_sysctl(FORWARDING_V4), "0");
    let (mut g, mut c) = site.start();
    let dev = &site.client.device;
    let addrs = site.client.ns.ip_output(&["addr", "show", dev]);
    assert!(addrs.contains("inet 198.19.3.2/32"), "{addrs}");
    let routes = site.client.ns.ip_output(&["route", "show", "dev", dev]);
    assert!(routes.contains("198.19.1.0/24"), "{routes}");
    let gw_routes = site
        .gateway
        .ns
        .ip_output(&["route", "show", "dev", &site.gateway.device]);
    assert!(gw_routes.contains("198.19.3.2"), "{gw_routes}");
    assert_eq!(site.gateway_sysctl(FORWARDING_V4), "1");
    let record = format!("{dev}.vpnd");
    assert_eq!(
        site.resolvconf_calls(),
        format!("resolvconf -a {record}\nnameserver 198.19.1.53\nsearch vpnd.test\n")
    );

    let t = tcp_transfer(
        &site.client.ns,
        "198.19.3.2",
        &site.inside,
        "198.19.1.10",
        20 << 20,
    );
    t.assert_whole("IPv4 inside and outside");

    assert!(c.stop().success(), "{}", c.log_text());
    assert_eq!(
        site.resolvconf_calls(),
        format!(
            "resolvconf -a {record}\nnameserver 198.19.1.53\nsearch vpnd.test\nresolvconf -d {record}\n"
        )
    );
    assert!(
        !site
            .client
            .ns
            .ip_output(&["link", "show"])
            .contains(dev.as_str())
    );
    assert!(g.stop().success(), "{}", g.log_text());
    assert_eq!(
        site.gateway_sysctl(FORWARDING_V4),
        "0",
        "forwarding not restored"
    );
}

#[test]
fn ipv6_outside_and_inside() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let site = Site::new("host6", OUTER_V6, INNER_V6, "", "");
    assert_eq!(site.gateway_sysctl(FORWARDING_V6), "0");
    let (mut g, _c) = site.start();
    let dev = &site.client.device;
    let addrs = site.client.ns.ip_output(&["addr", "show", dev]);
    assert!(addrs.contains("inet6 2001:2:0:3::2/128"), "{addrs}");
    let routes = site
        .client
        .ns
        .ip_output(&["-6", "route", "show", "dev", dev]);
    assert!(routes.contains("2001:2:0:1::/64"), "{routes}");
    assert_eq!(site.gateway_sysctl(FORWARDING_V6), "1");
    assert!(
        site.resolvconf_calls()
            .contains("nameserver 2001:2:0:1::53\n")
    );
    // The tun's MTU leaves room for the IPv6 outer header.
    let link = site.client.ns.ip_output(&["link", "show", dev]);
    assert!(link.contains("mtu 1411"), "{link}");
    let t = tcp_transfer(
        &site.client.ns,
        "2001:2:0:3::2",
        &site.inside,
        "2001:2:0:1::10",
        20 << 20,
    );
    t.assert_whole("IPv6 inside and outside");
    assert!(g.stop().success());
    assert_eq!(
        site.gateway_sysctl(FORWARDING_V6),
        "0",
        "forwarding not restored"
    );
}

#[test]
fn ipv4_inside_over_ipv6_outside() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let site = Site::new("host46", OUTER_V6, INNER_V4, "", "");
    let (_g, _c) = site.start();
    assert!(traffic::ping(&site.client.ns, "198.19.3.2", "198.19.1.10"));
}

#[test]
fn the_gateway_follows_a_moved_client_but_not_a_replay_from_elsewhere() {
    if !vpnd_tests::can_run!() {
        return;
    }
    follows_a_moved_client("roam", &[]);
}

/// FreeBSD's way of sending, on both sides: every datagram leaves by a
/// socket the parent connected to the peer, so the gateway learns its
/// client, and follows it, by asking its parent for a new one.
#[test]
fn the_gateway_follows_a_moved_client_with_connected_sockets() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let (g, c) = follows_a_moved_client(
        "roamc",
        &[("VPND_UDP_SENDS", std::ffi::OsStr::new("connected"))],
    );
    for log in [&g, &c] {
        assert!(
            log.contains("UDP: sends leave by a socket connected to the peer"),
            "{log}"
        );
    }
    let connected = |log: &str, peer: &str| {
        assert!(
            log.contains(&format!(
                "UDP: sending to {peer} by a socket connected to it"
            )),
            "{log}"
        );
        assert!(!log.contains("UDP: no socket connected"), "{log}");
    };
    connected(&g, "198.18.1.2:4706");
    connected(&g, "198.18.1.3:4706");
    connected(&c, "198.18.1.1:4706");
    // The client's own address moved: its socket was renewed.
    assert!(
        c.contains("UDP: source address now 198.18.1.3 (was 198.18.1.2)"),
        "{c}"
    );
}

/// A client moves during a transfer; its old datagrams replayed from
/// elsewhere are dropped. Returns the gateway's and the client's logs.
fn follows_a_moved_client(tag: &str, env: &[(&str, &std::ffi::OsStr)]) -> (String, String) {
    let site = Site::new(tag, OUTER_V4, INNER_V4, "", "");
    // A stranger beside the gateway, to replay the client's datagrams from.
    let stranger = Netns::new("vts");
    netns::link(
        &site.gateway.ns,
        "198.18.2.1/30",
        &stranger,
        "198.18.2.2/30",
    );
    // Deleting the client's first address must keep the second.
    for key in [
        "net.ipv4.conf.all.promote_secondaries",
        &format!("net.ipv4.conf.{}.promote_secondaries", site.client_if),
    ] {
        let ok = site
            .client
            .ns
            .command("sysctl")
            .args(["-q", "-w", &format!("{key}=1")])
            .status()
            .unwrap();
        assert!(ok.success());
    }
    let capture = Capture::start(
        &site.gateway.ns.name,
        bare(OUTER_V4.client).parse().unwrap(),
        4706,
    );
    let (g, c) = site.start_with_env(env);

    let (client_ns, inside_ns) = (site.client.ns.name.clone(), site.inside.name.clone());
    let transfer = std::thread::spawn(move || {
        let (c, i) = (Netns::named(&client_ns), Netns::named(&inside_ns));
        tcp_transfer(&c, "198.19.3.2", &i, "198.19.1.10", 300 << 20)
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !transfer.is_finished(),
        "the transfer ended before the move"
    );
    site.client
        .ns
        .ip(&["addr", "add", OUTER_V4.client_moved, "dev", &site.client_if]);
    site.client
        .ns
        .ip(&["addr", "del", OUTER_V4.client, "dev", &site.client_if]);
    let t = transfer.join().unwrap();
    t.assert_whole("the moving client to the internal host");
    assert!(
        g.log_text().contains("peer address: 198.18.1.3:4706"),
        "{}",
        g.log_text()
    );

    // Every datagram the client sent from its old address, replayed from
    // the stranger: all dropped and counted, the gateway stays put.
    let recorded = capture.finish();
    assert!(recorded.len() > 1000, "captured {}", recorded.len());
    let before = all_drops(&g.stats());
    let stranger_name = stranger.name.clone();
    let sent = std::thread::spawn(move || {
        Netns::enter_by_name(&stranger_name);
        let sock = UdpSocket::bind("198.18.2.2:4706").unwrap();
        for d in &recorded {
            sock.send_to(d, "198.18.2.1:4706").unwrap();
            // Paced, so no datagram is lost in a socket buffer.
            std::thread::sleep(Duration::from_micros(20));
        }
        recorded.len() as u64
    })
    .join()
    .unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || all_drops(&g.stats()) - before
            >= sent),
        "{} of {sent} replays counted: {:?}",
        all_drops(&g.stats()) - before,
        g.stats()
    );
    assert!(!g.log_text().contains("198.18.2.2"), "{}", g.log_text());
    assert!(traffic::ping(&site.client.ns, "198.19.3.2", "198.19.1.10"));
    (g.log_text(), c.log_text())
}

#[test]
fn the_gateway_forgets_a_client_that_went_away_and_accepts_it_again() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let site = Site::new("away", OUTER_V4, INNER_V4, "", "");
    let (g, mut c) = site.start();
    c.kill_all();
    // 20 s until the client is declared dead, 120 s more in INIT.
    assert!(
        wait_until(Duration::from_secs(170), || g
            .log_text()
            .contains("peer forgotten: waiting for a client")),
        "{}",
        g.log_text()
    );
    let gw_routes = site.gateway.ns.ip_output(&["route", "show"]);
    assert!(!gw_routes.contains("198.19.3.2"), "{gw_routes}");
    assert_eq!(site.gateway_sysctl(FORWARDING_V4), "0");
    let _c = site.client.start(&site.dir);
    assert!(
        site.wait_for_inside(Duration::from_secs(30)),
        "{}",
        g.log_text()
    );
}
