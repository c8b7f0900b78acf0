//! Validated configuration values that have no better home.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Accepts 1..=`max` bytes, each passing `ok`, and not starting with '-'
/// (the value may end up in an argument vector).
fn check(s: &str, max: usize, ok: impl Fn(u8) -> bool) -> Result<(), &'static str> {
    if s.is_empty() || s.len() > max {
        return Err("wrong length");
    }
    if s.starts_with('-') || !s.bytes().all(ok) {
        return Err("character not allowed");
    }
    Ok(())
}

macro_rules! text_value {
    ($(#[$doc:meta])* $name:ident, $max:expr, $ok:expr, $what:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Longest value accepted.
            pub const MAX_LEN: usize = $max;

            /// The value as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                check(s, $max, $ok)
                    .map(|()| $name(s.to_owned()))
                    .map_err(|why| format!("{}: {why} (1 to {} of {})", stringify!($name), $max, $what))
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                s.parse()
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

text_value!(
    /// `remote_host`: a DNS name or an IPv4/IPv6 literal.
    RemoteHost,
    253,
    |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'_' | b'%'),
    "letters, digits, '.', '-', ':', '_', '%'"
);

text_value!(
    /// `stats_prefix`: the first component of every Graphite metric name.
    StatsPrefix,
    63,
    |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'),
    "letters, digits, '.', '-', '_'"
);

text_value!(
    /// `user`: a POSIX user name.
    UserName,
    32,
    |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'),
    "lower-case letters, digits, '_', '-'"
);

impl StatsPrefix {
    /// A prefix from a host name: dots would split the metric path, so
    /// they become underscores, as the deployed peer does; other characters
    /// that Graphite does not take are dropped. `None` if nothing is left.
    pub fn from_host_name(name: &str) -> Option<StatsPrefix> {
        let cleaned: String = name
            .chars()
            .filter_map(|c| match c {
                '.' => Some('_'),
                c if c.is_ascii_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .take(Self::MAX_LEN)
            .collect();
        cleaned.trim_start_matches('-').parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_check_length_and_characters() {
        assert!("gw-1.example.net".parse::<RemoteHost>().is_ok());
        assert!("2001:2::1".parse::<RemoteHost>().is_ok());
        assert!("-oProxy".parse::<RemoteHost>().is_err());
        assert!("a b".parse::<RemoteHost>().is_err());
        assert!("a".repeat(254).parse::<RemoteHost>().is_err());
        assert!("_vpnd".parse::<UserName>().is_ok());
        assert!("Root".parse::<UserName>().is_err());
        assert!("gw_a".parse::<StatsPrefix>().is_ok());
        assert!("gw a".parse::<StatsPrefix>().is_err());
        assert!("".parse::<StatsPrefix>().is_err());
    }

    #[test]
    fn host_names_become_prefixes() {
        assert_eq!(
            StatsPrefix::from_host_name("gw1.example.net")
                .unwrap()
                .as_str(),
            "gw1_example_net"
        );
        assert_eq!(
            StatsPrefix::from_host_name("é").map(|p| p.to_string()),
            None
        );
    }
}
