//! Two site gateways (role net-gw) in two namespaces joined by a veth,
//! each with an internal network behind it (a host address on its `lo`),
//! fresh keys, their configurations in a scratch directory.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use vpnd_crypto::KeyPair;

use crate::daemon::Daemon;
use crate::netns::{self, Netns};

/// The outer addresses.
pub const OUTER_A: &str = "198.18.0.1";
/// The outer addresses.
pub const OUTER_B: &str = "198.18.0.2";
/// With a relay between them: its address towards a (a's peer).
pub const RELAY_A: &str = "198.18.0.2";
/// With a relay between them: its address towards b (b's peer).
pub const RELAY_B: &str = "198.18.0.6";
/// With a relay between them: b's outer address.
pub const RELAYED_B: &str = "198.18.0.5";
/// A stranger's address (a third namespace behind the relay's).
pub const STRANGER: &str = "198.18.0.9";
/// The internal host behind gateway a.
pub const HOST_A: &str = "198.19.1.1";
/// The internal host behind gateway b.
pub const HOST_B: &str = "198.19.2.1";

/// A scratch directory, removed when dropped (a panicking test's too).
/// Mode 755 and owned by root, so it (or a directory in it) can be a
/// chroot directory.
#[derive(Debug)]
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    /// Creates `/tmp/vpnd-test-<tag>-<random>`, with an empty directory
    /// `empty` in it for the daemons' chroot.
    pub fn new(tag: &str) -> Scratch {
        let dir = tempfile::Builder::new()
            .prefix(&format!("vpnd-test-{tag}-"))
            .tempdir()
            .unwrap();
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        for p in [dir.path(), &empty] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        Scratch { dir }
    }

    /// A path inside.
    pub fn join(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// One gateway.
#[derive(Debug)]
pub struct Side {
    /// Its namespace.
    pub ns: Netns,
    /// "a" or "b".
    pub name: &'static str,
    /// Its configuration file.
    pub conf: PathBuf,
    /// Its tun device.
    pub device: String,
    /// Its pid file.
    pub pid_file: PathBuf,
    /// Its stats socket.
    pub stats_path: PathBuf,
    /// Its local nonce file.
    pub local_nonce_file: PathBuf,
}

/// The two gateways.
#[derive(Debug)]
pub struct Pair {
    /// Gateway a.
    pub a: Side,
    /// Gateway b.
    pub b: Side,
    /// The namespace between them, when they talk through a relay.
    pub middle: Option<Netns>,
    /// Their files (dropped last).
    pub dir: Scratch,
}

impl Pair {
    /// Namespaces, link, internal hosts, keys, configurations. `extra`
    /// lines go into both configurations.
    pub fn new(tag: &str, extra: &str) -> Pair {
        let dir = Scratch::new(tag);
        let (ns_a, ns_b) = (Netns::new("vta"), Netns::new("vtb"));
        netns::link(
            &ns_a,
            &format!("{OUTER_A}/30"),
            &ns_b,
            &format!("{OUTER_B}/30"),
        );
        ns_a.add_host(&format!("{HOST_A}/32"));
        ns_b.add_host(&format!("{HOST_B}/32"));
        let (ka, kb) = (KeyPair::generate(), KeyPair::generate());
        let a = side(&dir, ns_a, "a", &ka, &kb, OUTER_B, "198.19.2.0/24", extra);
        let b = side(&dir, ns_b, "b", &kb, &ka, OUTER_A, "198.19.1.0/24", extra);
        Pair {
            a,
            b,
            middle: None,
            dir,
        }
    }

    /// Like [`Pair::new`], with a middle namespace between the two: a
    /// reaches it as [`RELAY_A`] and b as [`RELAY_B`], and each takes that
    /// for its peer, so a [`crate::relay::Relay`] there carries all their
    /// datagrams. The middle forwards for a [`Pair::stranger`].
    pub fn relayed(tag: &str, extra: &str) -> Pair {
        let dir = Scratch::new(tag);
        let (ns_a, ns_m, ns_b) = (Netns::new("vta"), Netns::new("vtm"), Netns::new("vtb"));
        netns::link(
            &ns_a,
            &format!("{OUTER_A}/30"),
            &ns_m,
            &format!("{RELAY_A}/30"),
        );
        netns::link(
            &ns_b,
            &format!("{RELAYED_B}/30"),
            &ns_m,
            &format!("{RELAY_B}/30"),
        );
        ns_a.add_host(&format!("{HOST_A}/32"));
        ns_b.add_host(&format!("{HOST_B}/32"));
        ns_a.ip(&["route", "add", "198.18.0.8/30", "via", RELAY_A]);
        ns_m.sysctl("net.ipv4.ip_forward", "1");
        let (ka, kb) = (KeyPair::generate(), KeyPair::generate());
        let a = side(&dir, ns_a, "a", &ka, &kb, RELAY_A, "198.19.2.0/24", extra);
        let b = side(&dir, ns_b, "b", &kb, &ka, RELAY_B, "198.19.1.0/24", extra);
        Pair {
            a,
            b,
            middle: Some(ns_m),
            dir,
        }
    }

    /// The relay's addresses in a [`Pair::relayed`] (the daemons use the
    /// default port).
    pub fn relay_addresses(&self) -> crate::relay::Addresses {
        let at = |ip: &str| format!("{ip}:4706").parse().unwrap();
        crate::relay::Addresses {
            a: at(OUTER_A),
            a_side: at(RELAY_A),
            b: at(RELAYED_B),
            b_side: at(RELAY_B),
        }
    }

    /// Starts a relay in the middle namespace of a [`Pair::relayed`].
    pub fn start_relay(&self, seed: u64) -> crate::relay::Relay {
        let middle = self.middle.as_ref().expect("a relayed pair");
        crate::relay::Relay::start(&middle.name, self.relay_addresses(), seed)
    }

    /// A third namespace joined to the middle one, at [`STRANGER`], that
    /// reaches a's outer address (for datagrams from nobody's address).
    pub fn stranger(&self) -> Netns {
        let middle = self.middle.as_ref().expect("a relayed pair");
        let c = Netns::new("vtc");
        netns::link(&c, &format!("{STRANGER}/30"), middle, "198.18.0.10/30");
        c.ip(&["route", "add", "default", "via", "198.18.0.10"]);
        c
    }

    /// Starts gateway `side` and waits until it runs.
    pub fn start(&self, side: &Side) -> Daemon {
        side.start(&self.dir)
    }

    /// Starts gateway `side` with a stand-in for the network process (a
    /// test binary; debug builds of vpnd only). Does not wait.
    pub fn start_with_net_binary(&self, side: &Side, net: &Path) -> Daemon {
        side.start_with_net_binary(&self.dir, net)
    }

    /// Starts both and waits until a ping crosses the tunnel.
    pub fn start_both(&self) -> (Daemon, Daemon) {
        self.start_both_with_env(&[])
    }

    /// Starts both with `env` added and waits until a ping crosses.
    pub fn start_both_with_env(&self, env: &[(&str, &std::ffi::OsStr)]) -> (Daemon, Daemon) {
        let start = |side: &Side| {
            let mut d = side.start_with_env(&self.dir, env);
            d.wait_running(Duration::from_secs(20));
            d
        };
        let (da, db) = (start(&self.a), start(&self.b));
        assert!(
            crate::traffic::wait_for_ping(&self.a.ns, HOST_A, HOST_B, Duration::from_secs(30)),
            "no ping through the tunnel\n--- a:\n{}\n--- b:\n{}",
            da.log_text(),
            db.log_text()
        );
        (da, db)
    }
}

#[allow(clippy::too_many_arguments)]
fn side(
    dir: &Scratch,
    ns: Netns,
    name: &'static str,
    own: &KeyPair,
    peer: &KeyPair,
    peer_addr: &str,
    remote_network: &str,
    extra: &str,
) -> Side {
    let s = Side::new(dir, ns, name);
    let role = format!(
        "role: net-gw\nremote_host: {peer_addr}\nremote_network: {remote_network}\n{extra}"
    );
    s.write_config(dir, own, peer, &role);
    s
}

impl Side {
    /// The files and device of a daemon called `name` in `ns`.
    pub fn new(dir: &Scratch, ns: Netns, name: &'static str) -> Side {
        let path = |suffix: &str| dir.join(&format!("{name}.{suffix}"));
        Side {
            conf: path("conf"),
            pid_file: path("pid"),
            stats_path: path("stats"),
            local_nonce_file: path("local_nonce"),
            device: crate::unique("tun"),
            ns,
            name,
        }
    }

    /// Writes the configuration: `role_lines` (the role and its
    /// parameters, and any others), then the keys, user, chroot, files
    /// and, unless `role_lines` has one, a stats prefix.
    pub fn write_config(&self, dir: &Scratch, own: &KeyPair, peer: &KeyPair, role_lines: &str) {
        let text = format!(
            "{role_lines}device: {dev}\nlocal_sk: {sk}\nremote_pk: {pk}\nuser: nobody\n\
             chroot_dir: {empty}\npid_file: {pid}\nstats_path: {stats}\n\
             local_nonce_file: {ln}\nremote_nonce_file: {rn}\n{prefix}",
            dev = self.device,
            sk = own.secret.expose_hex(),
            pk = peer.public.to_hex(),
            empty = dir.join("empty").display(),
            pid = self.pid_file.display(),
            stats = self.stats_path.display(),
            ln = self.local_nonce_file.display(),
            rn = dir.join(&format!("{}.remote_nonce", self.name)).display(),
            prefix = if role_lines.contains("stats_prefix:") {
                String::new()
            } else {
                format!("stats_prefix: vt_{}\n", self.name)
            },
        );
        write_private(&self.conf, &text);
    }

    /// Starts this daemon and waits until it runs.
    pub fn start(&self, dir: &Scratch) -> Daemon {
        let mut d = self.start_with_env(dir, &[]);
        d.wait_running(Duration::from_secs(20));
        d
    }

    /// Starts this daemon with `env` added; does not wait.
    pub fn start_with_env(&self, dir: &Scratch, env: &[(&str, &std::ffi::OsStr)]) -> Daemon {
        self.start_wrapped(dir, env, &[])
    }

    /// Starts this daemon with `net` (a test binary) standing in for its
    /// network process: debug builds of vpnd take it from
    /// `VPND_TEST_NET_BINARY`. Does not wait.
    pub fn start_with_net_binary(&self, dir: &Scratch, net: &Path) -> Daemon {
        self.start_with_env(dir, &[("VPND_TEST_NET_BINARY", net.as_os_str())])
    }

    /// Starts this daemon through `wrapper` (see [`Daemon::start`]), with
    /// `env` added; does not wait.
    pub fn start_wrapped(
        &self,
        dir: &Scratch,
        env: &[(&str, &std::ffi::OsStr)],
        wrapper: &[&str],
    ) -> Daemon {
        let log = dir.join(&format!("{}.log", self.name));
        // Keep earlier logs of a restarted daemon.
        if log.exists() {
            let old = dir.join(&format!("{}.log.{}", self.name, crate::unique("r")));
            let _ = std::fs::rename(&log, old);
        }
        Daemon::start(&self.ns, &self.conf, &log, &self.stats_path, env, wrapper)
    }
}

/// Writes a file of mode 600 (a configuration holds a secret key).
pub fn write_private(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}
