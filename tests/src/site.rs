//! A roaming client (role host) and its gateway (role host-gw) with a
//! host on the gateway's internal network: three namespaces. The client
//! reaches the gateway over a veth (IPv4 or IPv6 outside); the gateway
//! reaches the internal host over another, whose default route points back
//! at the gateway (what a site's router needs for the client's address).
//! The client's resolvconf is a stub that records its calls.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use vpnd_crypto::KeyPair;

use crate::daemon::Daemon;
use crate::netns::{self, Netns};
use crate::pair::{Scratch, Side};

/// The inner addresses of one family.
#[derive(Debug, Clone, Copy)]
pub struct Inner {
    /// `local_network`.
    pub local_network: &'static str,
    /// The gateway's address on it, with prefix.
    pub gateway: &'static str,
    /// The internal host, with prefix.
    pub inside: &'static str,
    /// `host_addr`.
    pub host_addr: &'static str,
    /// `resolv_addr`.
    pub resolver: &'static str,
}

/// IPv4 inside the tunnel.
pub const INNER_V4: Inner = Inner {
    local_network: "198.19.1.0/24",
    gateway: "198.19.1.1/24",
    inside: "198.19.1.10/24",
    host_addr: "198.19.3.2/24",
    resolver: "198.19.1.53",
};

/// IPv6 inside the tunnel.
pub const INNER_V6: Inner = Inner {
    local_network: "2001:2:0:1::/64",
    gateway: "2001:2:0:1::1/64",
    inside: "2001:2:0:1::10/64",
    host_addr: "2001:2:0:3::2/64",
    resolver: "2001:2:0:1::53",
};

/// The outer addresses of one family: gateway, client, the client's
/// second address (roaming), and a stranger's.
#[derive(Debug, Clone, Copy)]
pub struct Outer {
    /// The gateway's, with prefix.
    pub gateway: &'static str,
    /// The client's, with prefix.
    pub client: &'static str,
    /// The client's after it moves, with prefix.
    pub client_moved: &'static str,
}

/// IPv4 outside.
pub const OUTER_V4: Outer = Outer {
    gateway: "198.18.1.1/29",
    client: "198.18.1.2/29",
    client_moved: "198.18.1.3/29",
};

/// IPv6 outside.
pub const OUTER_V6: Outer = Outer {
    gateway: "2001:2:0:a::1/64",
    client: "2001:2:0:a::2/64",
    client_moved: "2001:2:0:a::3/64",
};

/// The address without its prefix length.
pub fn bare(addr: &str) -> &str {
    addr.split('/').next().unwrap_or(addr)
}

/// The three namespaces and both configurations.
#[derive(Debug)]
pub struct Site {
    /// The client (role host).
    pub client: Side,
    /// The gateway (role host-gw).
    pub gateway: Side,
    /// The host on the gateway's internal network.
    pub inside: Netns,
    /// The client's outer interface.
    pub client_if: String,
    /// Inner addresses.
    pub inner: Inner,
    /// Outer addresses.
    pub outer: Outer,
    /// What the stub resolvconf recorded.
    pub resolvconf_log: PathBuf,
    /// The client's keys.
    pub client_keys: KeyPair,
    /// The gateway's keys.
    pub gateway_keys: KeyPair,
    /// Files (dropped last).
    pub dir: Scratch,
}

/// Adds an address (no duplicate address detection for IPv6).
pub fn add_addr(ns: &Netns, addr: &str, dev: &str) {
    if addr.contains(':') {
        ns.ip(&["addr", "add", addr, "dev", dev, "nodad"]);
    } else {
        ns.ip(&["addr", "add", addr, "dev", dev]);
    }
}

impl Site {
    /// Builds it. `client_extra` and `gateway_extra` are added to the
    /// configurations (a `resolvconf_path` in `client_extra` replaces the
    /// stub, a `remote_host` the gateway's outer address).
    pub fn new(
        tag: &str,
        outer: Outer,
        inner: Inner,
        client_extra: &str,
        gateway_extra: &str,
    ) -> Site {
        let dir = Scratch::new(tag);
        let (c, g, i) = (Netns::new("vtc"), Netns::new("vtg"), Netns::new("vti"));
        let (gw_if, client_if) = netns::link_bare(&g, &c);
        add_addr(&g, outer.gateway, &gw_if);
        add_addr(&c, outer.client, &client_if);
        let (gw_in, inside_if) = netns::link_bare(&g, &i);
        add_addr(&g, inner.gateway, &gw_in);
        add_addr(&i, inner.inside, &inside_if);
        i.ip(&["route", "add", "default", "via", bare(inner.gateway)]);

        let resolvconf_log = dir.join("resolvconf.log");
        let stub = dir.join("resolvconf");
        std::fs::write(
            &stub,
            format!(
                "#!/bin/sh\n# Records its arguments and, for -a, what came on stdin.\n\
                 echo \"resolvconf $*\" >> {log}\n\
                 if [ \"$1\" = -a ]; then cat >> {log}; fi\n",
                log = resolvconf_log.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();

        let (kc, kg) = (KeyPair::generate(), KeyPair::generate());
        let client = Side::new(&dir, c, "client");
        let gateway = Side::new(&dir, g, "gateway");
        let resolvconf = if client_extra.contains("resolvconf_path:") {
            String::new()
        } else {
            format!("resolvconf_path: {}\n", stub.display())
        };
        let remote_host = if client_extra.contains("remote_host:") {
            String::new()
        } else {
            format!("remote_host: {}\n", bare(outer.gateway))
        };
        client.write_config(
            &dir,
            &kc,
            &kg,
            &format!("role: host\n{remote_host}{resolvconf}{client_extra}"),
        );
        gateway.write_config(
            &dir,
            &kg,
            &kc,
            &format!(
                "role: host-gw\nlocal_network: {}\nhost_addr: {}\nresolv_addr: {}\n\
                 resolv_domain: vpnd.test\n{gateway_extra}",
                inner.local_network, inner.host_addr, inner.resolver
            ),
        );
        Site {
            client,
            gateway,
            inside: i,
            client_if,
            inner,
            outer,
            resolvconf_log,
            client_keys: kc,
            gateway_keys: kg,
            dir,
        }
    }

    /// Starts the gateway, then the client, and waits until the client
    /// reaches the internal host.
    pub fn start(&self) -> (Daemon, Daemon) {
        self.start_with_env(&[])
    }

    /// Starts both with `env` added, as [`Site::start`] does.
    pub fn start_with_env(&self, env: &[(&str, &std::ffi::OsStr)]) -> (Daemon, Daemon) {
        let start = |side: &Side| {
            let mut d = side.start_with_env(&self.dir, env);
            d.wait_running(Duration::from_secs(20));
            d
        };
        let g = start(&self.gateway);
        let c = start(&self.client);
        assert!(
            self.wait_for_inside(Duration::from_secs(30)),
            "the client does not reach the internal host\n--- client:\n{}\n--- gateway:\n{}",
            c.log_text(),
            g.log_text()
        );
        (g, c)
    }

    /// Starts `side` (the client or the gateway) with `net` (a test
    /// binary) standing in for its network process; does not wait.
    pub fn start_with_net_binary(&self, side: &Side, net: &Path) -> Daemon {
        side.start_with_net_binary(&self.dir, net)
    }

    /// Pings the internal host from the client's tunnel address until it
    /// answers or `timeout`.
    pub fn wait_for_inside(&self, timeout: Duration) -> bool {
        crate::traffic::wait_for_ping(
            &self.client.ns,
            bare(self.inner.host_addr),
            bare(self.inner.inside),
            timeout,
        )
    }

    /// What the stub resolvconf recorded.
    pub fn resolvconf_calls(&self) -> String {
        std::fs::read_to_string(&self.resolvconf_log).unwrap_or_default()
    }

    /// A sysctl's value in the gateway's namespace (`/proc/sys` path).
    pub fn gateway_sysctl(&self, path: &str) -> String {
        let out = self.gateway.ns.command("cat").arg(path).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}
