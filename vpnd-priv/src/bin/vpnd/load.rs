//! Reading the configuration file, and what about the file itself is unsafe.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use vpnd_proto::config::{self, Config, ConfigError, ConfigErrors};
use zeroize::Zeroizing;

/// What was read from a configuration file: the whole [`Config`], or for
/// `vpnd -s` only its `stats_path`.
#[derive(Debug)]
pub struct Loaded<T> {
    /// The configuration, or the part of it asked for.
    pub read: T,
    /// Things to warn about (the file is readable by others, ...).
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
}

/// The largest configuration file read: a real one is a few hundred bytes.
const MAX_CONFIG: u64 = 64 * 1024;

/// Reads and parses `path`, and checks that this platform can make its
/// tun device.
pub fn load(path: &Path) -> Result<Loaded<Config>, LoadError> {
    load_with(path, |path, text| {
        let config = config::parse(path, text)?;
        check_device(path, text, &config)?;
        Ok(config)
    })
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
    load_with(path, config::parse_stats_path)
}

/// Reads `path` and hands its text to `parse`.
fn load_with<T>(
    path: &Path,
    parse: impl FnOnce(&Path, &str) -> Result<T, ConfigErrors>,
) -> Result<Loaded<T>, LoadError> {
    let read_error = |source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = fs::metadata(path).map_err(read_error)?;
    if meta.len() > MAX_CONFIG {
        return Err(read_error(std::io::Error::other(format!(
            "larger than {MAX_CONFIG} bytes: not a vpnd configuration"
        ))));
    }
    // The file holds the secret key: its bytes are wiped once parsed.
    let bytes = Zeroizing::new(fs::read(path).map_err(read_error)?);
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        read_error(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not UTF-8 text (byte {})", e.valid_up_to()),
        ))
    })?;
    let read = parse(path, text).map_err(LoadError::Invalid)?;
    let mut warnings = Vec::new();
    if meta.mode() & 0o077 != 0 {
        warnings.push(format!(
            "{}: mode {:04o}: the file holds the secret key and should be readable by its owner only (chmod 600)",
            path.display(),
            meta.mode() & 0o7777
        ));
    }
    Ok(Loaded { read, warnings })
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
