//! `vpnd -n`'s look at the other instances: the other `*.conf` files in
//! the configuration's directory (`/etc/vpnd/` for `vpnd@NAME`) are the
//! instances that run beside this one, and none of them may take this
//! one's device, UDP port, pid file, statistics socket or nonce files.

use std::path::{Path, PathBuf};

use vpnd_proto::config::Config;

/// What an instance takes for itself alone.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Claim {
    /// A tun device.
    Device(String),
    /// A UDP port (bound on every address).
    Port(u16),
    /// A file it writes: pid file, statistics socket, nonce files.
    File(PathBuf),
}

/// Each of `config`'s claims with the parameter that makes it.
fn claims(config: &Config) -> [(&'static str, Claim); 6] {
    [
        ("device", Claim::Device(config.device.to_string())),
        ("local_port", Claim::Port(config.local_port)),
        ("pid_file", Claim::File(config.pid_file.clone())),
        ("stats_path", Claim::File(config.stats_path.clone())),
        (
            "local_nonce_file",
            Claim::File(config.local_nonce_file.clone()),
        ),
        (
            "remote_nonce_file",
            Claim::File(config.remote_nonce_file.clone()),
        ),
    ]
}

impl std::fmt::Display for Claim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Claim::Device(d) => f.write_str(d),
            Claim::Port(p) => write!(f, "{p}"),
            Claim::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// Every claim of `config` (read from `path`) that one of `others` makes
/// too, as "PATH: PARAMETER VALUE: also PARAMETER of OTHER".
pub fn collisions(path: &Path, config: &Config, others: &[(PathBuf, Config)]) -> Vec<String> {
    let mut found = Vec::new();
    for (param, claim) in claims(config) {
        for (other_path, other) in others {
            for (other_param, other_claim) in claims(other) {
                if claim == other_claim {
                    found.push(format!(
                        "{}: {param} {claim}: also {other_param} of {}; two instances cannot share it",
                        path.display(),
                        other_path.display()
                    ));
                }
            }
        }
    }
    found
}

/// The other instances beside the named instance `path`: every other
/// `*.conf` in its directory that loads as a configuration (one that does
/// not is its own `vpnd -n`'s to report). Nothing for the default
/// instance, `vpnd.conf`, whose directory (`/etc`) holds other programs'
/// files.
pub fn neighbours(path: &Path, config: &Config) -> Vec<(PathBuf, Config)> {
    if config.instance.is_none() {
        return Vec::new();
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let own = std::fs::canonicalize(path).ok();
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .filter(|p| std::fs::canonicalize(p).ok() != own)
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| {
            let loaded = crate::load::load(&p).ok()?;
            Some((p, loaded.read))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(name: &str, extra: &str) -> (PathBuf, Config) {
        let path = PathBuf::from(format!("/etc/vpnd/{name}.conf"));
        let text = format!(
            "role: host-gw\nlocal_sk: {}\nremote_pk: {}\nlocal_network: 198.19.1.0/24\n\
             host_addr: 198.19.3.2/24\n{extra}",
            "11".repeat(32),
            "22".repeat(32)
        );
        let c = vpnd_proto::config::parse(&path, &text).unwrap();
        (path, c)
    }

    #[test]
    fn instances_that_differ_in_name_and_port_do_not_collide() {
        let (a, alice) = config("alice", "local_port: 4711\n");
        let others = [config("bob", "local_port: 4712\n")];
        assert_eq!(collisions(&a, &alice, &others), Vec::<String>::new());
    }

    #[test]
    fn a_shared_port_device_or_file_names_both_files() {
        let (a, alice) = config("alice", "local_port: 4711\n");
        let remote = alice.remote_nonce_file.display().to_string();
        let bob = config(
            "bob",
            &format!("local_port: 4711\ndevice: vpnd-alice\nlocal_nonce_file: {remote}\n"),
        );
        let found = collisions(&a, &alice, &[bob]);
        assert_eq!(
            found,
            [
                "/etc/vpnd/alice.conf: device vpnd-alice: also device of /etc/vpnd/bob.conf; two instances cannot share it".to_owned(),
                "/etc/vpnd/alice.conf: local_port 4711: also local_port of /etc/vpnd/bob.conf; two instances cannot share it".to_owned(),
                format!("/etc/vpnd/alice.conf: remote_nonce_file {remote}: also local_nonce_file of /etc/vpnd/bob.conf; two instances cannot share it"),
            ]
        );
    }
}
