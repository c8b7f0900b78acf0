//! Forwarding is one switch per family for the whole network namespace,
//! shared by every vpnd running in it (one `vpnd@` instance per peer or
//! per roaming client). A small record in the runtime directory makes the
//! first instance that needs a family save the value it found, and the
//! last one that lets go write it back, so that a session ending under one
//! instance never switches forwarding off under the others.
//!
//! Per network namespace and family the directory holds one file. Every
//! instance using the family holds a shared `flock` on it for as long as
//! it does: the kernel drops the lock when the instance dies, even by
//! `kill -9`, so "is anybody else still using it" is a non-blocking
//! exclusive lock on a fresh descriptor, and a dead instance needs no
//! pruning. The file's text is the value to restore. A second file, locked
//! exclusively, serialises the instances' look-and-change.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::{FlockOperation, flock};

use crate::netconf::Family;

/// The record's directory in the runtime directory (vpnd-proto's
/// `defaults::RUNTIME_DIR`), beside the named instances' pid files.
pub const RECORD_DIR_NAME: &str = "forwarding";
/// The value a forwarding sysctl holds while forwarding is on.
pub const ON: &str = "1";
/// What is restored when the record holds no usable value: off, the
/// value that forwards nothing.
const OFF: &str = "0";
/// The longest a record's value can be: a sysctl's small integer.
const VALUE_MAX: usize = 8;
/// How long an instance waits for another's look-and-change (which runs
/// at most one sysctl command, itself limited to 10 s).
const LOCK_WAIT: Duration = Duration::from_secs(15);
/// How often the lock is tried while waiting.
const LOCK_RETRY: Duration = Duration::from_millis(10);

/// Why the record could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("forwarding record {}: {reason}", path.display())]
pub struct RecordError {
    /// The file or directory.
    pub path: PathBuf,
    /// What went wrong.
    pub reason: String,
}

/// What an instance does when it starts using a family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnHold {
    /// Others use it already: their record stands.
    Join,
    /// Nobody else uses it: record this as the value to restore.
    First(String),
}

/// What an instance does when it stops using a family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnRelease {
    /// Others still use it: leave forwarding on.
    Keep,
    /// It was the last: write this value back.
    Restore(String),
}

/// The decision when an instance starts using a family: `others` says
/// whether a live instance holds it, `record` is the file's value,
/// `current` the sysctl's. A record nobody holds was left by instances
/// that died; it stands while forwarding is still on as they left it, and
/// is stale once someone has changed the switch since.
pub fn on_hold(others: bool, record: Option<&str>, current: &str) -> OnHold {
    match (others, record.and_then(valid)) {
        (true, _) => OnHold::Join,
        (false, Some(saved)) if current == ON => OnHold::First(saved.to_owned()),
        (false, _) => OnHold::First(valid(current).unwrap_or(OFF).to_owned()),
    }
}

/// The decision when an instance stops using a family.
pub fn on_release(others: bool, record: Option<&str>) -> OnRelease {
    if others {
        OnRelease::Keep
    } else {
        OnRelease::Restore(record.and_then(valid).unwrap_or(OFF).to_owned())
    }
}

/// `value` if it can be a forwarding sysctl's value: a short number.
fn valid(value: &str) -> Option<&str> {
    let v = value.trim();
    (!v.is_empty() && v.len() <= VALUE_MAX && v.bytes().all(|b| b.is_ascii_digit())).then_some(v)
}

/// One instance's side of the record: where it is, and the families this
/// instance holds (each a descriptor with the shared lock on).
#[derive(Debug)]
pub struct SharedForwarding {
    dir: PathBuf,
    held: Vec<(Family, File)>,
}

impl SharedForwarding {
    /// The record in `dir` (created when first needed).
    pub fn new(dir: PathBuf) -> SharedForwarding {
        SharedForwarding {
            dir,
            held: Vec::new(),
        }
    }

    /// Starts using `family`: under the lock, joins the instances using it
    /// or, first, records `current()` as the value to restore; then runs
    /// `switch_on`. If that fails, lets go again as [`release`] does.
    ///
    /// [`release`]: SharedForwarding::release
    pub fn hold<E: From<RecordError>>(
        &mut self,
        family: Family,
        current: impl FnOnce() -> Result<String, E>,
        switch_on: impl FnOnce() -> Result<(), E>,
        restore: impl FnOnce(&str) -> Result<(), E>,
    ) -> Result<(), E> {
        let lock = Lock::take(&self.dir)?;
        let path = lock.record(family);
        let mut file = open(&path)?;
        let others = !try_exclusive(&file, &path)?;
        let found = read(&mut file, &path)?;
        let record = match on_hold(others, found.as_deref(), &current()?) {
            OnHold::First(original) => {
                write(&mut file, &path, &original)?;
                original
            }
            OnHold::Join => found.unwrap_or_default(),
        };
        flock(&file, FlockOperation::NonBlockingLockShared).map_err(|e| error(&path, e))?;
        match switch_on() {
            Ok(()) => {
                self.held.push((family, file));
                Ok(())
            }
            Err(e) => {
                unlock(file);
                let _ = last_one_restores(&path, &record, restore);
                lock.release();
                Err(e)
            }
        }
    }

    /// Stops using `family`: if no other live instance uses it, runs
    /// `restore` with the recorded value and removes the record.
    pub fn release<E: From<RecordError>>(
        &mut self,
        family: Family,
        restore: impl FnOnce(&str) -> Result<(), E>,
    ) -> Result<(), E> {
        let Some(at) = self.held.iter().position(|(f, _)| *f == family) else {
            return Ok(());
        };
        let (_, mut file) = self.held.swap_remove(at);
        let lock = Lock::take(&self.dir)?;
        let path = lock.record(family);
        let record = read(&mut file, &path)?.unwrap_or_default();
        unlock(file);
        let restored = last_one_restores(&path, &record, restore);
        lock.release();
        restored
    }
}

/// The exclusive lock that serialises the instances' look-and-change in
/// one network namespace, and the namespace's name in the directory.
struct Lock {
    file: File,
    /// The directory and the namespace's name: the files' path without
    /// their extension.
    prefix: PathBuf,
}

impl Lock {
    /// Takes the lock, waiting up to [`LOCK_WAIT`]. The last instance
    /// removes the lock file, so a lock taken on a file that is no longer
    /// the one at the path is let go and taken again.
    fn take(dir: &Path) -> Result<Lock, RecordError> {
        let prefix = checked_dir(dir)?.join(namespace()?);
        let path = prefix.with_extension("lock");
        let started = Instant::now();
        loop {
            let file = open(&path)?;
            if try_exclusive(&file, &path)? {
                let held = file.metadata().map_err(|e| error(&path, e))?;
                match std::fs::symlink_metadata(&path) {
                    Ok(now) if now.ino() == held.ino() && now.dev() == held.dev() => {
                        return Ok(Lock { file, prefix });
                    }
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(error(&path, e)),
                }
            }
            if started.elapsed() > LOCK_WAIT {
                return Err(error(&path, "held by another vpnd for too long"));
            }
            std::thread::sleep(LOCK_RETRY);
        }
    }

    /// The record of `family`.
    fn record(&self, family: Family) -> PathBuf {
        self.prefix.with_extension(match family {
            Family::V4 => "ipv4",
            Family::V6 => "ipv6",
        })
    }

    /// Lets go; with no record left, after removing the lock file, so that
    /// nothing stays behind once no instance forwards.
    fn release(self) {
        let unused = [Family::V4, Family::V6]
            .iter()
            .all(|f| std::fs::symlink_metadata(self.record(*f)).is_err());
        if unused {
            let _ = std::fs::remove_file(self.prefix.with_extension("lock"));
        }
        unlock(self.file);
    }
}

/// `dir`, created if missing (mode 700), once it is a directory that only
/// this user can change.
fn checked_dir(dir: &Path) -> Result<&Path, RecordError> {
    crate::instance_dirs::checked_dir(dir, 0o700).map_err(|reason| error(dir, reason))?;
    Ok(dir)
}

/// With this instance's lock gone: if nobody else holds `path`, restores
/// `record` and removes the file (kept if restoring fails, so that the
/// next instance still knows the value).
fn last_one_restores<E: From<RecordError>>(
    path: &Path,
    record: &str,
    restore: impl FnOnce(&str) -> Result<(), E>,
) -> Result<(), E> {
    let probe = open(path)?;
    let others = !try_exclusive(&probe, path)?;
    let done = match on_release(others, Some(record)) {
        OnRelease::Keep => {
            log::info!(
                "{}: forwarding left on for the other vpnd instances using it",
                path.display()
            );
            Ok(())
        }
        OnRelease::Restore(value) => restore(&value)
            .and_then(|()| std::fs::remove_file(path).map_err(|e| error(path, e).into())),
    };
    unlock(probe);
    done
}

/// The network namespace the sysctls belong to: on Linux each namespace
/// has its own forwarding switches, so instances in different namespaces
/// share nothing (its inode names it while any process is in it).
#[cfg(target_os = "linux")]
fn namespace() -> Result<String, RecordError> {
    let ns = Path::new("/proc/self/ns/net");
    let meta = std::fs::metadata(ns).map_err(|e| error(ns, e))?;
    Ok(format!("net-{}", meta.ino()))
}

/// The system: the BSDs' switches are the host's (a jail with its own
/// network stack has its own `/var/run` too).
#[cfg(not(target_os = "linux"))]
fn namespace() -> Result<String, RecordError> {
    Ok("host".to_owned())
}

fn open(path: &Path) -> Result<File, RecordError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| error(path, e))
}

/// Lets go of `file`'s lock explicitly: closing alone would leave it held
/// while a process forked meanwhile (for a command, before its exec)
/// still has the descriptor.
fn unlock(file: File) {
    let _ = flock(&file, FlockOperation::Unlock);
}

/// True if the exclusive lock was taken; false if someone holds a lock.
fn try_exclusive(file: &File, path: &Path) -> Result<bool, RecordError> {
    match flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(false),
        Err(e) => Err(error(path, e)),
    }
}

/// The record's value; `None` when it holds none.
fn read(file: &mut File, path: &Path) -> Result<Option<String>, RecordError> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).map_err(|e| error(path, e))?;
    file.take(VALUE_MAX as u64 + 2)
        .read_to_string(&mut text)
        .map_err(|e| error(path, e))?;
    Ok((!text.is_empty()).then_some(text))
}

fn write(file: &mut File, path: &Path, value: &str) -> Result<(), RecordError> {
    file.set_len(0).map_err(|e| error(path, e))?;
    file.seek(SeekFrom::Start(0)).map_err(|e| error(path, e))?;
    file.write_all(format!("{value}\n").as_bytes())
        .map_err(|e| error(path, e))?;
    file.sync_data().map_err(|e| error(path, e))
}

fn error(path: &Path, reason: impl ToString) -> RecordError {
    RecordError {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_instance_saves_what_it_found_the_others_join() {
        assert_eq!(on_hold(false, None, "0"), OnHold::First("0".into()));
        assert_eq!(on_hold(false, None, "1\n"), OnHold::First("1".into()));
        assert_eq!(on_hold(true, Some("0\n"), "1"), OnHold::Join);
        assert_eq!(on_hold(true, None, "1"), OnHold::Join);
    }

    #[test]
    fn a_record_left_by_killed_instances_stands_while_forwarding_is_on() {
        assert_eq!(on_hold(false, Some("0\n"), "1"), OnHold::First("0".into()));
        // Switched off since: the record is stale.
        assert_eq!(on_hold(false, Some("1\n"), "0"), OnHold::First("0".into()));
        // Unreadable: what the switch says now.
        assert_eq!(on_hold(false, Some("x"), "1"), OnHold::First("1".into()));
        assert_eq!(on_hold(false, None, "bogus"), OnHold::First("0".into()));
    }

    #[test]
    fn only_the_last_instance_restores() {
        assert_eq!(on_release(true, Some("0\n")), OnRelease::Keep);
        assert_eq!(
            on_release(false, Some("0\n")),
            OnRelease::Restore("0".into())
        );
        assert_eq!(on_release(false, Some("1")), OnRelease::Restore("1".into()));
        assert_eq!(
            on_release(false, Some("999999999")),
            OnRelease::Restore("0".into())
        );
        assert_eq!(on_release(false, None), OnRelease::Restore("0".into()));
    }

    /// A fake switch shared by the "instances" of a test.
    struct Switch(std::cell::RefCell<String>);

    impl Switch {
        fn hold(&self, r: &mut SharedForwarding) {
            r.hold::<RecordError>(
                Family::V4,
                || Ok(self.0.borrow().clone()),
                || {
                    *self.0.borrow_mut() = ON.into();
                    Ok(())
                },
                |_| panic!("nothing to restore"),
            )
            .unwrap();
        }

        fn release(&self, r: &mut SharedForwarding) {
            r.release::<RecordError>(Family::V4, |v| {
                *self.0.borrow_mut() = v.into();
                Ok(())
            })
            .unwrap();
        }

        fn get(&self) -> String {
            self.0.borrow().clone()
        }
    }

    #[test]
    fn instances_share_the_switch_and_a_dead_one_holds_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let record = dir.path().join("fwd");
        let sw = Switch(std::cell::RefCell::new("0".into()));
        let (mut a, mut b, mut c) = (
            SharedForwarding::new(record.clone()),
            SharedForwarding::new(record.clone()),
            SharedForwarding::new(record.clone()),
        );
        sw.hold(&mut a);
        sw.hold(&mut b);
        sw.hold(&mut c);
        sw.release(&mut a);
        assert_eq!(
            sw.get(),
            ON,
            "the first to leave keeps it on for the others"
        );
        // b dies: its descriptor closes without a release.
        drop(b);
        assert_eq!(sw.get(), ON);
        sw.release(&mut c);
        assert_eq!(sw.get(), "0", "the last one restores what the first found");
        let left: Vec<_> = std::fs::read_dir(&record)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(left.is_empty(), "left behind: {left:?}");
        // Releasing what is not held does nothing.
        sw.release(&mut c);
    }

    #[test]
    fn a_record_left_by_dead_instances_is_used_by_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let record = dir.path().join("fwd");
        let sw = Switch(std::cell::RefCell::new("0".into()));
        let mut a = SharedForwarding::new(record.clone());
        sw.hold(&mut a);
        drop(a);
        // Forwarding stays on as the killed instance left it; the next
        // instance restores what the killed one found.
        let mut b = SharedForwarding::new(record.clone());
        sw.hold(&mut b);
        sw.release(&mut b);
        assert_eq!(sw.get(), "0");
    }

    #[test]
    fn a_link_in_the_directory_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        let record = dir.path().join("fwd");
        std::fs::create_dir(&record).unwrap();
        let lock = record.join(namespace().unwrap()).with_extension("lock");
        std::os::unix::fs::symlink(&target, &lock).unwrap();
        let sw = Switch(std::cell::RefCell::new("0".into()));
        let mut r = SharedForwarding::new(record);
        let e = r
            .hold::<RecordError>(Family::V4, || Ok(sw.get()), || Ok(()), |_| Ok(()))
            .unwrap_err();
        assert_eq!(e.path, lock, "{e}");
        assert!(!target.exists(), "followed the link");
    }

    #[test]
    fn a_directory_others_can_write_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let mut r = SharedForwarding::new(dir.path().to_path_buf());
        let sw = Switch(std::cell::RefCell::new("0".into()));
        let e = r
            .hold::<RecordError>(Family::V4, || Ok(sw.get()), || Ok(()), |_| Ok(()))
            .unwrap_err();
        assert!(e.to_string().contains("mode 777"), "{e}");
    }
}
