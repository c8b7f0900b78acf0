//! Reading the configuration file, and refusing one that root should not
//! trust: as OpenSSH's StrictModes does, the file and every directory
//! above it must be root's (or, for `vpnd -n` run by another user, that
//! user's) and the file readable by its owner alone, and the programs the
//! configuration names for root to run must be writable by root alone,
//! with every directory above them (see `vpnd_priv::safe_path`).

use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use vpnd_priv::netconf::{self, Platform, Tools};
use vpnd_priv::safe_path;
use vpnd_proto::config::{self, Config, ConfigError, ConfigErrors, RoleConfig};
use zeroize::Zeroizing;

/// What was read from a configuration file: the whole [`Config`], or for
/// `vpnd -s` only its `stats_path`.
#[derive(Debug)]
pub struct Loaded<T> {
    /// The configuration, or the part of it asked for.
    pub read: T,
    /// Things to warn about (for `vpnd -s`, what the others refuse).
    pub warnings: Vec<String>,
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file cannot be read.
    #[error("configuration file {}: cannot read: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The file has errors (every one of them).
    #[error("{0}")]
    Invalid(ConfigErrors),
    /// The file, or a program it names, could be changed by someone other
    /// than root: every problem, one a line.
    #[error("{}", .0.join("\n"))]
    Unsafe(Vec<String>),
}

/// What is done about a configuration that others could read or change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strictness {
    /// It is refused: the daemon and `vpnd -n`.
    Refuse,
    /// It is warned about: `vpnd -s`, which reads only `stats_path` and
    /// runs nothing.
    Warn,
}

/// The largest configuration file read: a real one is a few hundred bytes.
const MAX_CONFIG: u64 = 64 * 1024;

/// Reads and parses `path`, checks that this platform can make its tun
/// device, and refuses the file, or programs it names, if anyone but root
/// could change them.
pub fn load(path: &Path) -> Result<Loaded<Config>, LoadError> {
    let loaded = load_with(path, Strictness::Refuse, |path, text| {
        let config = config::parse_in(path, text, &vpnd_priv::instance_dirs::dirs())?;
        check_device(path, text, &config)?;
        Ok(config)
    })?;
    let unsafe_programs: Vec<String> = programs(&loaded.read)
        .iter()
        .filter_map(|(parameter, program)| check_program(parameter, program))
        .chain(
            scripts(&loaded.read)
                .iter()
                .filter_map(|(parameter, script)| check_script(parameter, script)),
        )
        .collect();
    if !unsafe_programs.is_empty() {
        return Err(LoadError::Unsafe(unsafe_programs));
    }
    Ok(loaded)
}

/// The programs the configuration names that root runs, each with its
/// parameter: this platform's (`ip_path` on Linux), and a host's
/// `resolvconf_path`.
fn programs(config: &Config) -> Vec<(&'static str, PathBuf)> {
    let tools = Tools {
        ip: config.ip_path.clone(),
        resolvconf: PathBuf::from(config::defaults::RESOLVCONF_PATH),
        up_script: None,
        down_script: None,
    };
    let mut programs: Vec<(&'static str, PathBuf)> = netconf::platform()
        .configured_programs(&tools)
        .into_iter()
        .map(|(parameter, path)| (parameter, path.to_owned()))
        .collect();
    if let RoleConfig::Host {
        resolvconf_path, ..
    } = &config.role
    {
        programs.push(("resolvconf_path", resolvconf_path.clone()));
    }
    programs
}

/// What makes `program` unsafe for root to run, if anything. A missing
/// program is the start's to report (`ip_path` stops it, a missing
/// `resolvconf_path` costs the resolver).
fn check_program(parameter: &str, program: &Path) -> Option<String> {
    match safe_path::check_program(program) {
        Ok(()) => None,
        Err(flaw) if flaw.is_missing() => None,
        Err(flaw) => Some(format!(
            "{parameter} {}: {flaw}: root runs this program, so it and every directory above it must be root's and writable by root alone",
            program.display()
        )),
    }
}

/// The scripts the configuration names for root to run, each with its
/// parameter.
fn scripts(config: &Config) -> Vec<(&'static str, PathBuf)> {
    [
        ("up_script", &config.up_script),
        ("down_script", &config.down_script),
    ]
    .into_iter()
    .filter_map(|(parameter, path)| Some((parameter, path.clone()?)))
    .collect()
}

/// What makes `script` unsafe for root to run, or unusable: judged as a
/// program is, and unlike one, a missing or non-executable script is
/// refused here, so that `vpnd -n` catches it (nothing else would run in
/// its place).
fn check_script(parameter: &str, script: &Path) -> Option<String> {
    let flaw = match safe_path::check_program(script) {
        Ok(()) if vpnd_priv::exec::is_executable(script) => return None,
        Ok(()) => "not an executable file".to_owned(),
        Err(flaw) if flaw.is_missing() => flaw.to_string(),
        Err(flaw) => format!(
            "{flaw}: root runs this program, so it and every directory above it must be root's and writable by root alone"
        ),
    };
    Some(format!("{parameter} {}: {flaw}", script.display()))
}

/// The platform's rule for the tun's name (NetBSD: `tunN` only), reported
/// as the parser reports its errors, at the `device` line.
fn check_device(path: &Path, text: &str, config: &Config) -> Result<(), ConfigErrors> {
    vpnd_priv::tun::check_device(&config.device).map_err(|reason| {
        ConfigErrors(vec![ConfigError {
            path: path.to_path_buf(),
            line: line_of(text, "device"),
            param: Some("device".to_owned()),
            value: Some(config.device.to_string()),
            reason,
        }])
    })
}

/// The 1-based line that sets `param` (`name: value`, the name in any
/// case, as the parser reads it).
fn line_of(text: &str, param: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            l.split_once(':')
                .is_some_and(|(name, _)| name.trim().eq_ignore_ascii_case(param))
        })
        .map(|i| i + 1)
}

/// Reads `path` for its `stats_path` alone: the secret key is not decoded,
/// and a file without a valid one still names its socket.
pub fn load_stats_path(path: &Path) -> Result<Loaded<PathBuf>, LoadError> {
    load_with(path, Strictness::Warn, |path, text| {
        config::parse_stats_path_in(path, text, &vpnd_priv::instance_dirs::dirs())
    })
}

/// Reads `path` and hands its text to `parse`, first judging the file as
/// `strictness` says.
fn load_with<T>(
    path: &Path,
    strictness: Strictness,
    parse: impl FnOnce(&Path, &str) -> Result<T, ConfigErrors>,
) -> Result<Loaded<T>, LoadError> {
    let read_error = |source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(read_error)?;
    let meta = file.metadata().map_err(read_error)?;
    if meta.len() > MAX_CONFIG {
        return Err(read_error(std::io::Error::other(format!(
            "larger than {MAX_CONFIG} bytes: not a vpnd configuration"
        ))));
    }
    let problems = file_problems(path, &meta, rustix::process::geteuid().as_raw());
    let mut warnings = Vec::new();
    if !problems.is_empty() {
        match strictness {
            // Not even parsed: anyone might have written it.
            Strictness::Refuse => return Err(LoadError::Unsafe(problems)),
            Strictness::Warn => warnings = problems,
        }
    }
    // The file holds the secret key: its bytes are wiped once parsed.
    // Room for all of it at once: a grown buffer would leave copies of the
    // key behind, unwiped.
    let room = usize::try_from(meta.len()).map_or(0, |len| len + 1);
    let mut bytes = Zeroizing::new(Vec::with_capacity(room));
    file.read_to_end(&mut bytes).map_err(read_error)?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        read_error(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not UTF-8 text (byte {})", e.valid_up_to()),
        ))
    })?;
    let read = parse(path, text).map_err(LoadError::Invalid)?;
    Ok(Loaded { read, warnings })
}

/// What is wrong with the configuration file `path` (opened, `meta`) for
/// a vpnd running as `euid`: it must belong to root or `euid` (so that
/// `vpnd -n` run by a user checks that user's own file; the daemon runs as
/// root and so takes root's alone), be readable and writable by its owner
/// alone, and the directories above it must let nobody else replace it.
fn file_problems(path: &Path, meta: &Metadata, euid: u32) -> Vec<String> {
    let shown = path.display();
    let mut problems = Vec::new();
    if meta.uid() != 0 && meta.uid() != euid {
        let whose = if euid == 0 {
            "not root (chown root)".to_owned()
        } else {
            format!("neither root nor uid {euid}, who runs this")
        };
        problems.push(format!(
            "configuration file {shown}: owned by uid {}, {whose}",
            meta.uid()
        ));
    }
    if meta.mode() & 0o077 != 0 {
        problems.push(format!(
            "configuration file {shown}: mode {:04o}: readable or writable by group or others; it holds the secret key and must be readable by its owner alone (chmod 600)",
            meta.mode() & 0o7777
        ));
    }
    // The directories above (a relative path from the working directory
    // up); the file itself was judged by what was opened.
    let flaw = std::path::absolute(path)
        .map_err(|e| e.to_string())
        .and_then(|absolute| safe_path::resolve(&absolute, euid).map_err(|f| f.to_string()));
    if let Err(flaw) = flaw {
        problems.push(format!(
            "configuration file {shown}: {flaw}: others could replace the file"
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::line_of;

    #[test]
    fn the_device_line_is_found_as_the_parser_reads_it() {
        let text = "# device: commented\nrole: host\n  Device : tun3\n";
        assert_eq!(line_of(text, "device"), Some(3));
        assert_eq!(line_of("role: host\n", "device"), None);
    }
}
