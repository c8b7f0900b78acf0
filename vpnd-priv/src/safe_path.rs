//! Whether anyone but root (or the file's rightful owner) could change
//! what a path names: the check OpenSSH's StrictModes makes (`safe_path()`
//! in its misc.c), applied to the configuration and to the programs root
//! runs.
//!
//! The path is followed one name at a time as the kernel follows it,
//! symbolic links included, and every directory a name is looked up in
//! must belong to root (or the permitted owner) and be writable by its
//! owner alone: whoever can write a directory can replace what is in it.
//! One exception keeps `/tmp` usable: a directory writable by others but
//! sticky, like `/tmp`, lets only an entry's owner and the directory's
//! owner rename or remove that entry (sticky(7)), so it is accepted when
//! both belong to root or the permitted owner.

use std::ffi::OsString;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

/// Symbolic links followed at most while resolving one path (Linux's
/// limit, `MAXSYMLINKS`).
const MAX_SYMLINKS: usize = 40;

/// The sticky bit: entries can be renamed or removed only by their owner.
const STICKY: u32 = 0o1000;

/// Write permission for group or others.
const GROUP_OR_OTHERS_WRITE: u32 = 0o022;

/// Why a path cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathFlaw {
    /// A directory on the way can be written by group or others.
    #[error("directory {}: mode {mode:04o}: writable by group or others", path.display())]
    WritableDirectory {
        /// The directory.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A directory on the way belongs to someone else.
    #[error("directory {}: owned by uid {uid}, not root", path.display())]
    DirectoryOwner {
        /// The directory.
        path: PathBuf,
        /// Its owner.
        uid: u32,
    },
    /// In a sticky directory, an entry on the way belongs to someone
    /// else, who can replace it.
    #[error("{}: owned by uid {uid} in the sticky directory above it", path.display())]
    StickyEntryOwner {
        /// The entry.
        path: PathBuf,
        /// Its owner.
        uid: u32,
    },
    /// The file a program path names can be written by group or others.
    #[error("file {}: mode {mode:04o}: writable by group or others", path.display())]
    WritableFile {
        /// The file (where the symbolic links lead).
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file a program path names belongs to someone else.
    #[error("file {}: owned by uid {uid}, not root", path.display())]
    FileOwner {
        /// The file (where the symbolic links lead).
        path: PathBuf,
        /// Its owner.
        uid: u32,
    },
    /// Not an absolute path, or more symbolic links than [`MAX_SYMLINKS`].
    #[error("{}: {reason}", path.display())]
    Unresolvable {
        /// The path.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A name on the way could not be looked up.
    #[error("{}: {reason}", path.display())]
    Io {
        /// What was looked up.
        path: PathBuf,
        /// The kind of the operating system's error.
        kind: std::io::ErrorKind,
        /// The operating system's error, as it says it.
        reason: String,
    },
}

impl PathFlaw {
    /// True if a name on the way does not exist (the caller may have its
    /// own message for a missing file).
    pub fn is_missing(&self) -> bool {
        matches!(
            self,
            PathFlaw::Io {
                kind: std::io::ErrorKind::NotFound,
                ..
            }
        )
    }
}

/// Follows `path` as the kernel does, checking every directory a name is
/// looked up in: it must belong to root or to `owner` and be writable by
/// its owner alone, or be sticky with the entry looked up in it belonging
/// to root or `owner` as well. Returns where the path leads and the
/// metadata found there (not of a symbolic link). `owner` 0 permits root
/// alone.
pub fn resolve(path: &Path, owner: u32) -> Result<(PathBuf, Metadata), PathFlaw> {
    if !path.is_absolute() {
        return Err(PathFlaw::Unresolvable {
            path: path.to_owned(),
            reason: "not an absolute path",
        });
    }
    let io = |path: &Path, e: std::io::Error| PathFlaw::Io {
        path: path.to_owned(),
        kind: e.kind(),
        reason: e.to_string(),
    };
    // The names still to look up, the next one last.
    let mut names: Vec<OsString> = Vec::new();
    push_names(&mut names, path);
    let mut at = PathBuf::from("/");
    let mut found = std::fs::metadata(&at).map_err(|e| io(&at, e))?;
    let mut links = 0;
    while let Some(name) = names.pop() {
        if name == ".." {
            // `at` has no symbolic link in it: its parent is the real one.
            at.pop();
            found = std::fs::metadata(&at).map_err(|e| io(&at, e))?;
            continue;
        }
        if !found.is_dir() {
            return Err(io(&at, rustix::io::Errno::NOTDIR.into()));
        }
        let next = at.join(&name);
        let entry = match std::fs::symlink_metadata(&next) {
            Ok(entry) => entry,
            Err(e) => {
                // Nothing there (yet): whoever can write the directory,
                // sticky or not, could put something there.
                check_directory(&at, &found, None, owner)?;
                return Err(io(&next, e));
            }
        };
        check_directory(&at, &found, Some((&next, &entry)), owner)?;
        if entry.file_type().is_symlink() {
            links += 1;
            if links > MAX_SYMLINKS {
                return Err(PathFlaw::Unresolvable {
                    path: path.to_owned(),
                    reason: "too many symbolic links",
                });
            }
            let target = std::fs::read_link(&next).map_err(|e| io(&next, e))?;
            if target.is_absolute() {
                at = PathBuf::from("/");
                found = std::fs::metadata(&at).map_err(|e| io(&at, e))?;
            }
            push_names(&mut names, &target);
        } else {
            at = next;
            found = entry;
        }
    }
    Ok((at, found))
}

/// Puts `path`'s names on the stack so that its first is popped first.
fn push_names(names: &mut Vec<OsString>, path: &Path) {
    let mut own: Vec<OsString> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name.to_owned()),
            Component::ParentDir => Some(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect();
    own.reverse();
    names.extend(own);
}

/// The directory `dir` (metadata `meta`) lets nobody but root or `owner`
/// replace its entry `entry` (its path and metadata), or put one where
/// there is none.
fn check_directory(
    dir: &Path,
    meta: &Metadata,
    entry: Option<(&Path, &Metadata)>,
    owner: u32,
) -> Result<(), PathFlaw> {
    let permitted = |uid: u32| uid == 0 || uid == owner;
    if !permitted(meta.uid()) {
        return Err(PathFlaw::DirectoryOwner {
            path: dir.to_owned(),
            uid: meta.uid(),
        });
    }
    let mode = meta.mode();
    if mode & GROUP_OR_OTHERS_WRITE == 0 {
        return Ok(());
    }
    let writable = PathFlaw::WritableDirectory {
        path: dir.to_owned(),
        mode: mode & 0o7777,
    };
    match entry {
        Some((entry, entry_meta)) if mode & STICKY != 0 => {
            if permitted(entry_meta.uid()) {
                Ok(())
            } else {
                Err(PathFlaw::StickyEntryOwner {
                    path: entry.to_owned(),
                    uid: entry_meta.uid(),
                })
            }
        }
        _ => Err(writable),
    }
}

/// A program root runs: the path and every directory on it are root's
/// and writable by root alone ([`resolve`]), and so is the file it leads
/// to.
pub fn check_program(path: &Path) -> Result<(), PathFlaw> {
    let (real, meta) = resolve(path, 0)?;
    if meta.uid() != 0 {
        return Err(PathFlaw::FileOwner {
            path: real,
            uid: meta.uid(),
        });
    }
    if meta.mode() & GROUP_OR_OTHERS_WRITE != 0 {
        return Err(PathFlaw::WritableFile {
            path: real,
            mode: meta.mode() & 0o7777,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    /// A directory of mode 755 with an executable `prog` (mode 755) in a
    /// subdirectory `bin` (mode 755).
    fn scratch() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        chmod(dir.path(), 0o755);
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        chmod(&bin, 0o755);
        let prog = bin.join("prog");
        std::fs::write(&prog, "#!/bin/sh\n").unwrap();
        chmod(&prog, 0o755);
        (dir, prog)
    }

    /// Ownership is root's here only when the tests run as root.
    fn as_root() -> bool {
        if rustix::process::geteuid().is_root() {
            return true;
        }
        assert!(
            std::env::var_os("CI").is_none_or(|v| v != "true"),
            "the safe_path tests need root under CI"
        );
        eprintln!("SKIPPED: not root: the files made here are not root's");
        false
    }

    #[test]
    fn a_program_in_directories_only_root_writes_is_accepted() {
        if !as_root() {
            return;
        }
        let (_dir, prog) = scratch();
        assert_eq!(check_program(&prog), Ok(()));
        // /tmp is writable by all but sticky, and the scratch directory in
        // it is root's.
        assert_eq!(check_program(Path::new("/bin/sh")), Ok(()));
    }

    #[test]
    fn a_directory_writable_by_group_or_others_on_the_way_is_named() {
        if !as_root() {
            return;
        }
        let (dir, prog) = scratch();
        let bin = dir.path().join("bin");
        for mode in [0o775, 0o757] {
            chmod(&bin, mode);
            assert_eq!(
                check_program(&prog),
                Err(PathFlaw::WritableDirectory {
                    path: bin.clone(),
                    mode,
                })
            );
        }
        chmod(&bin, 0o755);
        chmod(dir.path(), 0o777);
        assert_eq!(
            check_program(&prog),
            Err(PathFlaw::WritableDirectory {
                path: dir.path().to_owned(),
                mode: 0o777,
            })
        );
        // Sticky, like /tmp, with root's entry in it: nobody else can
        // replace the entry.
        chmod(dir.path(), 0o1777);
        assert_eq!(check_program(&prog), Ok(()));
    }

    #[test]
    fn the_program_itself_must_be_roots_and_written_by_root_alone() {
        if !as_root() {
            return;
        }
        let (_dir, prog) = scratch();
        chmod(&prog, 0o775);
        assert_eq!(
            check_program(&prog),
            Err(PathFlaw::WritableFile {
                path: prog.clone(),
                mode: 0o775,
            })
        );
        chmod(&prog, 0o755);
        std::os::unix::fs::chown(&prog, Some(65534), None).unwrap();
        assert_eq!(
            check_program(&prog),
            Err(PathFlaw::FileOwner {
                path: prog.clone(),
                uid: 65534,
            })
        );
    }

    #[test]
    fn a_directory_or_sticky_entry_of_another_user_is_named() {
        if !as_root() {
            return;
        }
        let (dir, prog) = scratch();
        let bin = dir.path().join("bin");
        std::os::unix::fs::chown(&bin, Some(65534), None).unwrap();
        assert_eq!(
            check_program(&prog),
            Err(PathFlaw::DirectoryOwner {
                path: bin.clone(),
                uid: 65534,
            })
        );
        // In a sticky directory, another user's entry can be replaced by
        // them; the same entry is that user's own with that user
        // permitted.
        std::os::unix::fs::chown(&bin, Some(0), None).unwrap();
        chmod(dir.path(), 0o1777);
        std::os::unix::fs::chown(&bin, Some(65534), None).unwrap();
        assert!(matches!(
            check_program(&prog),
            Err(PathFlaw::StickyEntryOwner { uid: 65534, .. })
        ));
        assert!(resolve(&prog, 65534).is_ok());
    }

    #[test]
    fn symbolic_links_are_followed_and_where_they_lead_is_checked() {
        if !as_root() {
            return;
        }
        let (dir, prog) = scratch();
        // A link in a safe place to a program in an unsafe one.
        let open = dir.path().join("open");
        std::fs::create_dir(&open).unwrap();
        chmod(&open, 0o777);
        let elsewhere = open.join("prog");
        std::fs::copy(&prog, &elsewhere).unwrap();
        let link = dir.path().join("bin/link");
        std::os::unix::fs::symlink("../open/prog", &link).unwrap();
        assert_eq!(
            check_program(&link),
            Err(PathFlaw::WritableDirectory {
                path: open.clone(),
                mode: 0o777,
            })
        );
        // A link through a safe place leads to the real file, which is
        // checked.
        let good = dir.path().join("good");
        std::os::unix::fs::symlink(&prog, &good).unwrap();
        let (real, _) = resolve(&good, 0).unwrap();
        assert_eq!(real, prog);
        // A loop ends.
        let a = dir.path().join("loop-a");
        std::os::unix::fs::symlink(dir.path().join("loop-b"), &a).unwrap();
        std::os::unix::fs::symlink(&a, dir.path().join("loop-b")).unwrap();
        assert!(matches!(
            check_program(&a),
            Err(PathFlaw::Unresolvable {
                reason: "too many symbolic links",
                ..
            })
        ));
    }

    #[test]
    fn a_missing_program_is_unsafe_where_others_could_create_it() {
        if !as_root() {
            return;
        }
        let (dir, _prog) = scratch();
        let missing = dir.path().join("bin/missing");
        assert!(check_program(&missing).unwrap_err().is_missing());
        // Sticky or not, a directory others can write lets them create it.
        for mode in [0o777, 0o1777] {
            chmod(&dir.path().join("bin"), mode);
            assert_eq!(
                check_program(&missing),
                Err(PathFlaw::WritableDirectory {
                    path: dir.path().join("bin"),
                    mode,
                })
            );
        }
    }

    #[test]
    fn a_missing_or_relative_path_is_reported_as_such() {
        let missing = check_program(Path::new("/nonexistent/vpnd-test/prog")).unwrap_err();
        assert!(missing.is_missing(), "{missing}");
        assert!(matches!(
            check_program(Path::new("bin/prog")),
            Err(PathFlaw::Unresolvable { .. })
        ));
    }
}
