//! The nonce files: exactly 24 raw bytes, replaced atomically (a temporary
//! file beside it, fsync, rename, fsync of the directory), so a crash
//! leaves the old value or the new one, never a torn file (W9).

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Why a nonce file is unusable.
#[derive(Debug, thiserror::Error)]
pub enum NonceFileError {
    /// It could not be read (other than being absent).
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// It does not hold exactly 24 bytes: truncated or not a nonce file.
    #[error("{}: holds {len} bytes, not 24: truncated or corrupt (remove it only if the peer's static key changes too)", path.display())]
    Length {
        /// The file.
        path: PathBuf,
        /// Its length.
        len: u64,
    },
    /// It could not be written.
    #[error("{}: cannot write: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}

/// Reads a nonce file: `Ok(None)` when it does not exist (first start),
/// an error when it exists but is not exactly 24 bytes.
pub fn read(path: &Path) -> Result<Option<[u8; 24]>, NonceFileError> {
    let read_error = |source| NonceFileError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read_error(e)),
    };
    let len = file.metadata().map_err(read_error)?.len();
    if len != 24 {
        return Err(NonceFileError::Length {
            path: path.to_path_buf(),
            len,
        });
    }
    let mut nonce = [0u8; 24];
    file.read_exact(&mut nonce).map_err(read_error)?;
    Ok(Some(nonce))
}

/// Replaces the file's content with `nonce`, atomically and durably.
pub fn write(path: &Path, nonce: &[u8; 24]) -> Result<(), NonceFileError> {
    let write_error = |source| NonceFileError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(nonce)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(write_error)
}

/// Proves at start that `path` can be written, so that a nonce file in a
/// missing or read-only place is a start-up error, not an error logged at
/// every later write (after which a restart would begin from a stale
/// value): writes `current` back, or, without a file yet, creates and
/// removes the temporary file a write uses.
pub fn check_writable(path: &Path, current: Option<&[u8; 24]>) -> Result<(), NonceFileError> {
    if let Some(nonce) = current {
        return write(path, nonce);
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let result = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|_| fs::remove_file(&tmp));
    result.map_err(|source| NonceFileError::Write {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_written_read_back_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let p = d.join("local.nonce");
        assert!(read(&p).unwrap().is_none());
        write(&p, &[7; 24]).unwrap();
        assert_eq!(read(&p).unwrap(), Some([7; 24]));
        write(&p, &[8; 24]).unwrap();
        assert_eq!(read(&p).unwrap(), Some([8; 24]));
        assert!(!d.join("local.nonce.tmp").exists());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn truncated_and_oversized_files_are_errors_not_zero() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let p = d.join("n");
        for len in [0usize, 1, 23, 25, 100] {
            fs::write(&p, vec![1u8; len]).unwrap();
            let e = read(&p).unwrap_err().to_string();
            assert!(e.contains(&format!("holds {len} bytes, not 24")), "{e}");
            assert!(e.contains(p.to_str().unwrap()));
        }
    }

    #[test]
    fn writability_is_checked_without_changing_anything() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let p = d.join("n");
        check_writable(&p, None).unwrap();
        assert!(!p.exists(), "no file made");
        assert_eq!(fs::read_dir(d).unwrap().count(), 0, "no temporary left");
        write(&p, &[7; 24]).unwrap();
        check_writable(&p, Some(&[7; 24])).unwrap();
        assert_eq!(read(&p).unwrap(), Some([7; 24]));
        let e = check_writable(&d.join("missing/n"), None).unwrap_err();
        assert!(e.to_string().contains("missing/n: cannot write"), "{e}");
    }

    #[test]
    fn an_unwritable_place_is_named() {
        let e = write(Path::new("/nonexistent/dir/n"), &[0; 24])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/nonexistent/dir/n: cannot write: "), "{e}");
    }
}
