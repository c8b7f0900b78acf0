//! The one way to make a validated string: `text_value!` writes the newtype
//! (parse, serde, display) and its typed error for each kind of checked text.

/// Writes `pub struct $name(String)` that holds only a text of 1 to `max`
/// bytes, each passing `bytes`, the whole passing `whole`; and `pub enum
/// $error { Length, Character }` whose messages are `too_long` and
/// `not_allowed`. Serde goes through the same check, so a decoded value is
/// as valid as a parsed one.
macro_rules! text_value {
    (
        $(#[$doc:meta])*
        $name:ident,
        $(#[$error_doc:meta])*
        $error:ident,
        max: $max:expr,
        bytes: $bytes:expr,
        whole: $whole:expr,
        too_long: $too_long:expr,
        not_allowed: $not_allowed:expr $(,)?
    ) => {
        $(#[$error_doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $error {
            /// Empty, or longer than the longest value accepted.
            Length,
            /// A byte the value does not take, or a form it refuses.
            Character,
        }

        impl ::std::fmt::Display for $error {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(match self {
                    $error::Length => $too_long,
                    $error::Character => $not_allowed,
                })
            }
        }

        impl ::std::error::Error for $error {}

        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Longest value accepted, in bytes.
            pub const MAX_LEN: usize = $max;

            /// The value as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $error;
            fn from_str(s: &str) -> Result<Self, $error> {
                if s.is_empty() || s.len() > Self::MAX_LEN {
                    return Err($error::Length);
                }
                let byte_ok: fn(u8) -> bool = $bytes;
                let whole_ok: fn(&str) -> bool = $whole;
                if !s.bytes().all(byte_ok) || !whole_ok(s) {
                    return Err($error::Character);
                }
                Ok($name(s.to_owned()))
            }
        }

        impl TryFrom<String> for $name {
            type Error = $error;
            fn try_from(s: String) -> Result<Self, $error> {
                s.parse()
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

pub(crate) use text_value;
