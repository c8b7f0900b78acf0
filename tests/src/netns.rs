//! Network namespaces and veth links that are deleted when dropped, even
//! when the test fails.

use std::fs::File;
use std::process::Command;

/// Runs `ip ARGS`, panicking with its stderr on failure.
pub fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("running ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `ip ARGS`, its standard output.
pub fn ip_output(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("running ip");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A network namespace with `lo` up.
#[derive(Debug)]
pub struct Netns {
    /// Its name.
    pub name: String,
}

impl Netns {
    /// Creates `vt<tag>…`, a unique name.
    pub fn new(tag: &str) -> Netns {
        let name = crate::unique(tag);
        ip(&["netns", "add", &name]);
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// `ip -n NAME ARGS`.
    pub fn ip(&self, args: &[&str]) {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all);
    }

    /// `ip -n NAME ARGS`, its output.
    pub fn ip_output(&self, args: &[&str]) -> String {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip_output(&all)
    }

    /// The namespace's UDP counter `name` from /proc/net/snmp (e.g.
    /// `RcvbufErrors`: datagrams the kernel dropped because a socket's
    /// buffer was full).
    pub fn udp_counter(&self, name: &str) -> u64 {
        self.snmp_counter("Udp", name)
    }

    /// The namespace's counter `name` of `protocol` (`Udp`, `Tcp`, `Ip`)
    /// from /proc/net/snmp (e.g. Tcp `RetransSegs`).
    pub fn snmp_counter(&self, protocol: &str, name: &str) -> u64 {
        self.proc_net_counter("snmp", protocol, name)
    }

    /// The namespace's extended counter `name` of `protocol` (`TcpExt`,
    /// `IpExt`) from /proc/net/netstat (e.g. TcpExt `TCPOFOQueue`).
    pub fn netstat_counter(&self, protocol: &str, name: &str) -> u64 {
        self.proc_net_counter("netstat", protocol, name)
    }

    /// A counter of /proc/net/`file`: a line of names, then one of values.
    fn proc_net_counter(&self, file: &str, protocol: &str, name: &str) -> u64 {
        let path = format!("/proc/net/{file}");
        let out = self.command("cat").arg(&path).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let prefix = format!("{protocol}: ");
        let mut lines = text.lines().filter(|l| l.starts_with(&prefix));
        let (names, values) = (lines.next().unwrap(), lines.next().unwrap());
        let i = names
            .split_whitespace()
            .position(|n| n == name)
            .unwrap_or_else(|| panic!("no {protocol} counter {name} in {path}"));
        values.split_whitespace().nth(i).unwrap().parse().unwrap()
    }

    /// Sets a sysctl inside the namespace (`net.*` ones are per namespace).
    pub fn sysctl(&self, name: &str, value: &str) {
        let status = self
            .command("sysctl")
            .args(["-q", "-w", &format!("{name}={value}")])
            .status()
            .unwrap();
        assert!(status.success(), "sysctl {name}={value} in {}", self.name);
    }

    /// A handle on an existing namespace that does not delete it (for
    /// threads; the owner deletes it).
    pub fn named(name: &str) -> NetnsRef {
        NetnsRef(Netns {
            name: name.to_owned(),
        })
    }

    /// A command that runs inside the namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).arg(program);
        c
    }

    /// Moves the calling thread into the namespace (sockets it then
    /// creates live there). Use from a thread of its own.
    pub fn enter(&self) {
        Self::enter_by_name(&self.name);
    }

    /// [`Netns::enter`] by name (for threads that cannot borrow it).
    pub fn enter_by_name(name: &str) {
        let f = File::open(format!("/run/netns/{name}")).unwrap();
        nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
    }

    /// Adds `addr` (with prefix) to `lo`: a host on the internal network.
    pub fn add_host(&self, addr: &str) {
        self.ip(&["addr", "add", addr, "dev", "lo"]);
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if self.name.is_empty() {
            return;
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Joins `a` and `b` with a veth pair, both ends up and without
/// addresses; returns the interface names.
pub fn link_bare(a: &Netns, b: &Netns) -> (String, String) {
    let (ia, ib) = (crate::unique("va"), crate::unique("vb"));
    ip(&[
        "link", "add", &ia, "netns", &a.name, "type", "veth", "peer", "name", &ib, "netns", &b.name,
    ]);
    a.ip(&["link", "set", &ia, "up"]);
    b.ip(&["link", "set", &ib, "up"]);
    (ia, ib)
}

/// Joins `a` and `b` with a veth pair and addresses them: `addr_a` and
/// `addr_b` with prefix, e.g. "198.18.0.1/30". The link dies with the
/// namespaces.
pub fn link(a: &Netns, addr_a: &str, b: &Netns, addr_b: &str) -> (String, String) {
    let (ia, ib) = (crate::unique("va"), crate::unique("vb"));
    ip(&[
        "link", "add", &ia, "netns", &a.name, "type", "veth", "peer", "name", &ib, "netns", &b.name,
    ]);
    a.ip(&["addr", "add", addr_a, "dev", &ia]);
    b.ip(&["addr", "add", addr_b, "dev", &ib]);
    a.ip(&["link", "set", &ia, "up"]);
    b.ip(&["link", "set", &ib, "up"]);
    (ia, ib)
}

/// A [`Netns`] that is not deleted when dropped.
#[derive(Debug)]
pub struct NetnsRef(Netns);

impl std::ops::Deref for NetnsRef {
    type Target = Netns;
    fn deref(&self) -> &Netns {
        &self.0
    }
}

impl Drop for NetnsRef {
    fn drop(&mut self) {
        // Leave the namespace to its owner: forget the name.
        self.0.name.clear();
    }
}

/// Runs `body` on a thread inside namespace `ns` and returns once the body
/// has called its `ready` argument (its sockets are set up), or panics
/// after 5 s. The thread's handle gives the body's result.
pub fn spawn_in<T: Send + 'static>(
    ns: &str,
    body: impl FnOnce(&dyn Fn()) -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    let ns = ns.to_owned();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        Netns::enter_by_name(&ns);
        body(&|| {
            let _ = ready_tx.send(());
        })
    });
    ready_rx
        .recv_timeout(std::time::Duration::from_secs(5))
        .expect("the thread in the namespace did not get ready");
    thread
}
