//! Reading the configuration file, and what about the file itself is unsafe.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use vpnd_proto::config::{self, Config, ConfigErrors};
use zeroize::Zeroizing;

/// A configuration read and parsed.
#[derive(Debug)]
pub struct Loaded {
    /// The configuration.
    pub config: Config,
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
        /// Why.
        source: std::io::Error,
    },
    /// The file has errors (every one of them).
    #[error("{0}")]
    Invalid(ConfigErrors),
}

/// The largest configuration file read: a real one is a few hundred bytes.
const MAX_CONFIG: u64 = 64 * 1024;

/// Reads and parses `path`.
pub fn load(path: &Path) -> Result<Loaded, LoadError> {
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
    let config = config::parse(path, text).map_err(LoadError::Invalid)?;
    let mut warnings = Vec::new();
    if meta.mode() & 0o077 != 0 {
        warnings.push(format!(
            "{}: mode {:04o}: the file holds the secret key and should be readable by its owner only (chmod 600)",
            path.display(),
            meta.mode() & 0o7777
        ));
    }
    Ok(Loaded { config, warnings })
}
