//! A vpnd started in a namespace (`-f`, its log in a file), stopped by
//! its pid when dropped.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::netns::Netns;

/// A running vpnd (the parent; `ip netns exec` execs it, so the pid is
/// vpnd's own).
#[derive(Debug)]
pub struct Daemon {
    child: Child,
    /// Its standard error.
    pub log: PathBuf,
    /// Its stats socket.
    pub stats_path: PathBuf,
    exited: Option<ExitStatus>,
}

impl Daemon {
    /// Starts `vpnd -f -v -c CONF` in `ns`, with its record of shared
    /// forwarding in CONF's directory and `env` added, through
    /// `wrapper` (a program that execs its arguments, with its options;
    /// empty for none).
    pub fn start(
        ns: &Netns,
        conf: &Path,
        log: &Path,
        stats_path: &Path,
        env: &[(&str, &std::ffi::OsStr)],
        wrapper: &[&str],
    ) -> Daemon {
        let err = File::create(log).unwrap();
        let mut command = match wrapper.split_first() {
            Some((program, options)) => {
                let mut c = ns.command(program);
                c.args(options).arg(crate::binary("vpnd"));
                c
            }
            None => ns.command(crate::binary("vpnd")),
        };
        // The record of shared forwarding in the test's scratch directory,
        // not the system's runtime directory (a test may name another).
        let forwarding = conf.parent().unwrap_or(conf).join("forwarding");
        let child = command
            .env("VPND_TEST_FORWARDING_DIR", forwarding)
            .envs(env.iter().copied())
            .args(["-f", "-v", "-c"])
            .arg(conf)
            // A pipe: the console of a vpnd in the foreground.
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .unwrap();
        Daemon {
            child,
            log: log.to_path_buf(),
            stats_path: stats_path.to_path_buf(),
            exited: None,
        }
    }

    /// Types `line` on the console (standard input).
    pub fn type_line(&mut self, line: &str) {
        use std::io::Write;
        let stdin = self.child.stdin.as_mut().expect("console");
        stdin.write_all(format!("{line}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    /// Waits until the log holds `text`, up to `timeout`.
    pub fn wait_for_log(&self, text: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.log_text().contains(text) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.log_text().contains(text)
    }

    /// The parent's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The network process's pid, once it runs.
    pub fn net_pid(&self) -> Option<u32> {
        let p = self.pid();
        let text = std::fs::read_to_string(format!("/proc/{p}/task/{p}/children")).ok()?;
        text.split_whitespace().next()?.parse().ok()
    }

    /// Waits until the network process runs and the stats socket answers.
    pub fn wait_running(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.try_exit() {
                panic!("vpnd exited at start ({status}):\n{}", self.log_text());
            }
            if self.net_pid().is_some() && UnixStream::connect(&self.stats_path).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("vpnd did not start:\n{}", self.log_text());
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The exit status, if it exited.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().unwrap();
        }
        self.exited
    }

    /// Waits up to `timeout` for it to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(s) = self.try_exit() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// SIGTERM, and its exit status.
    pub fn stop(&mut self) -> ExitStatus {
        if let Some(s) = self.try_exit() {
            return s;
        }
        signal(self.pid(), nix::sys::signal::SIGTERM);
        self.wait_exit(Duration::from_secs(15))
            .unwrap_or_else(|| panic!("vpnd did not stop on SIGTERM:\n{}", self.log_text()))
    }

    /// SIGKILL to the parent and, first, the network process: a crash of
    /// the whole daemon.
    /// Returns once both are gone, so that a restart finds the port free.
    pub fn kill_all(&mut self) {
        // Stopped first, the parent cannot start a network process between
        // our look at its children and its death.
        signal(self.pid(), nix::sys::signal::SIGSTOP);
        let net = self.net_pid();
        if let Some(net) = net {
            signal(net, nix::sys::signal::SIGKILL);
        }
        signal(self.pid(), nix::sys::signal::SIGKILL);
        let _ = self.wait_exit(Duration::from_secs(10));
        if let Some(net) = net {
            wait_gone(net, Duration::from_secs(10));
        }
    }

    /// The Graphite lines of the stats socket, as metric (the part after
    /// `PREFIX.vpnd.`) -> value.
    pub fn stats(&self) -> BTreeMap<String, u64> {
        parse_graphite(&self.graphite_text())
    }

    /// The raw Graphite text: connect, shut down our side (the daemon then
    /// answers at once), read to the end.
    pub fn graphite_text(&self) -> String {
        let mut s = UnixStream::connect(&self.stats_path).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        text
    }
}

/// Graphite lines as metric (the part after `PREFIX.vpnd.`) -> value.
pub fn parse_graphite(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (name, value) = (f.next()?, f.next()?);
            let metric = name.split_once(".vpnd.")?.1;
            Some((metric.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// Every drop, whatever the reason: the sum of the `drops.*` counters.
pub fn all_drops(stats: &BTreeMap<String, u64>) -> u64 {
    stats
        .iter()
        .filter(|(k, _)| k.starts_with("drops."))
        .map(|(_, v)| v)
        .sum()
}

/// The drops of datagrams that never authenticated, from Graphite
/// counters (the others are in `rx.packets` already: a message out of
/// place is counted there and as `drops.unexpected`).
pub fn unauthenticated_drops(stats: &BTreeMap<String, u64>) -> u64 {
    [
        "drops.too_short",
        "drops.too_long",
        "drops.decrypt_failure",
        "drops.replayed",
        "drops.nonce_not_above",
        "drops.nonce_too_old",
    ]
    .iter()
    .map(|k| stats[*k])
    .sum()
}

/// Waits until `pid` has exited (gone, or a zombie nobody reaps: either
/// way its descriptors are closed), up to `timeout`.
fn wait_gone(pid: u32, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return,
            Ok(stat)
                if stat
                    .rsplit(')')
                    .next()
                    .is_some_and(|r| r.trim_start().starts_with('Z')) =>
            {
                return;
            }
            Ok(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Sends `sig` to `pid`.
pub fn signal(pid: u32, sig: nix::sys::signal::Signal) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig);
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.try_exit().is_none() {
            signal(self.pid(), nix::sys::signal::SIGTERM);
            if self.wait_exit(Duration::from_secs(10)).is_none() {
                self.kill_all();
            }
        }
    }
}
