//! The printer: a [`Config`] as `name: value` lines that parse back to it.

use std::fmt::Write;

use super::{Config, RoleConfig};

/// Whether the printed text shows the secret key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secrets {
    /// `local_sk: <redacted>`: for logs and `vpnd -n -v`.
    Redacted,
    /// The key itself: the text parses back to the same configuration.
    Included,
}

impl Config {
    /// Every parameter, one per line, defaults included, in a stable order.
    pub fn to_text(&self, secrets: Secrets) -> String {
        let mut out = String::new();
        let mut put = |name: &str, value: &dyn std::fmt::Display| {
            let _ = writeln!(out, "{name}: {value}");
        };
        put("role", &self.role().as_str());
        put("device", &self.device);
        if let Some(p) = &self.stats_prefix {
            put("stats_prefix", p);
        }
        match secrets {
            Secrets::Redacted => put("local_sk", &"<redacted>"),
            Secrets::Included => put("local_sk", &self.local_sk.expose_hex()),
        }
        put("local_port", &self.local_port);
        put("remote_pk", &self.remote_pk);
        match &self.role {
            RoleConfig::NetGw {
                remote,
                remote_network,
            } => {
                put("remote_host", &remote.host);
                put("remote_port", &remote.port);
                if let Some(n) = remote_network {
                    put("remote_network", n);
                }
            }
            RoleConfig::HostGw {
                local_network,
                host_addr,
                resolv_addr,
                resolv_domain,
            } => {
                put("local_network", local_network);
                put("host_addr", host_addr);
                if let Some(a) = resolv_addr {
                    put("resolv_addr", a);
                }
                if let Some(d) = resolv_domain {
                    put("resolv_domain", d);
                }
            }
            RoleConfig::Host {
                remote,
                resolvconf_path,
                min_pushed_prefix,
            } => {
                put("remote_host", &remote.host);
                put("remote_port", &remote.port);
                put("resolvconf_path", &resolvconf_path.display());
                put("min_pushed_prefix_v4", &min_pushed_prefix.v4);
                put("min_pushed_prefix_v6", &min_pushed_prefix.v6);
            }
        }
        put("ip_path", &self.ip_path.display());
        if let Some(p) = &self.up_script {
            put("up_script", &p.display());
        }
        if let Some(p) = &self.down_script {
            put("down_script", &p.display());
        }
        let required = if self.up_script_required { "yes" } else { "no" };
        put("up_script_required", &required);
        put("max_key_age", &self.max_key_age);
        put("max_key_packets", &self.max_key_packets);
        put("local_nonce_file", &self.local_nonce_file.display());
        put("remote_nonce_file", &self.remote_nonce_file.display());
        put("nonce_reset_incr", &self.nonce_reset_incr);
        put("user", &self.user);
        put("chroot_dir", &self.chroot_dir.display());
        put("stats_path", &self.stats_path.display());
        if let Some(g) = &self.stats_group {
            put("stats_group", g);
        }
        put("pid_file", &self.pid_file.display());
        if let Some(m) = self.mtu {
            put("mtu", &m);
        }
        out
    }
}
