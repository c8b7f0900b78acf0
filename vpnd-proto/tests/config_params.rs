//! Every configuration parameter: its default, its range edges, its
//! rejection with an error naming file, line, parameter and value; the
//! role rules; all errors at once; and the print-parse round trip.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use vpnd_proto::config::{Config, ConfigErrors, Role, RoleConfig, Secrets, parse};

mod config_common;
use config_common::{PK, SK, base};

fn ok(text: &str) -> Config {
    parse(Path::new("/etc/vpnd.conf"), text).unwrap_or_else(|e| panic!("{e}\n---\n{text}"))
}

fn err(text: &str) -> ConfigErrors {
    match parse(Path::new("/etc/vpnd.conf"), text) {
        Ok(c) => panic!("accepted:\n{text}\n{c:?}"),
        Err(e) => e,
    }
}

/// `role`'s base file plus `name: value` as the last line; accepted.
fn with(role: &str, name: &str, value: &str) -> Config {
    ok(&format!("{}{name}: {value}\n", base(role)))
}

/// The same, rejected with one error that names the line, name and value.
fn rejects(role: &str, name: &str, value: &str) {
    let text = format!("{}{name}: {value}\n", base(role));
    let line = text.lines().count();
    let e = err(&text);
    assert_eq!(e.0.len(), 1, "{e}");
    let shown = e.to_string();
    let expected = format!("/etc/vpnd.conf:{line}: {name}: ");
    assert!(
        shown.starts_with(&expected),
        "{shown} does not start with {expected}"
    );
    if name != "local_sk" {
        assert!(
            shown.contains(&value.escape_debug().to_string()),
            "{shown} lacks {value}"
        );
    }
}

#[test]
fn defaults() {
    let c = ok(&base("net-gw"));
    assert_eq!(c.role(), Role::NetGw);
    assert_eq!(c.device.as_str(), "tun0");
    assert_eq!(c.stats_prefix, None);
    assert_eq!(c.local_port, 4706);
    assert_eq!(c.remote().unwrap().port, 4706);
    assert_eq!(c.ip_path.to_str(), Some("/sbin/ip"));
    assert_eq!(c.max_key_age, 60);
    assert_eq!(c.max_key_packets, 100_000);
    assert_eq!(c.nonce_reset_incr, 10_000);
    assert_eq!(
        c.local_nonce_file.to_str(),
        Some("/var/db/local_vpnd.nonce")
    );
    assert_eq!(
        c.remote_nonce_file.to_str(),
        Some("/var/db/remote_vpnd.nonce")
    );
    assert_eq!(c.user.as_str(), "_vpnd");
    assert_eq!(c.chroot_dir.to_str(), Some("/var/empty"));
    assert_eq!(c.stats_path.to_str(), Some("/var/run/vpnd_stats.sock"));
    assert_eq!(c.pid_file.to_str(), Some("/var/run/vpnd.pid"));
    assert_eq!(c.mtu, None);
    let RoleConfig::NetGw { remote_network, .. } = &c.role else {
        panic!()
    };
    assert_eq!(*remote_network, None);
    let h = ok(&base("host"));
    let RoleConfig::Host {
        resolvconf_path, ..
    } = &h.role
    else {
        panic!()
    };
    assert_eq!(resolvconf_path.to_str(), Some("/sbin/resolvconf"));
    // No role line: net-gw.
    let no_role = ok(&base("net-gw").replace("role: net-gw\n", ""));
    assert_eq!(no_role.role(), Role::NetGw);
}

#[test]
fn numbers_at_and_past_their_edges() {
    for (name, min, max) in [
        ("max_key_age", 30u64, 3600u64),
        ("max_key_packets", 5000, 10_000_000),
        ("nonce_reset_incr", 16, 20_000),
        ("local_port", 1, 65535),
        ("mtu", 576, 1500),
    ] {
        for good in [min, max] {
            let c = with("net-gw", name, &good.to_string());
            let got = match name {
                "max_key_age" => u64::from(c.max_key_age),
                "max_key_packets" => u64::from(c.max_key_packets),
                "nonce_reset_incr" => u64::from(c.nonce_reset_incr),
                "local_port" => u64::from(c.local_port),
                _ => u64::from(c.mtu.unwrap()),
            };
            assert_eq!(got, good, "{name}");
        }
        for bad in [min - 1, max + 1] {
            rejects("net-gw", name, &bad.to_string());
        }
        for bad in ["-1", "+5", "1e3", "0x10", "ten", "99999999999999999999"] {
            rejects("net-gw", name, bad);
        }
    }
    assert_eq!(with("host", "remote_port", "1").remote().unwrap().port, 1);
    assert_eq!(
        with("host", "remote_port", "65535").remote().unwrap().port,
        65535
    );
    rejects("host", "remote_port", "0");
    rejects("host", "remote_port", "65536");
}

#[test]
fn keys() {
    assert_eq!(ok(&base("net-gw")).local_sk.expose_hex(), SK);
    let upper = base("net-gw").replace(SK, &SK.to_uppercase());
    assert_eq!(ok(&upper).local_sk.expose_hex(), SK);
    for bad in ["abcd", &SK[..63], &format!("{SK}0"), &SK.replace('8', "g")] {
        let text = base("net-gw").replace(SK, bad);
        let e = err(&text).to_string();
        assert!(e.starts_with("/etc/vpnd.conf:2: local_sk: <secret,"), "{e}");
        assert!(!e.contains(bad), "the secret leaked: {e}");
        let text = base("net-gw").replace(PK, bad);
        let e = err(&text).to_string();
        assert!(
            e.starts_with(&format!("/etc/vpnd.conf:3: remote_pk: {bad}: ")),
            "{e}"
        );
    }
}

#[test]
fn names_paths_and_addresses() {
    assert_eq!(
        with("net-gw", "device", "vpntunnel0").device.as_str(),
        "vpntunnel0"
    );
    rejects("net-gw", "device", "a-name-of-16-chr");
    rejects("net-gw", "device", "tun/0");
    assert_eq!(
        with("net-gw", "stats_prefix", "gw_a")
            .stats_prefix
            .unwrap()
            .as_str(),
        "gw_a"
    );
    rejects("net-gw", "stats_prefix", "gw a");
    assert_eq!(with("net-gw", "user", "nobody").user.as_str(), "nobody");
    rejects("net-gw", "user", "Root");
    for name in [
        "ip_path",
        "local_nonce_file",
        "remote_nonce_file",
        "chroot_dir",
        "pid_file",
        "stats_path",
    ] {
        with("net-gw", name, "/var/tmp/x");
        rejects("net-gw", name, "relative/x");
    }
    with("net-gw", "stats_path", &format!("/{}", "s".repeat(106)));
    rejects("net-gw", "stats_path", &format!("/{}", "s".repeat(107)));
    rejects("net-gw", "remote_host", "a b");
    rejects("net-gw", "remote_host", "-oCommand");
    let c = with("net-gw", "remote_network", "198.19.2.0/24");
    let RoleConfig::NetGw { remote_network, .. } = c.role else {
        panic!()
    };
    assert_eq!(remote_network.unwrap().to_string(), "198.19.2.0/24");
    with("net-gw", "remote_network", "2001:2:0:2::/64");
    rejects("net-gw", "remote_network", "198.19.2.1/24");
    rejects("net-gw", "remote_network", "0.0.0.0/0");
    rejects("net-gw", "remote_network", "198.19.2.0");
    rejects("net-gw", "remote_network", "198.19.2.0/33");
    with("host", "resolvconf_path", "/usr/sbin/resolvconf");
    rejects("host", "resolvconf_path", "resolvconf");
}

#[test]
fn hook_scripts_are_absolute_paths_and_required_needs_an_up_script() {
    let c = ok(&base("host"));
    assert_eq!(
        (c.up_script, c.down_script, c.up_script_required),
        (None, None, false)
    );
    for role in ["net-gw", "host-gw", "host"] {
        let c = with(role, "up_script", "/etc/vpnd/up");
        assert_eq!(c.up_script.as_deref(), Some(Path::new("/etc/vpnd/up")));
        let c = with(role, "down_script", "/etc/vpnd/down");
        assert_eq!(c.down_script.as_deref(), Some(Path::new("/etc/vpnd/down")));
    }
    rejects("net-gw", "up_script", "up.sh");
    rejects("net-gw", "down_script", "./down.sh");
    rejects("net-gw", "up_script_required", "true");
    let c = ok(&format!(
        "{}up_script: /etc/vpnd/up\nup_script_required: yes\n",
        base("net-gw")
    ));
    assert!(c.up_script_required);
    assert!(!with("net-gw", "up_script_required", "no").up_script_required);
    // Without a script to require, "yes" is a mistake, named as one.
    rejects("net-gw", "up_script_required", "yes");
    let e = err(&format!("{}up_script_required: yes\n", base("net-gw")));
    assert!(
        e.to_string()
            .ends_with("up_script_required: yes: requires up_script"),
        "{e}"
    );
}

#[test]
fn host_gw_values() {
    let c = ok(&format!(
        "{}resolv_addr: 198.19.1.53\nresolv_domain: vpnd.test\n",
        base("host-gw")
    ));
    let RoleConfig::HostGw {
        local_network,
        host_addr,
        resolv_addr,
        resolv_domain,
    } = c.role
    else {
        panic!()
    };
    assert_eq!(local_network.to_string(), "198.19.1.0/24");
    assert_eq!(host_addr.to_string(), "198.19.3.2/24");
    assert_eq!(resolv_addr.unwrap().to_string(), "198.19.1.53");
    assert_eq!(resolv_domain.unwrap().as_str(), "vpnd.test");
    with("host-gw", "resolv_domain", &"d".repeat(31));
    rejects("host-gw", "resolv_domain", &"d".repeat(32));
    rejects("host-gw", "resolv_domain", "a;b");
    rejects("host-gw", "resolv_addr", "224.0.0.1");
    rejects("host-gw", "resolv_addr", "not-an-address");
    for bad_host in [
        "198.19.3.0/24",
        "198.19.3.255/24",
        "127.0.0.1/8",
        "198.19.3.2/0",
        "198.19.3.2",
    ] {
        let text = base("host-gw").replace("198.19.3.2/24", bad_host);
        let e = err(&text).to_string();
        assert!(e.contains(&format!("host_addr: {bad_host}: ")), "{e}");
    }
    let e = err(&base("host-gw").replace("198.19.1.0/24", "198.19.1.9/24")).to_string();
    assert!(
        e.contains("local_network: 198.19.1.9/24: host bits set"),
        "{e}"
    );
}

#[test]
fn role_rules() {
    for (param, value, wrong_roles) in [
        ("remote_host", "198.18.0.9", vec!["host-gw"]),
        ("remote_port", "4707", vec!["host-gw"]),
        ("remote_network", "198.19.2.0/24", vec!["host-gw", "host"]),
        ("local_network", "198.19.9.0/24", vec!["net-gw", "host"]),
        ("host_addr", "198.19.3.9/24", vec!["net-gw", "host"]),
        ("resolv_addr", "198.19.1.53", vec!["net-gw", "host"]),
        ("resolv_domain", "vpnd.test", vec!["net-gw", "host"]),
        (
            "resolvconf_path",
            "/sbin/resolvconf",
            vec!["net-gw", "host-gw"],
        ),
        ("min_pushed_prefix_v4", "8", vec!["net-gw", "host-gw"]),
        ("min_pushed_prefix_v6", "16", vec!["net-gw", "host-gw"]),
    ] {
        for role in wrong_roles {
            let text = format!("{}{param}: {value}\n", base(role));
            let e = err(&text).to_string();
            assert!(
                e.contains(&format!("{param}: {value}: only for role")),
                "{role}: {e}"
            );
        }
    }
    for (role, missing) in [
        ("net-gw", "remote_host"),
        ("host", "remote_host"),
        ("host-gw", "local_network"),
        ("host-gw", "host_addr"),
        ("net-gw", "local_sk"),
        ("net-gw", "remote_pk"),
    ] {
        let text: String = base(role)
            .lines()
            .filter(|l| !l.starts_with(missing))
            .map(|l| format!("{l}\n"))
            .collect();
        let e = err(&text);
        assert_eq!(e.0.len(), 1, "{e}");
        assert_eq!(
            e.to_string(),
            format!("/etc/vpnd.conf: {missing}: required for role {role}")
        );
    }
    rejects("net-gw", "role", "gateway");
}

#[test]
fn push_minimums_are_prefix_lengths_of_their_family() {
    let text = format!(
        "{}min_pushed_prefix_v4: 33\nmin_pushed_prefix_v6: 0\n",
        base("host")
    );
    let shown = err(&text).to_string();
    let line = base("host").lines().count() + 1;
    for wrong in [
        format!(":{line}: min_pushed_prefix_v4: 33: must be a whole number from 1 to 32"),
        format!(
            ":{}: min_pushed_prefix_v6: 0: must be a whole number from 1 to 128",
            line + 1
        ),
    ] {
        assert!(shown.contains(&wrong), "{wrong} not in {shown}");
    }
}

#[test]
fn syntax_and_all_errors_at_once() {
    // CRLF, blanks around names and values, comments, blank lines, case.
    let text = format!(
        "# vpnd\r\n\r\n  ROLE :  net-gw  \r\nlocal_sk:{SK}\r\nremote_pk: {PK}\t\r\n  # indented comment\nremote_host: gw.example\r\n"
    );
    assert_eq!(ok(&text).remote().unwrap().host.as_str(), "gw.example");
    let text = format!(
        "{}max_key_age: 10\nbogus: 1\nremote_network 198.19.2.0/24\nmax_key_age: 60\nmtu:\n",
        base("net-gw")
    );
    let e = err(&text);
    let lines: Vec<_> = e.0.iter().map(|e| e.line).collect();
    assert_eq!(lines, [Some(5), Some(6), Some(7), Some(8), Some(9)], "{e}");
    let shown = e.to_string();
    assert!(
        shown.contains(":5: max_key_age: 10: must be a whole number from 30 to 3600"),
        "{shown}"
    );
    assert!(shown.contains(":6: bogus: 1: unknown parameter"), "{shown}");
    assert!(
        shown.contains(":7: remote_network 198.19.2.0/24: expected 'name: value'"),
        "{shown}"
    );
    assert!(
        shown.contains(":8: max_key_age: 60: repeated (first set on line 5)"),
        "{shown}"
    );
    assert!(shown.contains(":9: mtu: empty value"), "{shown}");
    let long = format!(
        "{}# {}\nuser: {}\n",
        base("net-gw"),
        "x".repeat(2000),
        "y".repeat(2000)
    );
    assert!(
        err(&long)
            .to_string()
            .contains(":6: line longer than 1024 bytes")
    );
    assert!(
        err(&format!("{}user: a\0b\n", base("net-gw")))
            .to_string()
            .contains("NUL byte")
    );
    // A bad role does not hide the other errors.
    let e = err(&format!(
        "{}max_key_packets: 1\n",
        base("net-gw").replace("net-gw", "gateway")
    ));
    assert_eq!(e.0.len(), 2, "{e}");
}

fn full(role: &str) -> String {
    let common = format!(
        "device: vpn7\nstats_prefix: site_a\nlocal_sk: {SK}\nlocal_port: 5000\nremote_pk: {PK}\n\
         ip_path: /usr/sbin/ip\nmax_key_age: 30\nmax_key_packets: 5000\n\
         local_nonce_file: /var/lib/vpnd/l.nonce\nremote_nonce_file: /var/lib/vpnd/r.nonce\n\
         nonce_reset_incr: 16\nuser: vpnd\nchroot_dir: /var/lib/vpnd/empty\n\
         stats_path: /run/vpnd/stats.sock\nstats_group: monitor\npid_file: /run/vpnd/vpnd.pid\nmtu: 1400\n\
         up_script: /etc/vpnd/up\ndown_script: /etc/vpnd/down\nup_script_required: yes\n"
    );
    let extra = match role {
        "net-gw" => "remote_host: 2001:2::2\nremote_port: 4800\nremote_network: 2001:2:0:2::/64\n",
        "host" => {
            "remote_host: gw.example\nremote_port: 4801\nresolvconf_path: /usr/sbin/resolvconf\n"
        }
        _ => {
            "local_network: 2001:2:0:1::/64\nhost_addr: 2001:2:0:3::2/64\nresolv_addr: 2001:2:0:1::53\nresolv_domain: corp.test\n"
        }
    };
    format!("role: {role}\n{common}{extra}")
}

#[test]
fn print_parse_round_trip_for_every_role() {
    for role in ["net-gw", "host-gw", "host"] {
        for text in [full(role), base(role)] {
            let c = ok(&text);
            let printed = c.to_text(Secrets::Included);
            assert_eq!(ok(&printed), c, "{printed}");
            let redacted = c.to_text(Secrets::Redacted);
            assert!(!redacted.contains(SK));
            assert!(redacted.contains("local_sk: <redacted>"));
            assert_eq!(redacted.lines().count(), printed.lines().count());
        }
    }
}

#[test]
fn random_mutations_never_panic() {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let seeds: Vec<Vec<u8>> = ["net-gw", "host-gw", "host"]
        .iter()
        .map(|r| full(r).into_bytes())
        .collect();
    let alphabet = b":/#\n\r \t.-0123456789abcdefxyzABC\0\xff";
    let mut accepted = 0;
    for i in 0..10_000 {
        let mut t = seeds[i % 3].clone();
        for _ in 0..(1 + rnd() % 4) {
            let at = (rnd() as usize) % t.len().max(1);
            match rnd() % 3 {
                0 => t[at] = alphabet[(rnd() as usize) % alphabet.len()],
                1 => {
                    t.remove(at);
                }
                _ => t.insert(at, alphabet[(rnd() as usize) % alphabet.len()]),
            }
        }
        let text = String::from_utf8_lossy(&t);
        // The instance comes from the file's name: printed and parsed
        // back under the same name, the same configuration.
        let path = Path::new(["f", "/etc/vpnd.conf"][i % 2]);
        match parse(path, &text) {
            Ok(c) => {
                accepted += 1;
                assert_eq!(parse(path, &c.to_text(Secrets::Included)), Ok(c));
            }
            Err(e) => assert!(!e.0.is_empty()),
        }
    }
    assert!(accepted > 100, "only {accepted} mutants parsed");
}
