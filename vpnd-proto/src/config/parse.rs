//! The parser: `name: value` lines into a [`Config`] (or `stats_path`
//! alone), every error at once.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use vpnd_crypto::{PublicKey, SecretKey};

use super::instance::{Derived, InstanceDirs, InstanceName, instance_of};
use super::{
    Config, ConfigError, ConfigErrors, MinPushedPrefix, Remote, Role, RoleConfig, defaults,
};
use crate::net::{IfName, Prefix, ResolvDomain};

/// Every parameter, in the order the printer writes them (vpnd.conf(5)
/// documents each; a test holds the two together).
pub const PARAMS: [&str; 31] = [
    "role",
    "device",
    "stats_prefix",
    "local_sk",
    "local_port",
    "remote_pk",
    "remote_host",
    "remote_port",
    "remote_network",
    "local_network",
    "host_addr",
    "resolv_addr",
    "resolv_domain",
    "resolvconf_path",
    "min_pushed_prefix_v4",
    "min_pushed_prefix_v6",
    "ip_path",
    "up_script",
    "down_script",
    "up_script_required",
    "max_key_age",
    "max_key_packets",
    "local_nonce_file",
    "remote_nonce_file",
    "nonce_reset_incr",
    "user",
    "chroot_dir",
    "stats_path",
    "stats_group",
    "pid_file",
    "mtu",
];

/// The parameters that belong to some roles only.
const ROLE_ONLY: [(&str, &[Role]); 10] = [
    ("remote_host", &[Role::NetGw, Role::Host]),
    ("remote_port", &[Role::NetGw, Role::Host]),
    ("remote_network", &[Role::NetGw]),
    ("local_network", &[Role::HostGw]),
    ("host_addr", &[Role::HostGw]),
    ("resolv_addr", &[Role::HostGw]),
    ("resolv_domain", &[Role::HostGw]),
    ("resolvconf_path", &[Role::Host]),
    ("min_pushed_prefix_v4", &[Role::Host]),
    ("min_pushed_prefix_v6", &[Role::Host]),
];

/// Longest line accepted.
const MAX_LINE: usize = 1024;
/// Longest path accepted.
const MAX_PATH: usize = 1023;
/// `sun_path` holds 108 bytes with the NUL on Linux, 104 on the BSDs (the
/// `libc` crate's `sockaddr_un` for each; sys/sys/un.h).
pub const MAX_SOCKET_PATH: usize = if cfg!(target_os = "linux") { 107 } else { 103 };

/// Parses the text of a configuration file, a named instance's files in
/// this platform's directories. `path` names the file in errors and, by
/// its name, the instance ([`instance_of`]). Names are matched
/// case-insensitively (as the deployed peer does); unlike the deployed
/// peer, blanks and CR around values are removed, and anything unknown,
/// repeated or malformed is an error (W11).
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigErrors> {
    parse_in(path, text, &InstanceDirs::platform())
}

/// [`parse`], a named instance's files in `dirs`.
pub fn parse_in(path: &Path, text: &str, dirs: &InstanceDirs) -> Result<Config, ConfigErrors> {
    let mut p = Parser::scan(path, text, dirs);
    let config = p.build();
    p.finish(config)
}

/// `stats_path` alone (its default when unset), for asking a running vpnd
/// its status: every line is checked as [`parse`] checks it (`name:
/// value`, known names, none repeated or empty), but no other value is
/// read and no required parameter looked for, so the secret key is never
/// decoded and a file whose key is missing or malformed still names its
/// socket.
pub fn parse_stats_path(path: &Path, text: &str) -> Result<PathBuf, ConfigErrors> {
    parse_stats_path_in(path, text, &InstanceDirs::platform())
}

/// [`parse_stats_path`], a named instance's socket in `dirs`.
pub fn parse_stats_path_in(
    path: &Path,
    text: &str,
    dirs: &InstanceDirs,
) -> Result<PathBuf, ConfigErrors> {
    let mut p = Parser::scan(path, text, dirs);
    let stats_path = p.stats_path();
    p.finish(stats_path)
}

struct Entry<'a> {
    line: usize,
    value: &'a str,
}

struct Parser<'a> {
    path: &'a Path,
    entries: BTreeMap<&'static str, Entry<'a>>,
    errors: Vec<ConfigError>,
    /// The instance the file's name gives, or why it gives none.
    instance: Result<Option<InstanceName>, String>,
    /// Where a named instance's files go.
    dirs: &'a InstanceDirs,
    /// Unset parameters that would follow from an instance name the
    /// file's name does not give.
    unnamed: Vec<&'static str>,
}

impl<'a> Parser<'a> {
    /// Every line of `text` taken apart into `entries`, or an error.
    fn scan(path: &'a Path, text: &'a str, dirs: &'a InstanceDirs) -> Parser<'a> {
        let mut p = Parser {
            path,
            entries: BTreeMap::new(),
            errors: Vec::new(),
            instance: instance_of(path),
            dirs,
            unnamed: Vec::new(),
        };
        for (i, line) in text.split('\n').enumerate() {
            p.line(i + 1, line);
        }
        p
    }

    /// What was read, if nothing was wrong; else every error in line order.
    fn finish<T>(mut self, read: Option<T>) -> Result<T, ConfigErrors> {
        if let (Err(why), false) = (&self.instance, self.unnamed.is_empty()) {
            let reason = format!(
                "{why}: set {}, or name the file NAME.conf",
                self.unnamed.join(", ")
            );
            self.error(None, None, None, reason);
        }
        let mut errors = self.errors;
        errors.sort_by_key(|e| e.line.unwrap_or(usize::MAX));
        match read {
            Some(value) if errors.is_empty() => Ok(value),
            _ => Err(ConfigErrors(errors)),
        }
    }

    fn error(
        &mut self,
        line: Option<usize>,
        param: Option<&str>,
        value: Option<&str>,
        reason: String,
    ) {
        let value = value.map(|v| match param {
            Some("local_sk") => format!("<secret, {} characters>", v.chars().count()),
            _ => v.escape_debug().to_string(),
        });
        self.errors.push(ConfigError {
            path: self.path.to_path_buf(),
            line,
            param: param.map(str::to_owned),
            value,
            reason,
        });
    }

    fn line(&mut self, number: usize, raw: &'a str) {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            return;
        }
        if raw.len() > MAX_LINE {
            return self.error(
                Some(number),
                None,
                None,
                format!("line longer than {MAX_LINE} bytes"),
            );
        }
        if line.contains('\0') {
            return self.error(Some(number), None, None, "NUL byte in line".into());
        }
        let Some((name, value)) = line.split_once(':') else {
            return self.error(
                Some(number),
                None,
                Some(line),
                "expected 'name: value'".into(),
            );
        };
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim();
        let Some(&param) = PARAMS.iter().find(|&&p| p == name) else {
            return self.error(
                Some(number),
                Some(&name),
                Some(value),
                "unknown parameter".into(),
            );
        };
        if value.is_empty() {
            return self.error(Some(number), Some(param), None, "empty value".into());
        }
        if let Some(first) = self.entries.get(param) {
            let reason = format!("repeated (first set on line {})", first.line);
            return self.error(Some(number), Some(param), Some(value), reason);
        }
        self.entries.insert(
            param,
            Entry {
                line: number,
                value,
            },
        );
    }

    /// The parsed value of `param`, if set; records an error if malformed.
    fn get<T>(
        &mut self,
        param: &'static str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        let (line, value) = self.entries.get(param).map(|e| (e.line, e.value))?;
        match parse(value) {
            Ok(v) => Some(v),
            Err(reason) => {
                self.error(Some(line), Some(param), Some(value), reason);
                None
            }
        }
    }

    /// The value of `param`, or `default` when unset; `None` if malformed.
    fn or<T>(
        &mut self,
        param: &'static str,
        default: T,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        if self.entries.contains_key(param) {
            self.get(param, parse)
        } else {
            Some(default)
        }
    }

    /// The value of `param`, or when unset the default instance's
    /// `default`, or what `derive` makes of the instance's name (checked
    /// by `parse` as a value written in the file would be).
    fn or_instance<T>(
        &mut self,
        param: &'static str,
        default: T,
        derive: impl FnOnce(Derived<'_>) -> Result<String, String>,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        if self.entries.contains_key(param) {
            return self.get(param, parse);
        }
        let name = match &self.instance {
            Ok(None) => return Some(default),
            Ok(Some(name)) => name.clone(),
            Err(_) => {
                self.unnamed.push(param);
                return None;
            }
        };
        let derived = derive(Derived {
            name: &name,
            dirs: self.dirs,
        });
        let checked = derived.and_then(|v| {
            parse(&v).map_err(|e| format!("{v}: {e} (unset: from the instance name {name})"))
        });
        match checked {
            Ok(v) => Some(v),
            Err(reason) => {
                self.error(None, Some(param), None, reason);
                None
            }
        }
    }

    /// The value of a parameter `role` requires.
    fn required<T>(
        &mut self,
        param: &'static str,
        role: Role,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        if !self.entries.contains_key(param) {
            let reason = format!("required for role {}", role.as_str());
            self.error(None, Some(param), None, reason);
            return None;
        }
        self.get(param, parse)
    }

    fn build(&mut self) -> Option<Config> {
        // A malformed role still lets every other line be checked.
        let parsed_role = self.or("role", Role::NetGw, role);
        let role = parsed_role.unwrap_or(Role::NetGw);
        for (param, roles) in ROLE_ONLY.into_iter().filter(|_| parsed_role.is_some()) {
            if let Some(e) = self.entries.get(param)
                && !roles.contains(&role)
            {
                let only: Vec<_> = roles.iter().map(|r| r.as_str()).collect();
                let (line, value) = (e.line, e.value);
                let reason = format!("only for role {}, not {}", only.join(" or "), role.as_str());
                self.error(Some(line), Some(param), Some(value), reason);
            }
        }
        // Every getter runs, so that every error is reported.
        let role_config = parsed_role.and_then(|role| self.role_config(role));
        let local_sk = self.required("local_sk", role, |v| {
            SecretKey::from_hex(v).map_err(|e| e.to_string())
        });
        let remote_pk = self.required("remote_pk", role, |v| {
            PublicKey::from_hex(v).map_err(|e| e.to_string())
        });
        let device = self.or_instance(
            "device",
            IfName::from_str("tun0").ok()?,
            |d| d.device().map(|n| n.to_string()),
            text,
        );
        let stats_prefix = self.get("stats_prefix", text);
        if !self.entries.contains_key("stats_prefix") && self.instance.is_err() {
            self.unnamed.push("stats_prefix");
        }
        let local_port = self.or("local_port", 4706, port);
        let ip_path = self.or("ip_path", PathBuf::from(defaults::IP_PATH), path);
        let up_script = self.get("up_script", path);
        let down_script = self.get("down_script", path);
        let up_script_required = self.or("up_script_required", false, yes_no);
        let max_key_age = self.or("max_key_age", 60, |v| number(v, 30, 3600));
        let max_key_packets = self.or("max_key_packets", 100_000, |v| number(v, 5000, 10_000_000));
        let nonce_reset_incr = self.or("nonce_reset_incr", 10_000, |v| number(v, 16, 20_000));
        let local_nonce_file = self.or_instance(
            "local_nonce_file",
            defaults::LOCAL_NONCE_FILE.into(),
            |d| utf8(d.local_nonce_file()),
            path,
        );
        let remote_nonce_file = self.or_instance(
            "remote_nonce_file",
            defaults::REMOTE_NONCE_FILE.into(),
            |d| utf8(d.remote_nonce_file()),
            path,
        );
        let user = self.or("user", "_vpnd".parse().ok()?, text);
        let chroot_dir = self.or("chroot_dir", defaults::CHROOT_DIR.into(), path);
        let stats_path = self.stats_path();
        let stats_group = self.get("stats_group", text);
        let pid_file = self.or_instance(
            "pid_file",
            defaults::PID_FILE.into(),
            |d| utf8(d.pid_file()),
            path,
        );
        let mtu = self.get("mtu", |v| number(v, 576, 1500).map(|n| n as u16));
        let stats_prefix = match (self.entries.contains_key("stats_prefix"), stats_prefix) {
            (true, None) => return None,
            (_, prefix) => prefix,
        };
        let stats_group = match (self.entries.contains_key("stats_group"), stats_group) {
            (true, None) => return None,
            (_, group) => group,
        };
        let mtu = match (self.entries.contains_key("mtu"), mtu) {
            (true, None) => return None,
            (_, mtu) => mtu,
        };
        let up_script_required = up_script_required?;
        if up_script_required && !self.entries.contains_key("up_script") {
            let line = self.entries.get("up_script_required").map(|e| e.line);
            self.error(
                line,
                Some("up_script_required"),
                Some("yes"),
                "requires up_script".into(),
            );
            return None;
        }
        if (self.entries.contains_key("up_script") && up_script.is_none())
            || (self.entries.contains_key("down_script") && down_script.is_none())
        {
            return None;
        }
        Some(Config {
            role: role_config?,
            device: device?,
            stats_prefix,
            instance: self.instance.clone().ok().flatten(),
            local_sk: local_sk?,
            local_port: local_port?,
            remote_pk: remote_pk?,
            ip_path: ip_path?,
            max_key_age: max_key_age?,
            max_key_packets: max_key_packets?,
            nonce_reset_incr: nonce_reset_incr?,
            local_nonce_file: local_nonce_file?,
            remote_nonce_file: remote_nonce_file?,
            user: user?,
            chroot_dir: chroot_dir?,
            stats_path: stats_path?,
            stats_group,
            pid_file: pid_file?,
            mtu,
            up_script,
            down_script,
            up_script_required,
        })
    }

    fn stats_path(&mut self) -> Option<PathBuf> {
        self.or_instance(
            "stats_path",
            defaults::STATS_PATH.into(),
            |d| utf8(d.stats_path()),
            socket_path,
        )
    }

    fn role_config(&mut self, role: Role) -> Option<RoleConfig> {
        match role {
            Role::NetGw => {
                let remote = self.remote(role);
                let remote_network = self.get("remote_network", network);
                let has_network = self.entries.contains_key("remote_network");
                if has_network && remote_network.is_none() {
                    return None;
                }
                Some(RoleConfig::NetGw {
                    remote: remote?,
                    remote_network,
                })
            }
            Role::HostGw => {
                let local_network = self.required("local_network", role, network);
                let host_addr = self.required("host_addr", role, host_address);
                let resolv_addr = self.get("resolv_addr", unicast);
                let resolv_domain = self.get("resolv_domain", text::<ResolvDomain>);
                if (self.entries.contains_key("resolv_addr") && resolv_addr.is_none())
                    || (self.entries.contains_key("resolv_domain") && resolv_domain.is_none())
                {
                    return None;
                }
                Some(RoleConfig::HostGw {
                    local_network: local_network?,
                    host_addr: host_addr?,
                    resolv_addr,
                    resolv_domain,
                })
            }
            Role::Host => {
                let remote = self.remote(role);
                let resolvconf_path =
                    self.or("resolvconf_path", defaults::RESOLVCONF_PATH.into(), path);
                let v4 = self.or(
                    "min_pushed_prefix_v4",
                    defaults::MIN_PUSHED_PREFIX_V4,
                    |v| prefix_length(v, 32),
                );
                let v6 = self.or(
                    "min_pushed_prefix_v6",
                    defaults::MIN_PUSHED_PREFIX_V6,
                    |v| prefix_length(v, 128),
                );
                Some(RoleConfig::Host {
                    remote: remote?,
                    resolvconf_path: resolvconf_path?,
                    min_pushed_prefix: MinPushedPrefix { v4: v4?, v6: v6? },
                })
            }
        }
    }

    fn remote(&mut self, role: Role) -> Option<Remote> {
        let host = self.required("remote_host", role, text);
        let port = self.or("remote_port", 4706, port);
        Some(Remote {
            host: host?,
            port: port?,
        })
    }
}

fn text<T: FromStr>(v: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    v.parse().map_err(|e: T::Err| e.to_string())
}

/// A derived path as the text a file would hold.
fn utf8(p: PathBuf) -> Result<String, String> {
    p.into_os_string()
        .into_string()
        .map_err(|p| format!("{}: not UTF-8", p.to_string_lossy()))
}

fn role(v: &str) -> Result<Role, String> {
    match v {
        "net-gw" => Ok(Role::NetGw),
        "host-gw" => Ok(Role::HostGw),
        "host" => Ok(Role::Host),
        _ => Err("must be net-gw, host-gw or host".into()),
    }
}

/// A decimal number in `min..=max`: digits only, no sign, no blanks.
fn number(v: &str, min: u32, max: u32) -> Result<u32, String> {
    let range = || format!("must be a whole number from {min} to {max}");
    if v.is_empty() || v.len() > 10 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(range());
    }
    match v.parse::<u64>() {
        Ok(n) if (u64::from(min)..=u64::from(max)).contains(&n) => {
            u32::try_from(n).map_err(|_| range())
        }
        _ => Err(range()),
    }
}

/// A prefix length from 1 (a /0 is never pushed) to `max`.
fn prefix_length(v: &str, max: u8) -> Result<u8, String> {
    number(v, 1, u32::from(max)).map(|n| n as u8)
}

/// `yes` or `no`.
fn yes_no(v: &str) -> Result<bool, String> {
    match v {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err("must be yes or no".into()),
    }
}

fn port(v: &str) -> Result<u16, String> {
    number(v, 1, 65535).map(|n| n as u16)
}

fn path(v: &str) -> Result<PathBuf, String> {
    if !v.starts_with('/') {
        return Err("must be an absolute path".into());
    }
    if v.len() > MAX_PATH {
        return Err(format!("longer than {MAX_PATH} bytes"));
    }
    Ok(PathBuf::from(v))
}

fn socket_path(v: &str) -> Result<PathBuf, String> {
    if v.len() > MAX_SOCKET_PATH {
        return Err(format!(
            "a unix socket path is at most {MAX_SOCKET_PATH} bytes"
        ));
    }
    path(v)
}

/// A network: `ADDRESS/LENGTH` with no host bits, not a default route.
fn network(v: &str) -> Result<Prefix, String> {
    let p: Prefix = text(v)?;
    if p.is_default() {
        return Err("a /0 network is a default route, not a site network".into());
    }
    if !p.is_network() {
        return Err(format!("host bits set: the network is {}", p.network()));
    }
    Ok(p)
}

/// The client's address with its prefix: a usable unicast host address.
fn host_address(v: &str) -> Result<Prefix, String> {
    let p: Prefix = text(v)?;
    if p.is_default() {
        return Err("prefix length must be at least 1".into());
    }
    unicast(&p.addr().to_string())?;
    let is_v4 = p.addr().is_ipv4();
    if is_v4 && p.prefix_len() < 31 {
        let net = p.network().addr();
        let broadcast = match (p.addr(), p.network().addr()) {
            (IpAddr::V4(_), IpAddr::V4(n)) => {
                let host_bits = u32::MAX >> p.prefix_len();
                IpAddr::V4((u32::from(n) | host_bits).into())
            }
            _ => net,
        };
        if p.addr() == net || p.addr() == broadcast {
            return Err("the network or broadcast address is not a host address".into());
        }
    }
    Ok(p)
}

/// A unicast address (not unspecified, loopback, multicast or broadcast).
fn unicast(v: &str) -> Result<IpAddr, String> {
    let ip: IpAddr = v
        .parse()
        .map_err(|_| "not an IPv4 or IPv6 address".to_string())?;
    let bad = match ip {
        IpAddr::V4(a) => {
            a.is_unspecified() || a.is_loopback() || a.is_multicast() || a.is_broadcast()
        }
        IpAddr::V6(a) => a.is_unspecified() || a.is_loopback() || a.is_multicast(),
    };
    if bad {
        return Err("not a unicast address".into());
    }
    Ok(ip)
}
