//! vpnd: the command line and what each mode runs.
//!
//! This binary holds what needs no root: the command line, loading the
//! configuration, `-n` (check it), `-s` (ask a running vpnd for its
//! status), daemonizing, service-manager readiness and the start's checks
//! of the user, the chroot directory and the peer. The daemon itself
//! is the `vpnd_priv` library's start-up and loop; `--net-process` runs
//! `vpnd_net`'s network process. Exit codes follow sysexits(3) and are
//! chosen here only.

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use log::Level;

mod check;
mod cli;
mod daemonize;
mod instances;
mod load;
mod nonce_report;
mod preflight;
mod service_notify;
mod status;

use vpnd_net::logging::{self, Sink};
use vpnd_priv::nonce_file::NonceFileError;
use vpnd_priv::serve::{self, Ended};
use vpnd_priv::spawn::ChildLogging;
use vpnd_priv::startup::{self, StartError};
use vpnd_proto::config::Config;
use vpnd_proto::os_error::without_os_error_codes;

use crate::check::Problem;
use crate::cli::Args;
use crate::daemonize::Readiness;
use crate::load::{LoadError, Loaded};
use crate::preflight::PreflightError;

/// sysexits.h codes.
mod sysexits {
    pub const EX_USAGE: u8 = 64;
    pub const EX_DATAERR: u8 = 65;
    pub const EX_NOINPUT: u8 = 66;
    pub const EX_NOUSER: u8 = 67;
    pub const EX_NOHOST: u8 = 68;
    pub const EX_UNAVAILABLE: u8 = 69;
    pub const EX_SOFTWARE: u8 = 70;
    pub const EX_OSERR: u8 = 71;
    pub const EX_CANTCREAT: u8 = 73;
    pub const EX_TEMPFAIL: u8 = 75;
    pub const EX_NOPERM: u8 = 77;
    pub const EX_CONFIG: u8 = 78;
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => return bad_command_line(&e),
    };
    if args.net_process {
        // 0-2 and the IPC socket at 3 are ours; the rest came uninvited.
        vpnd_net::inherited::close_from(vpnd_net::child::IPC_FD + 1);
        return net_process(&args);
    }
    if args.json && !args.status {
        logging::report_usage("-j is an option of -s", USAGE);
        return ExitCode::from(sysexits::EX_USAGE);
    }
    if args.status {
        // Only the socket's path is read: -s needs no key.
        return match loaded(load::load_stats_path(&args.config)) {
            Ok(stats_path) => status(&stats_path, args.json),
            Err(code) => code,
        };
    }
    // Before the secret key is read: no core file or debugger of another
    // user sees it, nor anything root holds later.
    if let Err(e) = vpnd_priv::core_dumps::forbid() {
        logging::report(Level::Error, &e.to_string());
        return ExitCode::from(sysexits::EX_OSERR);
    }
    let config = match loaded(load::load(&args.config)) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if args.check {
        return check(&args, &config);
    }
    run(&args, config)
}

/// `vpnd -n`: what the start would refuse, every problem, with the exit
/// status of the first as the start would exit; the nonce values, this
/// side's public key and, with `-v`, the configuration.
fn check(args: &Args, config: &Config) -> ExitCode {
    if args.verbose > 0 {
        print!("{}", config.to_text(vpnd_proto::config::Secrets::Redacted));
    }
    let checked = check::check(config);
    print!("{}", checked.report);
    for warning in &checked.warnings {
        logging::report(Level::Warn, &warning.to_string());
    }
    for problem in &checked.problems {
        logging::report(Level::Error, &problem.to_string());
    }
    if let Some(first) = checked.problems.first() {
        return ExitCode::from(check_exit_code(first));
    }
    let neighbours = instances::neighbours(&args.config, config);
    let collisions = instances::collisions(&args.config, config, &neighbours);
    if !collisions.is_empty() {
        for c in &collisions {
            logging::report(Level::Error, &c.to_string());
        }
        return ExitCode::from(sysexits::EX_CONFIG);
    }
    match checked.problems.first() {
        Some(first) => ExitCode::from(check_exit_code(first)),
        None => {
            println!("{}: configuration OK", args.config.display());
            ExitCode::SUCCESS
        }
    }
}

fn check_exit_code(problem: &Problem) -> u8 {
    match problem {
        Problem::Preflight(e) => preflight_exit_code(e),
        Problem::NonceFile { error, .. } => nonce_file_exit_code(error),
        Problem::Start(e) => start_exit_code(e),
    }
}

/// What was read, its warnings printed; or the error printed and its exit
/// code.
fn loaded<T>(load: Result<Loaded<T>, LoadError>) -> Result<T, ExitCode> {
    match load {
        Ok(loaded) => {
            for warning in &loaded.warnings {
                logging::report(Level::Warn, warning);
            }
            Ok(loaded.read)
        }
        Err(e) => {
            logging::report(Level::Error, &e.to_string());
            Err(ExitCode::from(match e {
                LoadError::Read { .. } => sysexits::EX_NOINPUT,
                LoadError::Invalid(_) | LoadError::Unsafe(_) => sysexits::EX_CONFIG,
            }))
        }
    }
}

/// `vpnd -s`: the status block (`-j`: the JSON object) of the vpnd
/// listening on `stats_path`.
fn status(stats_path: &Path, json: bool) -> ExitCode {
    let format = if json {
        status::Format::Json
    } else {
        status::Format::Text
    };
    match status::query(stats_path, format) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            logging::report(Level::Error, &e.to_string());
            ExitCode::from(sysexits::EX_UNAVAILABLE)
        }
    }
}

/// Where the parent logs, and relays the network process's lines to:
/// stderr with `-f`, syslog otherwise.
fn log_sink(args: &Args) -> Sink {
    if args.foreground {
        Sink::Stderr
    } else {
        Sink::Syslog
    }
}

/// The network process: vpnd started it with the IPC socket at
/// descriptor 3 and the pipe its log lines go to at standard error.
fn net_process(args: &Args) -> ExitCode {
    let _ = logging::init("net", Sink::Parent, args.verbose);
    #[cfg(debug_assertions)]
    let probe = args.sandbox_probe.clone();
    #[cfg(not(debug_assertions))]
    let probe = None;
    match vpnd_net::child::run(probe) {
        Ok(exit) => {
            log::debug!("exiting: {exit:?}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            log::error!("{e}");
            ExitCode::from(sysexits::EX_SOFTWARE)
        }
    }
}

/// The daemon: the parent's start, then its loop.
fn run(args: &Args, config: Config) -> ExitCode {
    // Whatever the caller left open (a shell's, a service manager's)
    // must not reach the daemon or the network process.
    vpnd_net::inherited::close_from(3);
    if !rustix::process::geteuid().is_root() {
        logging::report(
            Level::Error,
            &format!(
                "must be started as root: it creates {} and starts the network process as {}",
                config.device,
                config.user.as_str()
            ),
        );
        return ExitCode::from(sysexits::EX_NOPERM);
    }
    let mut readiness = if args.foreground {
        Readiness::foreground()
    } else {
        match daemonize::detach() {
            Ok(r) => r,
            Err(e) => {
                logging::report(Level::Error, &e.to_string());
                return ExitCode::from(sysexits::EX_OSERR);
            }
        }
    };
    let sink = log_sink(args);
    if let Some(note) = logging::init("parent", sink, args.verbose) {
        log::warn!("{note}");
    }
    // From here on a panic undoes what the daemon changed, though a
    // release build runs no destructor on a panic.
    vpnd_priv::last_resort::install();
    let signals = match serve::catch_signals() {
        Ok(s) => s,
        Err(e) => {
            let message = shown(&format!("catching signals: {e}"));
            log::error!("{message}");
            readiness.failed(sysexits::EX_OSERR, &message);
            return ExitCode::from(sysexits::EX_OSERR);
        }
    };
    let child_logging = ChildLogging {
        foreground: args.foreground,
        verbose: args.verbose,
    };
    let started = preflight::check(&config)
        .map_err(|problems| {
            let code = problems
                .first()
                .map_or(sysexits::EX_SOFTWARE, preflight_exit_code);
            let all: Vec<String> = problems.iter().map(|p| shown(p)).collect();
            (code, all.join("; "))
        })
        .and_then(|resolved| {
            startup::start(config, resolved, child_logging)
                .map_err(|e| (start_exit_code(&e), shown(&e)))
        });
    let parent = match started {
        Ok(p) => p,
        Err((code, message)) => {
            log::error!("{message}");
            readiness.failed(code, &message);
            return ExitCode::from(code);
        }
    };
    readiness.ready();
    match parent.serve(signals) {
        Ended::Stopped => {
            log::info!("stopped; network unconfigured");
            ExitCode::SUCCESS
        }
        Ended::ChildDied(how) => {
            log::error!("network process ended ({how}); network unconfigured, exiting");
            ExitCode::from(sysexits::EX_SOFTWARE)
        }
        Ended::ChildKilled(why) => {
            log::error!(
                "network process broke the IPC protocol ({why}); killed it, network unconfigured, exiting"
            );
            ExitCode::from(sysexits::EX_SOFTWARE)
        }
        Ended::Failed(why) => {
            log::error!("{why}; network unconfigured, exiting");
            ExitCode::from(sysexits::EX_OSERR)
        }
    }
}

/// An error as the operator reads it, here and in the service manager's
/// status: operating systems' errors in the system's words.
fn shown(e: &dyn std::fmt::Display) -> String {
    without_os_error_codes(&e.to_string()).into_owned()
}

/// The synopsis of vpnd(8), for the usage line (`-j` goes with `-s`).
const USAGE: &str = "vpnd [-fnsVv] [-c file]";

/// `-h` and `-V` print and succeed; anything else wrong with the command
/// line is said in one line, BSD's way, with the usage line after it
/// (clap's own message first line, without its "error: ", tips and help
/// pointer).
fn bad_command_line(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    let rendered = e.to_string();
    let first = rendered.lines().next().unwrap_or_default();
    logging::report_usage(first.strip_prefix("error: ").unwrap_or(first), USAGE);
    ExitCode::from(sysexits::EX_USAGE)
}

fn preflight_exit_code(e: &PreflightError) -> u8 {
    use sysexits::*;
    match e {
        PreflightError::User { .. } | PreflightError::Group { .. } => EX_NOUSER,
        PreflightError::Chroot { .. } => EX_CONFIG,
        PreflightError::Resolve { .. } => EX_NOHOST,
    }
}

/// A nonce file that stops the start (or fails `-n`): unsafe files are a
/// configuration error, unwritable ones cannot be created, the rest is
/// corrupt data.
fn nonce_file_exit_code(e: &NonceFileError) -> u8 {
    use sysexits::*;
    match e {
        NonceFileError::Write { .. } | NonceFileError::NoDirectory { .. } => EX_CANTCREAT,
        NonceFileError::Unsafe { .. } => EX_CONFIG,
        NonceFileError::Read { .. }
        | NonceFileError::Length { .. }
        | NonceFileError::AtTop { .. } => EX_DATAERR,
    }
}

fn start_exit_code(e: &StartError) -> u8 {
    use sysexits::*;
    match e {
        StartError::NonceFile { error, .. } => nonce_file_exit_code(error),
        // Another instance runs with this pid file or stats socket.
        StartError::PidFile(vpnd_priv::pid_file::PidFileError::Running { .. })
        | StartError::Socket(vpnd_priv::sockets::SocketError::StatsInUse { .. }) => EX_TEMPFAIL,
        StartError::PidFile(_) | StartError::Directory(_) => EX_CANTCREAT,
        StartError::Tun(_) | StartError::Network(_) | StartError::Socket(_) => EX_OSERR,
        StartError::Spawn(_) => EX_OSERR,
        StartError::Environment(_) => EX_USAGE,
        StartError::Child(_) | StartError::Greeting(_) => EX_SOFTWARE,
    }
}
