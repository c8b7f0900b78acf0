//! Where both processes' log lines go: stderr in the foreground (`-f`),
//! syslog (facility daemon, ident `vpnd`) when daemonized.
//!
//! Levels follow the deployed vpnd: NOTICE by default, `-v` adds INFO,
//! `-vv` DEBUG. The `log` crate has no NOTICE, so its levels are shifted
//! by one: `info!` is NOTICE, `debug!` INFO, `trace!` DEBUG.

use std::io::Write;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, Ordering};

use log::{Level, LevelFilter, Log, Metadata, Record};
use syslog::{Facility, Formatter3164, Logger, LoggerBackend};

/// Where the lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    /// Standard error, one line per message.
    Stderr,
    /// The system log.
    Syslog,
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
    Syslog(Mutex<Logger<LoggerBackend, Formatter3164>>),
}

struct VpndLogger {
    /// "parent" or "net".
    process: &'static str,
    backend: Backend,
}

/// The syslog socket's descriptor once connected (-1 before): the sandbox
/// limits it with the others it keeps.
static SYSLOG_FD: AtomicI32 = AtomicI32::new(-1);

/// The descriptor of the socket to syslog, if [`init`] connected one.
pub fn syslog_fd() -> Option<RawFd> {
    Some(SYSLOG_FD.load(Ordering::Relaxed)).filter(|&fd| fd >= 0)
}

/// The descriptor under a syslog backend.
fn backend_fd(backend: &LoggerBackend) -> RawFd {
    match backend {
        LoggerBackend::Unix(s) => s.as_raw_fd(),
        LoggerBackend::UnixStream(w) => w.get_ref().as_raw_fd(),
        LoggerBackend::Udp(s, _) => s.as_raw_fd(),
        LoggerBackend::Tcp(w) => w.get_ref().as_raw_fd(),
    }
}

/// Installs the logger for `process` ("parent" or "net"). The syslog
/// socket is connected here, so the network process calls this before it
/// chroots. If syslog cannot be reached, the lines go to stderr, and the
/// returned message says so for the caller to log.
pub fn init(process: &'static str, sink: Sink, verbose: u8) -> Option<String> {
    let mut note = None;
    let backend = match sink {
        Sink::Stderr => Backend::Stderr,
        Sink::Syslog => {
            let formatter = Formatter3164 {
                facility: Facility::LOG_DAEMON,
                hostname: None,
                process: "vpnd".to_owned(),
                pid: std::process::id(),
            };
            match syslog::unix(formatter) {
                Ok(l) => {
                    SYSLOG_FD.store(backend_fd(&l.backend), Ordering::Relaxed);
                    Backend::Syslog(Mutex::new(l))
                }
                Err(e) => {
                    note = Some(format!("syslog: {e}; logging to stderr"));
                    Backend::Stderr
                }
            }
        }
    };
    let logger = Box::new(VpndLogger { process, backend });
    if log::set_boxed_logger(logger).is_ok() {
        log::set_max_level(level_for(verbose));
    }
    note
}

impl Log for VpndLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        // Only vpnd's own lines: the libraries' (mio's) are not for
        // operators.
        metadata.level() <= log::max_level() && metadata.target().starts_with("vpnd")
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        match &self.backend {
            Backend::Stderr => {
                let tag = match record.level() {
                    Level::Error => "error: ",
                    Level::Warn => "warning: ",
                    _ => "",
                };
                // One write per line: the parent and the network process
                // share stderr, and their lines must not interleave.
                let line = format!(
                    "vpnd[{}] {}: {tag}{}\n",
                    std::process::id(),
                    self.process,
                    record.args()
                );
                let _ = std::io::stderr().lock().write_all(line.as_bytes());
            }
            Backend::Syslog(logger) => {
                let text = format!("{}: {}", self.process, record.args());
                let Ok(mut l) = logger.lock() else {
                    return;
                };
                let _ = match record.level() {
                    Level::Error => l.err(text),
                    Level::Warn => l.warning(text),
                    Level::Info => l.notice(text),
                    Level::Debug => l.info(text),
                    Level::Trace => l.debug(text),
                };
            }
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
}
