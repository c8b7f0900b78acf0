//! The nonce files: exactly 24 raw bytes, replaced atomically (a temporary
//! file beside it, fsync, rename, fsync of the directory), so a crash
//! leaves the old value or the new one, never a torn file (W9); and kept
//! where only root can change them, since root reads and writes them.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;

use crate::nonce_bounds;

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
    /// It holds a value at the top of the nonce space, where no counter
    /// ever gets: written by a network process that was not vpnd's.
    #[error("{}: holds {hex}, at the top of the nonce space: poisoned (vpnd(8), NONCE FILES, says how to reset it)", path.display())]
    AtTop {
        /// The file.
        path: PathBuf,
        /// Its value, as `vpnd -n` prints it.
        hex: String,
    },
    /// It, or a directory above it, is not root's alone: whoever else can
    /// change it chooses the nonces root trusts, or plants a link that
    /// root would write through.
    #[error("{}: owner uid {uid}, mode {mode:o}: {what}; nonce files and their directories must be root's and writable by root alone", path.display())]
    Unsafe {
        /// The file or directory.
        path: PathBuf,
        /// Its owner.
        uid: u32,
        /// Its permission bits (with set-id and sticky bits).
        mode: u32,
        /// What is wrong with it.
        what: &'static str,
    },
    /// Its directory does not exist: vpnd creates the file, not the
    /// directory, whose owner and mode are root's to choose.
    #[error("{}: cannot write: the directory {} does not exist (create it, root's and writable by root alone)", path.display(), dir.display())]
    NoDirectory {
        /// The file.
        path: PathBuf,
        /// The directory it would go into.
        dir: PathBuf,
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

/// An owner that may hold a nonce file: root, or whoever runs this
/// process (tests and `vpnd -n` run unprivileged; as root that is root).
fn trusted_owner(uid: u32) -> bool {
    uid == 0 || uid == rustix::process::geteuid().as_raw()
}

fn unsafe_because(path: &Path, meta: &Metadata, what: &'static str) -> NonceFileError {
    NonceFileError::Unsafe {
        path: path.to_path_buf(),
        uid: meta.uid(),
        mode: meta.mode() & 0o7777,
        what,
    }
}

/// The directory `path` is in, and every directory above it, can be
/// changed by root alone. The nonce file's own directory must be private:
/// writable by nobody else, sticky or not (anyone could create the
/// temporary file's name there first). Above it a sticky directory such
/// as `/tmp` is enough, since nobody else can rename or remove what root
/// owns in it. `Ok(false)`: the directory does not exist.
fn check_place(path: &Path) -> Result<bool, NonceFileError> {
    let dir = directory_of(path);
    let real = match fs::canonicalize(dir) {
        Ok(r) => r,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(NonceFileError::Read {
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    for (i, d) in real.ancestors().enumerate() {
        let meta = fs::metadata(d).map_err(|source| NonceFileError::Read {
            path: d.to_path_buf(),
            source,
        })?;
        if !meta.is_dir() {
            return Err(unsafe_because(d, &meta, "is not a directory"));
        }
        if !trusted_owner(meta.uid()) {
            return Err(unsafe_because(d, &meta, "a directory not owned by root"));
        }
        let sticky = meta.mode() & 0o1000 != 0;
        if meta.mode() & 0o022 != 0 && (i == 0 || !sticky) {
            return Err(unsafe_because(
                d,
                &meta,
                "a directory writable by group or others",
            ));
        }
    }
    Ok(true)
}

/// The directory `path` is in.
fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// [`check_place`] for a write: a missing directory is an error naming it.
fn check_place_to_write(path: &Path) -> Result<(), NonceFileError> {
    if check_place(path)? {
        Ok(())
    } else {
        Err(NonceFileError::NoDirectory {
            path: path.to_path_buf(),
            dir: directory_of(path).to_path_buf(),
        })
    }
}

/// The nonce file or its temporary file is a regular file that root
/// alone can write.
fn check_file(path: &Path, meta: &Metadata) -> Result<(), NonceFileError> {
    if meta.file_type().is_symlink() {
        return Err(unsafe_because(path, meta, "a symbolic link"));
    }
    if !meta.is_file() {
        return Err(unsafe_because(path, meta, "not a regular file"));
    }
    if !trusted_owner(meta.uid()) {
        return Err(unsafe_because(path, meta, "not owned by root"));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(unsafe_because(path, meta, "writable by group or others"));
    }
    Ok(())
}

/// Reads a nonce file: `Ok(None)` when it (or its directory) does not
/// exist (first start), an error when it exists but is not exactly 24
/// bytes, holds a value at the top of the nonce space, or is not root's
/// alone.
pub fn read(path: &Path) -> Result<Option<[u8; 24]>, NonceFileError> {
    let read_error = |source| NonceFileError::Read {
        path: path.to_path_buf(),
        source,
    };
    if !check_place(path)? {
        return Ok(None);
    }
    // Not following a link, and not waiting on a FIFO: whatever is there,
    // it is looked at before it is read.
    let mut file = match OpenOptions::new()
        .read(true)
        .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK).bits())
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        // O_NOFOLLOW fails on a link with ELOOP (Linux), EMLINK (FreeBSD)
        // or EFTYPE (NetBSD): look, rather than trust the number.
        Err(e) => {
            return Err(match fs::symlink_metadata(path) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    unsafe_because(path, &meta, "a symbolic link")
                }
                _ => read_error(e),
            });
        }
    };
    let meta = file.metadata().map_err(read_error)?;
    check_file(path, &meta)?;
    let len = meta.len();
    if len != 24 {
        return Err(NonceFileError::Length {
            path: path.to_path_buf(),
            len,
        });
    }
    let mut nonce = [0u8; 24];
    file.read_exact(&mut nonce).map_err(read_error)?;
    if nonce_bounds::at_top(&nonce) {
        return Err(NonceFileError::AtTop {
            path: path.to_path_buf(),
            hex: vpnd_crypto::Nonce::from_bytes(nonce).to_hex(),
        });
    }
    Ok(Some(nonce))
}

/// `<path>.tmp`, the temporary file a write goes through.
fn tmp_path(path: &Path) -> PathBuf {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    PathBuf::from(tmp)
}

/// Creates the temporary file exclusively, never through a link, mode
/// 0600. One left by a crash (a regular file of root's, in a directory
/// only root can write) is removed first; anything else in its place is
/// refused, named, and left alone.
fn create_tmp(tmp: &Path) -> Result<File, NonceFileError> {
    let write_error = |source| NonceFileError::Write {
        path: tmp.to_path_buf(),
        source,
    };
    let create = || {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(OFlag::O_NOFOLLOW.bits())
            .open(tmp)
    };
    match create() {
        Ok(f) => Ok(f),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            let meta = fs::symlink_metadata(tmp).map_err(write_error)?;
            check_file(tmp, &meta)?;
            fs::remove_file(tmp).map_err(write_error)?;
            create().map_err(write_error)
        }
        Err(e) => Err(write_error(e)),
    }
}

/// Replaces the file's content with `nonce`, atomically and durably,
/// after checking that the directories are root's alone (so that nobody
/// can swap the temporary file or the file for a link between the
/// checks and the rename, which replaces a link rather than following
/// it).
pub fn write(path: &Path, nonce: &[u8; 24]) -> Result<(), NonceFileError> {
    let write_error = |source| NonceFileError::Write {
        path: path.to_path_buf(),
        source,
    };
    check_place_to_write(path)?;
    let tmp = tmp_path(path);
    let mut f = create_tmp(&tmp)?;
    let result = (|| {
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

/// Checks, changing nothing, that the place of `path` can take it: its
/// directory exists, root alone can change it and every directory above
/// it (as [`read`] checks), and it is not on a read-only file system. What
/// `vpnd -n` can tell; the start goes on to write ([`check_writable`]).
/// Run by another user than root, a directory only root may write is not
/// refused: the start runs as root.
pub fn check_place_writable(path: &Path) -> Result<(), NonceFileError> {
    let dir = directory_of(path);
    let write_error = |source| NonceFileError::Write {
        path: path.to_path_buf(),
        source,
    };
    check_place_to_write(path)?;
    match rustix::fs::access(dir, rustix::fs::Access::WRITE_OK) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::ACCESS) if !rustix::process::geteuid().is_root() => Ok(()),
        Err(e) => Err(write_error(std::io::Error::new(
            std::io::Error::from(e).kind(),
            format!("directory {}: {e}", dir.display()),
        ))),
    }
}

/// Proves at start that `path` can be written, so that a nonce file in a
/// missing or read-only place is a start-up error, not an error logged at
/// every later write (after which a restart would begin from a stale
/// value): writes `current` back, or, without a file yet, creates and
/// removes the temporary file a write uses.
pub fn check_writable(path: &Path, current: Option<&[u8; 24]>) -> Result<(), NonceFileError> {
    check_place_writable(path)?;
    if let Some(nonce) = current {
        return write(path, nonce);
    }
    let write_error = |source| NonceFileError::Write {
        path: path.to_path_buf(),
        source,
    };
    let tmp = tmp_path(path);
    create_tmp(&tmp)?;
    fs::remove_file(&tmp).map_err(write_error)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn chmod(path: &Path, mode: u32) {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    fn running_as_root() -> bool {
        rustix::process::geteuid().is_root()
    }

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
    fn a_value_at_the_top_is_refused_as_poisoned() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("n");
        fs::write(&p, [0xff; 24]).unwrap();
        let e = read(&p).unwrap_err();
        assert!(matches!(e, NonceFileError::AtTop { .. }), "{e}");
        assert!(e.to_string().contains(&"ff".repeat(24)), "{e}");
        let mut below = [0xff; 24];
        below[23] = 0xfe;
        fs::write(&p, below).unwrap();
        assert_eq!(read(&p).unwrap(), Some(below));
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
        assert!(
            e.starts_with(
                "/nonexistent/dir/n: cannot write: the directory /nonexistent/dir does not exist"
            ),
            "{e}"
        );
    }

    #[test]
    fn a_link_planted_as_the_temporary_file_is_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let p = d.join("n");
        let elsewhere = d.join("elsewhere");
        fs::write(&elsewhere, b"keep").unwrap();
        std::os::unix::fs::symlink(&elsewhere, d.join("n.tmp")).unwrap();
        for e in [
            write(&p, &[7; 24]).unwrap_err(),
            check_writable(&p, None).unwrap_err(),
        ] {
            let text = e.to_string();
            assert!(matches!(e, NonceFileError::Unsafe { .. }), "{text}");
            assert!(text.contains("n.tmp: owner uid "), "{text}");
            assert!(text.contains("a symbolic link"), "{text}");
        }
        assert_eq!(fs::read(&elsewhere).unwrap(), b"keep");
        assert!(!p.exists());
        // Nor is one in the file's place read.
        fs::remove_file(d.join("n.tmp")).unwrap();
        fs::write(&elsewhere, [5; 24]).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &p).unwrap();
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("a symbolic link"), "{e}");
    }

    #[test]
    fn a_temporary_file_left_by_a_crash_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let p = d.join("n");
        fs::write(d.join("n.tmp"), b"torn").unwrap();
        write(&p, &[3; 24]).unwrap();
        assert_eq!(read(&p).unwrap(), Some([3; 24]));
        assert!(!d.join("n.tmp").exists());
    }

    #[test]
    fn a_directory_or_file_others_can_write_is_refused_by_name_owner_and_mode() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let p = d.join("n");
        write(&p, &[7; 24]).unwrap();
        let uid = rustix::process::geteuid().as_raw();
        // A nonce directory must be private: sticky is not enough.
        for mode in [0o770, 0o702, 0o1777] {
            chmod(d, mode);
            for e in [read(&p).unwrap_err(), write(&p, &[8; 24]).unwrap_err()] {
                let text = e.to_string();
                let named = format!(
                    "{}: owner uid {uid}, mode {mode:o}: a directory writable by group or others",
                    d.display()
                );
                assert!(text.starts_with(&named), "{text}");
            }
        }
        chmod(d, 0o700);
        assert_eq!(read(&p).unwrap(), Some([7; 24]));
        chmod(&p, 0o620);
        let e = read(&p).unwrap_err().to_string();
        let named = format!(
            "{}: owner uid {uid}, mode 620: writable by group or others",
            p.display()
        );
        assert!(e.starts_with(&named), "{e}");
        // A FIFO in the file's place is refused, not waited on.
        fs::remove_file(&p).unwrap();
        nix::unistd::mkfifo(&p, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
    }

    #[test]
    fn files_and_directories_of_another_user_are_refused() {
        if !running_as_root() {
            eprintln!("SKIPPED: chown needs root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let p = d.join("n");
        write(&p, &[7; 24]).unwrap();
        std::os::unix::fs::chown(&p, Some(65534), None).unwrap();
        let e = read(&p).unwrap_err().to_string();
        let named = format!(
            "{}: owner uid 65534, mode 600: not owned by root",
            p.display()
        );
        assert!(e.starts_with(&named), "{e}");
        std::os::unix::fs::chown(&p, Some(0), None).unwrap();
        std::os::unix::fs::chown(d, Some(65534), None).unwrap();
        for e in [read(&p).unwrap_err(), write(&p, &[8; 24]).unwrap_err()] {
            let text = e.to_string();
            assert!(text.contains("owner uid 65534, mode "), "{text}");
            assert!(text.contains(": a directory not owned by root"), "{text}");
        }
        assert_eq!(fs::read(&p).unwrap(), [7; 24]);
    }
}
