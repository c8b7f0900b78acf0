//! `vpnd -n` beyond the file itself: what the start would refuse on this
//! system, found by the start's own checks (the user, the chroot
//! directory, the nonce files' places, the programs root runs, the pid
//! file and the stats socket free), every problem at once; and what the
//! operator needs from the check: the nonce values and this side's public
//! key. Only the peer's name is not resolved: a check of the file needs
//! no resolver.

use vpnd_priv::nonce_file::NonceFileError;
use vpnd_priv::pid_file::{self, PidFileError};
use vpnd_priv::sockets::{self, SocketError};
use vpnd_priv::startup::{self, StartError};
use vpnd_proto::config::Config;

use crate::nonce_report;
use crate::preflight::{self, PreflightError};

/// What the start would refuse, by the check that found it.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    /// The user, the chroot directory or the statistics group.
    #[error("{0}")]
    Preflight(PreflightError),
    /// A nonce file that cannot be read, or whose place cannot be written.
    #[error("{parameter} {error}")]
    NonceFile {
        /// `local_nonce_file` or `remote_nonce_file`.
        parameter: &'static str,
        /// Why.
        error: NonceFileError,
    },
    /// A program root runs, the pid file or the statistics socket.
    #[error("{0}")]
    Start(StartError),
}

/// The outcome of the check.
#[derive(Debug, Default)]
pub struct Checked {
    /// For standard output: a line per nonce file, the public key, and
    /// whether this configuration's vpnd runs.
    pub report: String,
    /// What the start would only warn about.
    pub warnings: Vec<String>,
    /// What would stop the start, in the order the start meets it.
    pub problems: Vec<Problem>,
}

/// Runs every check on `config`.
pub fn check(config: &Config) -> Checked {
    let mut checked = Checked::default();
    if let Err(problems) = preflight::check_local(config) {
        checked
            .problems
            .extend(problems.into_iter().map(Problem::Preflight));
    }
    let (nonces, errors) = nonce_report::report(config);
    checked.report.push_str(&nonces);
    // The start makes a missing runtime or state directory itself.
    let dirs = vpnd_priv::instance_dirs::dirs();
    let made_at_start = |e: &NonceFileError| matches!(e, NonceFileError::NoDirectory { dir, .. } if *dir == dirs.state || *dir == dirs.runtime);
    checked.problems.extend(
        errors
            .into_iter()
            .filter(|(_, error)| !made_at_start(error))
            .map(|(parameter, error)| Problem::NonceFile { parameter, error }),
    );
    checked.report.push_str(&format!(
        "public key: {} (the peer's remote_pk)\n",
        config.local_sk.public_key().to_hex()
    ));
    let (pid, stats) = instance_paths(config, &mut checked.report);
    // In the start's order: the pid file, the programs, the socket.
    checked.problems.extend(pid);
    match startup::programs(config) {
        Ok((_, warning)) => checked.warnings.extend(warning),
        Err(e) => checked.problems.push(Problem::Start(e)),
    }
    checked.problems.extend(stats);
    checked
}

/// The pid file and the statistics socket are free, or held together by
/// one running vpnd, which is then taken for this configuration's own
/// (so that checking a changed file before a restart does not fail) and
/// said on a line of its own. A running process behind one of them alone
/// is another instance's: the start would stop there.
fn instance_paths(config: &Config, report: &mut String) -> (Option<Problem>, Option<Problem>) {
    let pid = pid_file::check_free(&config.pid_file);
    let stats = sockets::check_stats_path(&config.stats_path);
    match (pid, stats) {
        (Err(PidFileError::Running { path, pid }), Err(SocketError::StatsInUse { .. })) => {
            report.push_str(&format!(
                "pid_file {}: vpnd runs as pid {pid}, listening on stats_path {}: this configuration's, as far as can be told (a start waits until it stops)\n",
                path.display(),
                config.stats_path.display()
            ));
            (None, None)
        }
        (pid, stats) => (
            pid.err().map(|e| Problem::Start(StartError::PidFile(e))),
            stats.err().map(|e| Problem::Start(StartError::Socket(e))),
        ),
    }
}
