//! Where both processes' log lines go. The parent's: stderr in the
//! foreground (`-f`), syslog (facility daemon, ident `vpnd`) when
//! daemonized, connected again when a send fails (syslogd restarted).
//! The network process's: always its standard error, a pipe that the
//! parent reads and relays into its own log (log_pipe.rs), with
//! [`relay`].
//!
//! Levels follow the deployed vpnd: NOTICE by default, `-v` adds INFO,
//! `-vv` DEBUG. The `log` crate has no NOTICE, so its levels are shifted
//! by one: `info!` is NOTICE, `debug!` INFO, `trace!` DEBUG.
//!
//! When standard error is the journal's stream (systemd's `vpnd -f`),
//! every line on it starts with its syslog priority, `<3>` to `<7>`, as
//! sd-daemon(3) has it, so that `journalctl -p` sorts them. Operating
//! systems' errors read in the system's words, without Rust's
//! `(os error N)`.

use std::ffi::OsStr;
use std::fmt::Display;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use log::{Level, LevelFilter, Log, Metadata, Record};
use syslog::{Facility, Formatter3164, Logger, LoggerBackend};
use vpnd_proto::os_error::without_os_error_codes;

use crate::log_pipe::{self, PipeWriter};

/// Where the lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    /// Standard error, one line per message.
    Stderr,
    /// The system log.
    Syslog,
    /// The parent, through the pipe at standard error (the network
    /// process).
    Parent,
}

/// The level filter for `-v` given `verbose` times.
pub fn level_for(verbose: u8) -> LevelFilter {
    match verbose {
        0 => LevelFilter::Info,
        1 => LevelFilter::Debug,
        _ => LevelFilter::Trace,
    }
}

enum Backend {
    Stderr,
    Syslog(Mutex<Syslog>),
    Parent(Mutex<PipeWriter>),
}

/// The connection to syslog. The `syslog` crate connects once and, when a
/// send fails, only returns the error: after syslogd restarts, its socket
/// is a new one, and every line sent on the old connection would be lost.
struct Syslog {
    formatter: Formatter3164,
    /// The socket's path, if not the system's (debug builds: tests).
    path: Option<PathBuf>,
    /// None after a failed send, until the next line connects again.
    connected: Option<Logger<LoggerBackend, Formatter3164>>,
}

impl Syslog {
    fn connect(&self) -> syslog::Result<Logger<LoggerBackend, Formatter3164>> {
        match &self.path {
            Some(path) => syslog::unix_custom(self.formatter.clone(), path),
            None => syslog::unix(self.formatter.clone()),
        }
    }

    /// Sends `text` at `level`; if the send fails, connects again and
    /// sends once more (a line is lost only while syslogd is down).
    fn send(&mut self, level: Level, text: &str) {
        for _ in 0..2 {
            if self.connected.is_none() {
                self.connected = self.connect().ok();
            }
            let Some(l) = &mut self.connected else {
                return;
            };
            let sent = match level {
                Level::Error => l.err(text),
                Level::Warn => l.warning(text),
                Level::Info => l.notice(text),
                Level::Debug => l.info(text),
                Level::Trace => l.debug(text),
            };
            if sent.is_ok() {
                return;
            }
            self.connected = None;
        }
    }
}

/// The syslog socket's path: the system's, or in debug builds the one
/// `VPND_TEST_SYSLOG_PATH` names (the tests' stand-in for syslogd).
fn syslog_path() -> Option<PathBuf> {
    #[cfg(debug_assertions)]
    if let Some(p) = std::env::var_os("VPND_TEST_SYSLOG_PATH") {
        return Some(p.into());
    }
    None
}

struct VpndLogger {
    /// "parent" or "net".
    process: &'static str,
    backend: Backend,
}

static LOGGER: OnceLock<VpndLogger> = OnceLock::new();

/// Installs the logger for `process` ("parent" or "net"). If syslog cannot
/// be reached now, the returned message says so for the caller to log.
pub fn init(process: &'static str, sink: Sink, verbose: u8) -> Option<String> {
    let mut note = None;
    let backend = match sink {
        Sink::Stderr => Backend::Stderr,
        Sink::Parent => Backend::Parent(Mutex::new(PipeWriter::default())),
        Sink::Syslog => {
            let mut syslog = Syslog {
                formatter: Formatter3164 {
                    facility: Facility::LOG_DAEMON,
                    hostname: None,
                    process: "vpnd".to_owned(),
                    pid: std::process::id(),
                },
                path: syslog_path(),
                connected: None,
            };
            // Not reachable yet (syslogd starts later), each line tries
            // again: a daemon's stderr is /dev/null.
            match syslog.connect() {
                Ok(l) => syslog.connected = Some(l),
                Err(e) => note = Some(format!("syslog: {e}; connecting again with each line")),
            }
            Backend::Syslog(Mutex::new(syslog))
        }
    };
    let logger = LOGGER.get_or_init(|| VpndLogger { process, backend });
    if log::set_logger(logger).is_ok() {
        log::set_max_level(level_for(verbose));
    }
    note
}

/// True when standard error is the stream systemd connected to the
/// journal: `JOURNAL_STREAM` names its device and inode (sd-daemon(3)).
/// The variable alone is not enough: a program started from a service
/// inherits it with its standard error sent elsewhere.
fn stderr_is_journal() -> bool {
    static ON_JOURNAL: OnceLock<bool> = OnceLock::new();
    *ON_JOURNAL.get_or_init(|| {
        let Some(named) = std::env::var_os("JOURNAL_STREAM") else {
            return false;
        };
        rustix::fs::fstat(std::io::stderr())
            .is_ok_and(|st| names_stream(&named, st.st_dev, st.st_ino))
    })
}

/// Whether `JOURNAL_STREAM`'s value `named` ("DEVICE:INODE", in decimal)
/// is the file of `device` and `inode`.
fn names_stream(named: &OsStr, device: impl Display, inode: impl Display) -> bool {
    named.to_str() == Some(format!("{device}:{inode}").as_str())
}

/// `text` as lines for standard error, each made by `line`, and each with
/// `level`'s priority in front when standard error is the journal.
fn stderr_lines(journal: bool, level: Level, text: &str, line: impl Fn(&str) -> String) -> String {
    let text = without_os_error_codes(text);
    let mut out = String::new();
    for part in text.lines() {
        if journal {
            out.push_str(&format!("<{}>", log_pipe::severity(level)));
        }
        out.push_str(&line(part));
        out.push('\n');
    }
    out
}

/// What [`report`] writes: `vpnd: ` before every line, `vpnd: warning: `
/// for a warning.
fn report_text(journal: bool, level: Level, text: &str) -> String {
    let tag = if level == Level::Warn {
        "warning: "
    } else {
        ""
    };
    stderr_lines(journal, level, text, |line| format!("vpnd: {tag}{line}"))
}

/// Writes a message of vpnd's own to standard error, outside the log: the
/// command line's, `-n`'s and `-s`'s errors and warnings, and what stops
/// a start before the logger is set up. Every line of it starts `vpnd: `
/// (after its priority, on the journal), as a BSD program's messages do,
/// so that a list of errors reads as vpnd's line by line.
pub fn report(level: Level, text: &str) {
    let out = report_text(stderr_is_journal(), level, text);
    // One write: lines written from elsewhere must not run into them.
    let _ = std::io::stderr().lock().write_all(out.as_bytes());
}

/// Writes a bad command line's error and the `usage:` line after it, as
/// BSD programs do (`usage` is the synopsis).
pub fn report_usage(error: &str, usage: &str) {
    let journal = stderr_is_journal();
    let mut out = report_text(journal, Level::Error, error);
    out.push_str(&stderr_lines(journal, Level::Error, usage, |line| {
        format!("usage: {line}")
    }));
    let _ = std::io::stderr().lock().write_all(out.as_bytes());
}

/// Writes a line of another process's (the network process's, `pid`)
/// into this process's log, as that process's: `text` must already be
/// fit for a terminal. Dropped above the level `-v` allows.
pub fn relay(process: &str, pid: u32, level: Level, text: &str) {
    if level <= log::max_level()
        && let Some(logger) = LOGGER.get()
    {
        logger.emit(process, pid, level, text);
    }
}

impl VpndLogger {
    fn emit(&self, process: &str, pid: u32, level: Level, text: &str) {
        let text = without_os_error_codes(text);
        match &self.backend {
            Backend::Stderr => {
                let lines = log_lines(stderr_is_journal(), process, pid, level, &text);
                // One write per message: lines written from elsewhere must
                // not run into them.
                let _ = std::io::stderr().lock().write_all(lines.as_bytes());
            }
            Backend::Syslog(syslog) => {
                if let Ok(mut s) = syslog.lock() {
                    s.send(level, &format!("{process}: {text}"));
                }
            }
            Backend::Parent(pipe) => {
                if let Ok(mut p) = pipe.lock() {
                    p.send(std::io::stderr(), level, &text);
                }
            }
        }
    }
}

/// A message of `process` (`pid`) as the log on standard error shows it:
/// `vpnd[PID] PROCESS: ` before each of its lines, `error: ` or
/// `warning: ` after that for those levels.
fn log_lines(journal: bool, process: &str, pid: u32, level: Level, text: &str) -> String {
    let tag = match level {
        Level::Error => "error: ",
        Level::Warn => "warning: ",
        _ => "",
    };
    stderr_lines(journal, level, text, |line| {
        format!("vpnd[{pid}] {process}: {tag}{line}")
    })
}

impl Log for VpndLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        // Only vpnd's own lines: the libraries' (mio's) are not for
        // operators.
        metadata.level() <= log::max_level() && metadata.target().starts_with("vpnd")
    }

    fn log(&self, record: &Record) {
        if self.enabled(record.metadata()) {
            let text = record.args().to_string();
            self.emit(self.process, std::process::id(), record.level(), &text);
        }
    }

    fn flush(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbosity_maps_to_notice_info_debug() {
        assert_eq!(level_for(0), LevelFilter::Info);
        assert_eq!(level_for(1), LevelFilter::Debug);
        assert_eq!(level_for(2), LevelFilter::Trace);
        assert_eq!(level_for(9), LevelFilter::Trace);
    }

    #[test]
    fn on_the_journal_every_line_starts_with_its_priority() {
        let text = "peer moved\nto 198.18.0.9: Connection refused (os error 111)";
        assert_eq!(
            log_lines(true, "net", 7, Level::Warn, text),
            "<4>vpnd[7] net: warning: peer moved\n\
             <4>vpnd[7] net: warning: to 198.18.0.9: Connection refused\n"
        );
        for (level, priority) in [
            (Level::Error, "<3>"),
            (Level::Warn, "<4>"),
            (Level::Info, "<5>"),
            (Level::Debug, "<6>"),
            (Level::Trace, "<7>"),
        ] {
            let line = log_lines(true, "parent", 1, level, "x");
            assert!(line.starts_with(priority), "{level}: {line}");
        }
        assert_eq!(
            log_lines(false, "parent", 1, Level::Error, "x"),
            "vpnd[1] parent: error: x\n"
        );
    }

    #[test]
    fn reports_start_every_line_with_vpnd() {
        let errors = "/etc/vpnd.conf:2: local_sk: x: bad\n/etc/vpnd.conf:5: bogus: y: unknown";
        assert_eq!(
            report_text(false, Level::Error, errors),
            "vpnd: /etc/vpnd.conf:2: local_sk: x: bad\nvpnd: /etc/vpnd.conf:5: bogus: y: unknown\n"
        );
        assert_eq!(
            report_text(true, Level::Warn, "mode 0644\nchmod 600"),
            "<4>vpnd: warning: mode 0644\n<4>vpnd: warning: chmod 600\n"
        );
        assert_eq!(
            report_text(
                false,
                Level::Error,
                "x: No such file or directory (os error 2)"
            ),
            "vpnd: x: No such file or directory\n"
        );
    }

    #[test]
    fn the_journal_is_the_stream_its_variable_names() {
        assert!(names_stream(OsStr::new("8:1234"), 8u64, 1234u64));
        assert!(!names_stream(OsStr::new("8:1234"), 8u64, 1235u64));
        assert!(!names_stream(OsStr::new("8:1234:"), 8u64, 1234u64));
        assert!(!names_stream(OsStr::new(""), 0u64, 0u64));
    }

    #[test]
    fn a_failed_send_or_connect_is_tried_again_with_the_next_line() {
        use std::os::unix::net::UnixDatagram;
        let dir = std::env::temp_dir().join(format!("vpnd-syslog-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        let path = dir.join("log");
        let mut syslog = Syslog {
            formatter: Formatter3164 {
                facility: Facility::LOG_DAEMON,
                hostname: None,
                process: "vpnd".to_owned(),
                pid: 1,
            },
            path: Some(path.clone()),
            connected: None,
        };
        // Not up yet: the line is lost, nothing else.
        syslog.send(Level::Info, "lost");
        let first = UnixDatagram::bind(&path).unwrap();
        let mut buf = [0u8; 1024];
        syslog.send(Level::Info, "before");
        let n = first.recv(&mut buf).unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).ends_with("vpnd[1]: before"));
        // syslogd restarts: its socket is removed and made anew.
        drop(first);
        std::fs::remove_file(&path).unwrap();
        let second = UnixDatagram::bind(&path).unwrap();
        second
            .set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .unwrap();
        syslog.send(Level::Warn, "after");
        let n = second.recv(&mut buf).unwrap();
        let got = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(got.starts_with("<28>") && got.ends_with("after"), "{got}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
