//! The key pair's text and the file it goes into.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use vpnd_crypto::KeyPair;
use zeroize::Zeroizing;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum KeygenError {
    /// NAME was empty.
    #[error("the name is empty")]
    EmptyName,
    /// The file exists or cannot be created.
    #[error("{}: cannot create: {source}", path.display())]
    Create {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Writing failed; the partial file was removed.
    #[error("{}: cannot write: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Standard output failed.
    #[error("standard output: {0}")]
    Stdout(std::io::Error),
}

/// The four lines of doc/protocol.md "vpnd-keygen" (the 1.1.7 format): the
/// first pair goes into the local vpnd.conf, the second into the peer's.
/// Wiped when dropped: it holds the secret key.
pub fn keypair_text(pair: &KeyPair) -> Zeroizing<String> {
    let secret = Zeroizing::new(pair.secret.expose_hex());
    Zeroizing::new(format!(
        "# Secret key: add to local vpnd.conf\nlocal_sk: {}\n\
         # Public key: add to peer's vpnd.conf\nremote_pk: {}\n",
        secret.as_str(),
        pair.public.to_hex()
    ))
}

/// Writes `text` to `NAME.keypair`, created with mode 0600 and never over
/// an existing file; synced before it counts as written. Returns the path.
pub fn write_new(name: &Path, text: &str) -> Result<PathBuf, KeygenError> {
    if name.as_os_str().is_empty() {
        return Err(KeygenError::EmptyName);
    }
    let mut path = name.as_os_str().to_owned();
    path.push(".keypair");
    let path = PathBuf::from(path);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|source| KeygenError::Create {
            path: path.clone(),
            source,
        })?;
    let written = file
        .write_all(text.as_bytes())
        .and_then(|()| file.sync_all());
    if let Err(source) = written {
        drop(file);
        let _ = std::fs::remove_file(&path);
        return Err(KeygenError::Write { path, source });
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vpnd_crypto::SecretKey;

    #[test]
    fn the_four_lines() {
        let pair = KeyPair::from_secret(SecretKey::from_bytes([0x11; 32]));
        let text = keypair_text(&pair);
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0], "# Secret key: add to local vpnd.conf");
        assert_eq!(lines[1], format!("local_sk: {}", "11".repeat(32)));
        assert_eq!(lines[2], "# Public key: add to peer's vpnd.conf");
        assert_eq!(lines[3], format!("remote_pk: {}", pair.public.to_hex()));
    }

    #[test]
    fn an_empty_name_is_refused() {
        assert!(matches!(
            write_new(Path::new(""), "x"),
            Err(KeygenError::EmptyName)
        ));
    }
}
