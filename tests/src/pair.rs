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
/// The internal host behind gateway a.
pub const HOST_A: &str = "198.19.1.1";
/// The internal host behind gateway b.
pub const HOST_B: &str = "198.19.2.1";

/// A scratch directory, removed when dropped. Mode 755 and owned by root,
/// so it (or a directory in it) can be a chroot directory.
#[derive(Debug)]
pub struct Scratch {
    /// The directory.
    pub path: PathBuf,
}

impl Scratch {
    /// Creates `/tmp/vpnd-test-<tag>-<unique>`.
    pub fn new(tag: &str) -> Scratch {
        let path = std::env::temp_dir().join(format!("vpnd-test-{}", crate::unique(tag)));
        std::fs::create_dir_all(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        Scratch { path }
    }

    /// A path inside.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
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
    /// Their files (dropped last).
    pub dir: Scratch,
}

impl Pair {
    /// Namespaces, link, internal hosts, keys, configurations. `extra`
    /// lines go into both configurations.
    pub fn new(tag: &str, extra: &str) -> Pair {
        let dir = Scratch::new(tag);
        std::fs::create_dir(dir.join("empty")).unwrap();
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
        Pair { a, b, dir }
    }

    /// Starts gateway `side`.
    pub fn start(&self, side: &Side) -> Daemon {
        let log = self.dir.join(&format!("{}.log", side.name));
        // Keep earlier logs of a restarted side.
        if log.exists() {
            let old = self
                .dir
                .join(&format!("{}.log.{}", side.name, crate::unique("r")));
            let _ = std::fs::rename(&log, old);
        }
        let mut d = Daemon::start(&side.ns, &side.conf, &log, &side.stats_path, &[]);
        d.wait_running(Duration::from_secs(20));
        d
    }

    /// Starts gateway `side` with a stand-in for the network process (a
    /// test binary; debug builds of vpnd only). Does not wait.
    pub fn start_with_net_binary(&self, side: &Side, net: &Path) -> Daemon {
        let log = self.dir.join(&format!("{}.log", side.name));
        Daemon::start(
            &side.ns,
            &side.conf,
            &log,
            &side.stats_path,
            &[("VPND_TEST_NET_BINARY", net.as_os_str())],
        )
    }

    /// Starts both and waits until a ping crosses the tunnel.
    pub fn start_both(&self) -> (Daemon, Daemon) {
        let (da, db) = (self.start(&self.a), self.start(&self.b));
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
    let device = crate::unique("tun");
    let path = |suffix: &str| dir.join(&format!("{name}.{suffix}"));
    let s = Side {
        conf: path("conf"),
        pid_file: path("pid"),
        stats_path: path("stats"),
        local_nonce_file: path("local_nonce"),
        device,
        ns,
        name,
    };
    let text = format!(
        "role: net-gw\ndevice: {dev}\nremote_host: {peer_addr}\nremote_network: {remote_network}\n\
         local_sk: {sk}\nremote_pk: {pk}\nuser: nobody\nchroot_dir: {empty}\n\
         pid_file: {pid}\nstats_path: {stats}\nlocal_nonce_file: {ln}\nremote_nonce_file: {rn}\n\
         {prefix}{extra}",
        prefix = if extra.contains("stats_prefix:") {
            String::new()
        } else {
            format!("stats_prefix: gw_{name}\n")
        },
        dev = s.device,
        sk = own.secret.expose_hex(),
        pk = peer.public.to_hex(),
        empty = dir.join("empty").display(),
        pid = s.pid_file.display(),
        stats = s.stats_path.display(),
        ln = s.local_nonce_file.display(),
        rn = path("remote_nonce").display(),
    );
    write_private(&s.conf, &text);
    s
}

/// Writes a file of mode 600 (a configuration holds a secret key).
pub fn write_private(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}
