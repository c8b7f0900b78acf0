//! A gateway named by host name (`remote_host`) that moves, as a gateway
//! behind dynamic DNS does: the client finds it at the address the name
//! has now, on SIGHUP and when it declares the gateway dead, without a
//! restart, and logs the change. The name lives in the client's own
//! hosts file: `ip netns exec` binds `/etc/netns/NS/hosts` over
//! `/etc/hosts` for the daemon it starts, and the file is rewritten in
//! place, so the daemon reads each new version.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::Duration;

use nix::sys::signal::Signal;
use vpnd_tests::daemon::signal;
use vpnd_tests::site::{INNER_V4, OUTER_V4, Site, bare};

const NAME: &str = "gateway.vpnd.test";

/// An address on the outer network that no host has.
const NOBODY: &str = "198.18.1.5";

/// Where the gateway moves to.
const MOVED: &str = "198.18.1.4/29";

/// The hosts file of one namespace, removed when dropped.
struct HostsFile {
    dir: PathBuf,
}

impl HostsFile {
    fn new(ns: &str) -> HostsFile {
        let dir = PathBuf::from("/etc/netns").join(ns);
        std::fs::create_dir_all(&dir).unwrap();
        let file = HostsFile { dir };
        file.point(NOBODY);
        file
    }

    /// [`NAME`] has `addr` from now on (written in place: the daemon's
    /// bind mount holds this file).
    fn point(&self, addr: &str) {
        std::fs::write(
            self.dir.join("hosts"),
            format!("127.0.0.1 localhost\n{addr} {NAME}\n"),
        )
        .unwrap();
    }
}

impl Drop for HostsFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        // Only if no other namespace has files there.
        let _ = std::fs::remove_dir("/etc/netns");
    }
}

#[test]
fn a_gateway_named_by_host_name_is_found_where_the_name_points_now() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let site = Site::new(
        "rename",
        OUTER_V4,
        INNER_V4,
        &format!("remote_host: {NAME}\n"),
        "",
    );
    let hosts = HostsFile::new(&site.client.ns.name);
    let gateway = bare(OUTER_V4.gateway);
    let mut g = site.gateway.start(&site.dir);
    let mut c = site.client.start(&site.dir);
    let logs = |c: &vpnd_tests::daemon::Daemon, g: &vpnd_tests::daemon::Daemon| {
        format!(
            "--- client:\n{}\n--- gateway:\n{}",
            c.log_text(),
            g.log_text()
        )
    };
    assert!(
        c.wait_for_log(&format!("peer {NOBODY}:4706"), Duration::from_secs(10)),
        "{}",
        logs(&c, &g)
    );

    // The name was stale at the start; fixed, SIGHUP finds the gateway.
    hosts.point(gateway);
    signal(c.pid(), Signal::SIGHUP);
    assert!(
        site.wait_for_inside(Duration::from_secs(20)),
        "no tunnel after SIGHUP\n{}",
        logs(&c, &g)
    );
    let log = c.log_text();
    assert!(
        log.contains(&format!(
            "remote_host {NAME}: now {gateway}:4706 (was {NOBODY}:4706)"
        )),
        "{log}"
    );
    assert!(
        log.contains("SIGHUP: vpnd does not reload its configuration"),
        "{log}"
    );

    // The gateway comes back at another address: the client, whose
    // datagrams go nowhere now, declares it dead, asks for the name
    // again and finds it, unsignalled.
    assert!(g.stop().success(), "{}", g.log_text());
    let shown = site
        .gateway
        .ns
        .ip_output(&["-o", "addr", "show", "to", gateway]);
    let dev = shown
        .split_whitespace()
        .nth(1)
        .and_then(|d| d.split('@').next())
        .unwrap_or_else(|| panic!("no interface with {gateway}: {shown}"));
    site.gateway
        .ns
        .ip(&["addr", "del", OUTER_V4.gateway, "dev", dev]);
    site.gateway.ns.ip(&["addr", "add", MOVED, "dev", dev]);
    hosts.point(bare(MOVED));
    let g = site.gateway.start(&site.dir);
    let moved = format!(
        "remote_host {NAME}: now {}:4706 (was {gateway}:4706)",
        bare(MOVED)
    );
    assert!(
        c.wait_for_log(&moved, Duration::from_secs(40)),
        "{}",
        logs(&c, &g)
    );
    assert!(
        site.wait_for_inside(Duration::from_secs(20)),
        "no tunnel to the moved gateway\n{}",
        logs(&c, &g)
    );
    assert!(c.log_text().contains("peer died"), "{}", c.log_text());
    assert!(c.stop().success(), "{}", c.log_text());
}
