//! The operator's handles on a running vpnd: SIGUSR1 and the console
//! command `stats` (root's standard input is read by the parent, which
//! relays it to the network process through a pipe) make the network
//! process log its state and counters; a
//! console line that is not a command reaches the peer as a debug string
//! and is logged there, a stream of them only up to the log budget.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use vpnd_tests::daemon::signal;
use vpnd_tests::pair::Pair;

const DUMP: &str = "net: --- vpnd statistics ---";

#[test]
fn usr1_and_the_stats_command_dump_the_state_and_a_line_reaches_the_peer() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let pair = Pair::new("console", "");
    let (mut da, db) = pair.start_both();
    let t = Duration::from_secs(10);
    // The network process holds a pipe the parent relays the console
    // into, never the parent's standard input itself (root's terminal).
    let stdin = std::fs::read_link(format!("/proc/{}/fd/0", da.pid())).unwrap();
    let net = da.net_pid().expect("network process");
    let held: Vec<_> = std::fs::read_dir(format!("/proc/{net}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.unwrap().path()).ok())
        .collect();
    assert!(!held.contains(&stdin), "{stdin:?} in {held:?}");

    signal(da.pid(), nix::sys::signal::SIGUSR1);
    assert!(da.wait_for_log(DUMP, t), "{}", da.log_text());
    for line in [
        "NET GW is ACTIVE",
        "sessions: 1",
        "decrypt failures: 0",
        "TX nonce: ",
    ] {
        assert!(da.wait_for_log(line, t), "{line}: {}", da.log_text());
    }
    // Every line vpnd(8) shows, in its order, at the default level.
    let documented = vpnd_tests::manual::documented_dump();
    assert!(documented.len() >= 19, "vpnd(8) shows {documented:?}");
    assert!(da.wait_for_log("net: RX nonce: ", t), "{}", da.log_text());
    let log = da.log_text();
    let dumped: Vec<&str> = log
        .lines()
        .filter_map(|l| l.split_once("net: ").map(|(_, rest)| rest))
        .skip_while(|l| !l.starts_with("--- vpnd statistics"))
        .take(documented.len())
        .collect();
    for (shown, logged) in documented.iter().zip(&dumped) {
        // The part before the values: "data bytes rx/tx", "NET GW is ACTIVE".
        let head = shown.split(':').next().unwrap().split(" (").next().unwrap();
        assert!(
            logged.starts_with(head),
            "{logged:?} vs. vpnd(8)'s {shown:?}"
        );
    }
    assert_eq!(dumped.len(), documented.len(), "{log}");

    assert!(!db.log_text().contains(DUMP));
    da.type_line("hello from the console of a");
    assert!(
        db.wait_for_log("net: peer says: hello from the console of a", t),
        "{}",
        db.log_text()
    );
    da.type_line("");
    da.type_line("stats");
    let dumps = || da.log_text().matches(DUMP).count();
    let deadline = std::time::Instant::now() + t;
    while dumps() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(dumps(), 2, "{}", da.log_text());

    // A stream of lines: the peer logs a few and counts the rest, it does
    // not log one line per datagram.
    for i in 0..50 {
        da.type_line(&format!("line {i} of a stream"));
    }
    assert!(
        db.wait_for_log("net: peer says: line 3 of a stream", t),
        "{}",
        db.log_text()
    );
    std::thread::sleep(Duration::from_secs(1));
    let logged = db.log_text().matches("net: peer says: ").count();
    assert_eq!(logged, 5, "{}", db.log_text());
}

/// A vpnd in the foreground on a terminal of its own (a pseudo-terminal
/// whose session it leads, as a shell's job would be); stopped when
/// dropped.
struct OnTerminal {
    vpnd: std::process::Child,
    master: std::os::fd::OwnedFd,
    slave: String,
}

impl OnTerminal {
    fn start(side: &vpnd_tests::pair::Side, log: &std::path::Path) -> OnTerminal {
        use std::os::unix::process::CommandExt;
        let pty = nix::pty::openpty(None, None).unwrap();
        let slave = std::fs::read_link(format!("/proc/self/fd/{}", {
            use std::os::fd::AsRawFd;
            pty.slave.as_raw_fd()
        }))
        .unwrap()
        .to_string_lossy()
        .into_owned();
        let mut command = side.ns.command(vpnd_tests::binary("vpnd"));
        command
            .args(["-f", "-v", "-c"])
            .arg(&side.conf)
            .stdin(std::process::Stdio::from(pty.slave))
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(log).unwrap());
        // SAFETY: between fork and exec only setsid(2) and ioctl(2), both
        // async-signal-safe, on the child's own standard input.
        #[allow(unsafe_code)]
        unsafe {
            command.pre_exec(|| {
                nix::unistd::setsid()?;
                if nix::libc::ioctl(0, nix::libc::TIOCSCTTY, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        OnTerminal {
            vpnd: command.spawn().unwrap(),
            master: pty.master,
            slave,
        }
    }
}

impl Drop for OnTerminal {
    fn drop(&mut self) {
        signal(self.vpnd.id(), nix::sys::signal::SIGTERM);
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while self.vpnd.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.vpnd.kill();
        let _ = self.vpnd.wait();
    }
}

/// The state letter of `/proc/PID/stat` (`T`: stopped).
fn state_of(pid: u32) -> String {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or_default();
    after
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn on_a_terminal_the_console_works_and_the_network_process_never_holds_it() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let pair = Pair::new("ttycon", "");
    let log = pair.dir.join("a.log");
    let mut on = OnTerminal::start(&pair.a, &log);
    let text = || std::fs::read_to_string(&log).unwrap_or_default();
    let t = Duration::from_secs(20);
    let deadline = std::time::Instant::now() + t;
    let pid = on.vpnd.id();
    let net = loop {
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        if let Some(n) = children.split_whitespace().next()
            && std::os::unix::net::UnixStream::connect(&pair.a.stats_path).is_ok()
        {
            break n.parse::<u32>().unwrap();
        }
        assert!(on.vpnd.try_wait().unwrap().is_none(), "{}", text());
        assert!(std::time::Instant::now() < deadline, "{}", text());
        std::thread::sleep(Duration::from_millis(20));
    };
    rustix::io::write(&on.master, b"stats\n").unwrap();
    let deadline = std::time::Instant::now() + t;
    while !text().contains(DUMP) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    // The network process, in a process group of its own, would be
    // stopped (SIGTTIN) for reading the terminal: the parent reads it.
    assert_ne!(state_of(net), "T", "network process stopped");
    assert!(text().contains(DUMP), "{}", text());
    let held: Vec<String> = std::fs::read_dir(format!("/proc/{net}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.unwrap().path()).ok())
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    assert!(!held.contains(&on.slave), "{} in {held:?}", on.slave);
}
