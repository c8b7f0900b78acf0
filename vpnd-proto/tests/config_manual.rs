//! vpnd.conf(5) against the parser: every parameter documented and no
//! other, each documented default what the parser fills in, each
//! documented range's edges accepted and the values beyond them refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// The test reads the manual page; the library itself does no I/O.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::path::Path;

use vpnd_proto::config::{PARAMETERS, Secrets, parse};

mod config_common;

/// The least file each role takes (net-gw, the default role, unnamed).
fn base(role: &str) -> String {
    match role {
        "net-gw" => config_common::unnamed(role),
        _ => config_common::base(role),
    }
}

/// Each `.It Cm NAME : Ar ...` item of the page: its name and its body as
/// plain words (macro names and list punctuation removed).
fn documented() -> BTreeMap<String, String> {
    let page =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../man/vpnd.conf.5"))
            .unwrap();
    let mut items = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    for line in page.lines() {
        if let Some(rest) = line.strip_prefix(".It Cm ") {
            items.extend(current.take());
            let name = rest.split_whitespace().next().unwrap().to_owned();
            current = Some((name, String::new()));
        } else if line.starts_with(".El") || line.starts_with(".Ss") || line.starts_with(".Sh") {
            items.extend(current.take());
        } else if let Some((_, body)) = &mut current {
            let words = line
                .split_whitespace()
                .filter(|w| !(w.starts_with('.') && w.len() == 3 && w != &"..."))
                .collect::<Vec<_>>()
                .join(" ");
            body.push(' ');
            body.push_str(&words);
        }
    }
    items
}

/// The roles that take `name` (from the page's role marks).
fn roles_of(name: &str, body: &str) -> Vec<&'static str> {
    if name == "role" {
        return vec!["net-gw"];
    }
    let marked: Vec<&'static str> = ["net-gw", "host-gw", "host"]
        .into_iter()
        .filter(|r| {
            body.split([' ', ','])
                .take_while(|w| *w != "\\(em")
                .any(|w| w == *r)
        })
        .collect();
    if marked.is_empty() {
        vec!["net-gw", "host-gw", "host"]
    } else {
        marked
    }
}

#[test]
fn every_parameter_is_documented_and_nothing_else() {
    let doc = documented();
    let mut names: Vec<&str> = doc.keys().map(String::as_str).collect();
    let mut params = PARAMETERS.to_vec();
    names.sort_unstable();
    params.sort_unstable();
    assert_eq!(names, params);
}

#[test]
fn documented_defaults_are_the_parsers() {
    let mut checked = 0;
    for (name, body) in documented() {
        let Some((_, after)) = body.split_once("Default: ") else {
            continue;
        };
        let default = after
            .split_whitespace()
            .next()
            .unwrap()
            .trim_end_matches('.');
        if ["none", "the", "1431"].contains(&default) {
            continue; // no value, or one that depends on the peer or host
        }
        for role in roles_of(&name, &body) {
            // The default instance: a named one derives its files.
            let config = parse(Path::new("vpnd.conf"), &base(role)).unwrap();
            let printed = config.to_text(Secrets::Redacted);
            let line = format!("{name}: {default}\n");
            assert!(
                printed.contains(&line),
                "{role}: {line:?} not in\n{printed}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "{checked} defaults checked");
}

#[test]
fn documented_ranges_are_the_parsers() {
    let mut checked = 0;
    for (name, body) in documented() {
        let words: Vec<&str> = body.split_whitespace().collect();
        for w in words.windows(3) {
            let (Ok(lo), "to", Ok(hi)) = (
                w[0].parse::<u64>(),
                w[1],
                w[2].trim_end_matches([',', '.']).parse::<u64>(),
            ) else {
                continue;
            };
            let role = roles_of(&name, &body)[0];
            let try_value =
                |v: u64| parse(Path::new("t.conf"), &format!("{}{name}: {v}\n", base(role)));
            assert!(try_value(lo).is_ok(), "{name}: {lo}");
            assert!(try_value(hi).is_ok(), "{name}: {hi}");
            assert!(try_value(lo - 1).is_err(), "{name}: {}", lo - 1);
            assert!(try_value(hi + 1).is_err(), "{name}: {}", hi + 1);
            checked += 1;
        }
    }
    // ports (2), mtu, max_key_age, max_key_packets, nonce_reset_incr,
    // min_pushed_prefix_v4 and _v6
    assert_eq!(checked, 8);
}
