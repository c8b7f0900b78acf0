//! Instances: the configuration file's name names the instance
//! (`/etc/vpnd/alice.conf` is `alice`), and a named instance's device,
//! pid file, statistics socket and nonce files follow from its name
//! unless the file sets them, so that many run side by side without a
//! path made unique by hand. The file `vpnd.conf` is the default instance,
//! whose files keep their historical places.

use std::path::{Path, PathBuf};

use super::defaults;
use crate::net::IfName;
use crate::text::text_value;

text_value! {
    /// An instance's name: what `vpnd@NAME`, file names, the device and a
    /// Graphite path component all take.
    InstanceName,
    /// Why a file's name is no instance name.
    InstanceNameError,
    max: 32,
    bytes: |b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'),
    whole: |s| !s.starts_with('-'),
    too_long: "an instance name is 1 to 32 characters",
    not_allowed: "an instance name has only letters, digits, '-' and '_', and does not start with '-'",
}

/// The directories of named instances: runtime files (pid file,
/// statistics socket) and state (nonce files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceDirs {
    /// Pid files and statistics sockets.
    pub runtime: PathBuf,
    /// Nonce files.
    pub state: PathBuf,
}

impl InstanceDirs {
    /// This platform's ([`defaults::RUNTIME_DIR`],
    /// [`defaults::STATE_DIR`]).
    pub fn platform() -> InstanceDirs {
        InstanceDirs {
            runtime: PathBuf::from(defaults::RUNTIME_DIR),
            state: PathBuf::from(defaults::STATE_DIR),
        }
    }
}

/// The instance `path` configures: `None` for a file called `vpnd.conf`
/// (the default instance), else the file's name without `.conf`; an
/// error says why that is no instance name.
pub fn instance_of(path: &Path) -> Result<Option<InstanceName>, String> {
    let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
        return Err("the path names no file, so no instance".to_owned());
    };
    let stem = file.strip_suffix(".conf").unwrap_or(file);
    if stem == defaults::DEFAULT_INSTANCE {
        return Ok(None);
    }
    stem.parse()
        .map(Some)
        .map_err(|e| format!("the file name {file:?} gives no instance name ({e})"))
}

/// What a named instance's unset parameters become.
#[derive(Debug, Clone, Copy)]
pub struct Derived<'a> {
    /// The instance.
    pub name: &'a InstanceName,
    /// Where its files go.
    pub dirs: &'a InstanceDirs,
}

impl Derived<'_> {
    /// `device`: `vpnd-NAME` where the platform renames tun devices.
    pub fn device(&self) -> Result<IfName, String> {
        device_name(self.name, defaults::INSTANCE_DEVICE_PREFIX)
    }

    /// `pid_file`: `RUNTIME/NAME.pid`.
    pub fn pid_file(&self) -> PathBuf {
        self.dirs.runtime.join(format!("{}.pid", self.name))
    }

    /// `stats_path`: `RUNTIME/NAME_stats.sock`.
    pub fn stats_path(&self) -> PathBuf {
        self.dirs.runtime.join(format!("{}_stats.sock", self.name))
    }

    /// `local_nonce_file`: `STATE/local_NAME.nonce`.
    pub fn local_nonce_file(&self) -> PathBuf {
        self.dirs.state.join(format!("local_{}.nonce", self.name))
    }

    /// `remote_nonce_file`: `STATE/remote_NAME.nonce`.
    pub fn remote_nonce_file(&self) -> PathBuf {
        self.dirs.state.join(format!("remote_{}.nonce", self.name))
    }
}

/// `PREFIX` + `name` as a device name, or why there is none: no prefix
/// (the platform cannot rename a tun), or a name too long for one.
pub fn device_name(name: &InstanceName, prefix: Option<&str>) -> Result<IfName, String> {
    let Some(prefix) = prefix else {
        return Err(
            "unset, and tun devices here are tun0, tun1, ... and cannot be renamed: a named instance sets its device"
                .to_owned(),
        );
    };
    let device = format!("{prefix}{name}");
    device.parse().map_err(|_| {
        format!(
            "unset, and {device} (from the instance name {name}) is longer than {} characters: set device, or shorten the file's name to {} characters",
            IfName::MAX_LEN,
            IfName::MAX_LEN.saturating_sub(prefix.len())
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> InstanceName {
        s.parse().unwrap()
    }

    #[test]
    fn the_file_name_names_the_instance() {
        let of = |p: &str| instance_of(Path::new(p)).map(|n| n.map(|n| n.to_string()));
        assert_eq!(of("/etc/vpnd/alice.conf"), Ok(Some("alice".into())));
        assert_eq!(
            of("/etc/vpnd/laptop-07_b.conf"),
            Ok(Some("laptop-07_b".into()))
        );
        assert_eq!(of("relative/bob"), Ok(Some("bob".into())));
        assert_eq!(of("/etc/vpnd.conf"), Ok(None));
        assert_eq!(of("/usr/local/etc/vpnd.conf"), Ok(None));
        for bad in [
            "/etc/a.b.conf",
            "/etc/-x.conf",
            "/etc/.conf",
            "/",
            "/etc/a b.conf",
        ] {
            let e = of(bad).unwrap_err();
            assert!(e.contains("no instance"), "{bad}: {e}");
        }
        assert!(of(&format!("/etc/{}.conf", "a".repeat(33))).is_err());
    }

    #[test]
    fn a_named_instance_derives_its_files() {
        let dirs = InstanceDirs {
            runtime: "/run/vpnd".into(),
            state: "/var/lib/vpnd".into(),
        };
        let alice = name("alice");
        let d = Derived {
            name: &alice,
            dirs: &dirs,
        };
        assert_eq!(d.pid_file(), Path::new("/run/vpnd/alice.pid"));
        assert_eq!(d.stats_path(), Path::new("/run/vpnd/alice_stats.sock"));
        assert_eq!(
            d.local_nonce_file(),
            Path::new("/var/lib/vpnd/local_alice.nonce")
        );
        assert_eq!(
            d.remote_nonce_file(),
            Path::new("/var/lib/vpnd/remote_alice.nonce")
        );
    }

    #[test]
    fn the_device_fits_the_interface_name_limit_or_is_an_error() {
        let prefix = Some("vpnd-");
        assert_eq!(
            device_name(&name("alice"), prefix).unwrap().as_str(),
            "vpnd-alice"
        );
        assert_eq!(
            device_name(&name("laptop-042"), prefix).unwrap().as_str(),
            "vpnd-laptop-042"
        );
        let e = device_name(&name("laptop-0042"), prefix).unwrap_err();
        assert!(
            e.contains("vpnd-laptop-0042") && e.contains("10 characters"),
            "{e}"
        );
        // NetBSD: no rename, so no derived device.
        let e = device_name(&name("alice"), None).unwrap_err();
        assert!(e.contains("tun0, tun1"), "{e}");
    }
}
