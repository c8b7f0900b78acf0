//! What a roaming client does when things go wrong: a gateway pushing a
//! value vpnd must not apply (refused by the network process, and again by
//! the parent if it gets that far), a missing resolvconf (the tunnel and
//! routes work without DNS), an `ip` that fails half-way (rolled back).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use vpnd_proto::wire::Pushed;
use vpnd_tests::rogue::RogueGateway;
use vpnd_tests::site::{INNER_V4, OUTER_V4, Site, bare};

fn wait_for_log(d: &vpnd_tests::daemon::Daemon, text: &str) -> bool {
    d.wait_for_log(text, Duration::from_secs(20))
}

/// The pushed address is not on the client's tun (refused, or rolled back).
fn assert_no_pushed_address(site: &Site) {
    let addrs = site
        .client
        .ns
        .ip_output(&["addr", "show", &site.client.device]);
    assert!(!addrs.contains("198.19.3.2"), "{addrs}");
}

/// The client against a rogue gateway pushing `push`: the push is refused
/// and logged with `reason`, nothing of it applied, the session stays up.
fn refused_push(tag: &str, push: Pushed, reason: &str) {
    let site = Site::new(tag, OUTER_V4, INNER_V4, "", "");
    let bind = format!("{}:4706", bare(OUTER_V4.gateway)).parse().unwrap();
    let _rogue = RogueGateway::start(
        &site.gateway.ns.name,
        bind,
        &site.gateway_keys,
        &site.client_keys,
        push,
    );
    let mut c = site.client.start(&site.dir);
    assert!(
        wait_for_log(&c, "refused what the gateway pushed"),
        "{}",
        c.log_text()
    );
    assert!(c.log_text().contains(reason), "{}", c.log_text());
    assert!(wait_for_log(&c, "network configured for the session"));
    assert_no_pushed_address(&site);
    let routes = site.client.ns.ip_output(&["route", "show"]);
    assert!(!routes.contains(&site.client.device), "{routes}");
    assert!(site.resolvconf_calls().is_empty());
    assert!(c.try_exit().is_none(), "the client stopped");
    assert!(c.stats()["sessions"] >= 1, "{:?}", c.stats());
    assert!(c.stop().success());
}

#[test]
fn a_pushed_default_route_is_refused_and_the_session_stays() {
    if vpnd_tests::can_run!() {
        let push = Pushed {
            host: "198.19.3.2/24".parse().unwrap(),
            network: "0.0.0.0/0".parse().unwrap(),
            resolver: Some("198.19.1.53".parse().unwrap()),
            domain: None,
        };
        refused_push("rogue1", push, "a default route is not pushed");
    }
}

#[test]
fn a_pushed_multicast_resolver_is_refused_and_the_session_stays() {
    if vpnd_tests::can_run!() {
        let push = Pushed {
            host: "198.19.3.2/24".parse().unwrap(),
            network: "198.19.1.0/24".parse().unwrap(),
            resolver: Some("224.0.0.251".parse().unwrap()),
            domain: None,
        };
        refused_push("rogue2", push, "224.0.0.251");
    }
}

#[test]
fn a_pushed_network_wider_than_the_minimum_is_refused_and_the_session_stays() {
    if vpnd_tests::can_run!() {
        let push = Pushed {
            host: "198.19.3.2/24".parse().unwrap(),
            network: "64.0.0.0/2".parse().unwrap(),
            resolver: None,
            domain: None,
        };
        refused_push("rogue3", push, "wider than /8 (min_pushed_prefix_v4)");
    }
}

#[test]
fn a_pushed_network_containing_the_gateway_is_refused_and_the_session_stays() {
    if vpnd_tests::can_run!() {
        let push = Pushed {
            host: "198.19.3.2/24".parse().unwrap(),
            network: "198.18.0.0/15".parse().unwrap(),
            resolver: None,
            domain: None,
        };
        let reason = format!("contains the gateway's address {}", bare(OUTER_V4.gateway));
        refused_push("rogue4", push, &reason);
    }
}

/// The client against a rogue gateway pushing `push`, which the network
/// process lets through (it does not know the host's outer network) and
/// the parent refuses with `reason`: nothing applied, vpnd runs on.
fn refused_by_the_parent(tag: &str, push: Pushed, reason: &str) {
    let site = Site::new(tag, OUTER_V4, INNER_V4, "", "");
    let bind = format!("{}:4706", bare(OUTER_V4.gateway)).parse().unwrap();
    let _rogue = RogueGateway::start(
        &site.gateway.ns.name,
        bind,
        &site.gateway_keys,
        &site.client_keys,
        push,
    );
    let mut c = site.client.start(&site.dir);
    let refused = format!("refused: {reason}");
    assert!(wait_for_log(&c, &refused), "{refused}\n{}", c.log_text());
    assert_no_pushed_address(&site);
    let routes = site.client.ns.ip_output(&["-4", "route", "show"]);
    assert!(!routes.contains(&site.client.device), "{routes}");
    assert!(c.try_exit().is_none(), "the client stopped");
    assert!(c.stop().success());
}

#[test]
fn a_pushed_network_containing_the_hosts_outer_address_is_refused_by_the_parent() {
    if vpnd_tests::can_run!() {
        // The client is 198.18.1.2, the gateway 198.18.1.1.
        let push = Pushed {
            host: "198.19.3.2/24".parse().unwrap(),
            network: "198.18.1.2/31".parse().unwrap(),
            resolver: None,
            domain: None,
        };
        refused_by_the_parent(
            "outernet",
            push,
            "pushed network: 198.18.1.2/31: contains this host's outer address 198.18.1.2",
        );
    }
}

#[test]
fn a_pushed_address_inside_the_hosts_outer_network_is_refused_by_the_parent() {
    if vpnd_tests::can_run!() {
        let push = Pushed {
            host: "198.18.1.4/24".parse().unwrap(),
            network: "198.19.1.0/24".parse().unwrap(),
            resolver: None,
            domain: None,
        };
        refused_by_the_parent(
            "outeraddr",
            push,
            "pushed host address: 198.18.1.4/24: inside this host's outer network 198.18.1.0/29",
        );
    }
}

#[test]
fn the_parent_refuses_a_bad_push_the_network_process_let_through() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let site = Site::new(
        "reparent",
        OUTER_V4,
        INNER_V4,
        "stats_prefix: bad_push_for_host\n",
        "",
    );
    let hostile = vpnd_tests::binary("vpnd-hostile-net");
    let mut c = site.start_with_net_binary(&site.client, &hostile);
    assert!(wait_for_log(&c, "refused: "), "{}", c.log_text());
    assert!(c.log_text().contains("0.0.0.0/0"), "{}", c.log_text());
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        c.try_exit().is_none(),
        "a refused value stopped vpnd:\n{}",
        c.log_text()
    );
    assert_no_pushed_address(&site);
    assert!(c.stop().success(), "{}", c.log_text());
}

#[test]
fn the_parent_refuses_pushes_that_would_hijack_traffic_whatever_peer_it_is_told() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let site = Site::new(
        "hijack",
        OUTER_V4,
        INNER_V4,
        "stats_prefix: hijacking_pushes\n",
        "",
    );
    let hostile = vpnd_tests::binary("vpnd-hostile-net");
    let mut c = site.start_with_net_binary(&site.client, &hostile);
    let gateway = bare(OUTER_V4.gateway);
    for refused in [
        format!("refused: pushed network: 198.18.0.0/15: contains the gateway's address {gateway}"),
        "refused: pushed network: 2000::/3: wider than /16 (min_pushed_prefix_v6)".to_owned(),
    ] {
        assert!(wait_for_log(&c, &refused), "{refused}\n{}", c.log_text());
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        c.try_exit().is_none(),
        "a refused push stopped vpnd:\n{}",
        c.log_text()
    );
    for family in ["-4", "-6"] {
        let routes = site.client.ns.ip_output(&[family, "route", "show"]);
        // The kernel's own link-local route on the tun is no push.
        let through_tun = routes
            .lines()
            .filter(|r| r.contains(&site.client.device) && !r.starts_with("fe80::/64"))
            .count();
        assert_eq!(through_tun, 0, "{routes}");
        assert!(
            !routes.contains("198.18.0.0/15") && !routes.contains("2000::/3"),
            "{routes}"
        );
    }
    assert_no_pushed_address(&site);
    assert!(c.stop().success(), "{}", c.log_text());
}

#[test]
fn a_refused_push_repeated_is_refused_every_time_but_logged_a_few_times() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let site = Site::new(
        "refloods",
        OUTER_V4,
        INNER_V4,
        "stats_prefix: bad_push_flood\n",
        "",
    );
    let hostile = vpnd_tests::binary("vpnd-hostile-net");
    let mut c = site.start_with_net_binary(&site.client, &hostile);
    assert!(wait_for_log(&c, "refused: "), "{}", c.log_text());
    std::thread::sleep(Duration::from_secs(2));
    assert!(c.try_exit().is_none(), "{}", c.log_text());
    let logged = c.log_text().matches("refused: ").count();
    assert_eq!(
        logged,
        5,
        "200 refusals, at most 5 logged per 10 s:\n{}",
        c.log_text()
    );
    assert_no_pushed_address(&site);
    assert!(c.stop().success(), "{}", c.log_text());
}

#[test]
fn without_resolvconf_the_tunnel_and_routes_work_and_the_error_names_it() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let missing = "/nonexistent/resolvconf";
    let site = Site::new(
        "noresolv",
        OUTER_V4,
        INNER_V4,
        &format!("resolvconf_path: {missing}\n"),
        "",
    );
    let (_g, c) = site.start();
    let log = c.log_text();
    assert!(
        log.contains(&format!(
            "resolvconf_path {missing}: not an executable file"
        )),
        "{log}"
    );
    assert!(
        wait_for_log(&c, &format!("configuring DNS: {missing} -a")),
        "{}",
        c.log_text()
    );
    let addrs = site
        .client
        .ns
        .ip_output(&["addr", "show", &site.client.device]);
    assert!(addrs.contains("198.19.3.2/32"), "{addrs}");
}

#[test]
fn a_failing_ip_rolls_the_half_applied_configuration_back() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let site = Site::new("badip", OUTER_V4, INNER_V4, "", "");
    // An ip that refuses to add routes and does everything else.
    let stub = site.dir.join("ip");
    std::fs::write(
        &stub,
        "#!/bin/sh\ncase \"$*\" in\n*\"route add\"*) echo 'RTNETLINK answers: refused by the test' >&2; exit 2;;\nesac\nexec ip \"$@\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
    let text = std::fs::read_to_string(&site.client.conf).unwrap();
    vpnd_tests::pair::write_private(
        &site.client.conf,
        &format!("{text}ip_path: {}\n", stub.display()),
    );
    let _g = site.gateway.start(&site.dir);
    let mut c = site.client.start(&site.dir);
    assert!(wait_for_log(&c, "rolled back"), "{}", c.log_text());
    let log = c.log_text();
    assert!(log.contains("route add 198.19.1.0/24"), "{log}");
    assert!(
        log.contains("RTNETLINK answers: refused by the test"),
        "{log}"
    );
    // The address went in before the route failed, and was taken out.
    assert_no_pushed_address(&site);
    assert!(site.resolvconf_calls().is_empty());
    assert!(c.try_exit().is_none(), "vpnd stopped:\n{log}");
    assert!(c.stop().success());
}
