//! The secret key `-y` reads from standard input: a `local_sk` line (of a
//! vpnd.conf, or a .keypair file as `vpnd-keygen NAME` writes it), or the
//! key's 64 hex digits alone.

use std::io::Read;

use vpnd_crypto::{KeyError, SecretKey};
use zeroize::Zeroizing;

/// The most read: a configuration file is a few hundred bytes.
pub const MAX_INPUT: usize = 64 * 1024;

/// Why no secret key was read. The key itself is never shown.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// Reading failed.
    #[error("standard input: cannot read: {0}")]
    Read(std::io::Error),
    /// More than [`MAX_INPUT`] bytes.
    #[error("standard input: more than {MAX_INPUT} bytes: not a key or a configuration")]
    TooLong,
    /// Not UTF-8.
    #[error("standard input: not UTF-8 text (byte {0})")]
    NotText(usize),
    /// Neither a `local_sk` line nor a line holding a key alone.
    #[error(
        "standard input: no secret key: expected a local_sk line (of a vpnd.conf or a .keypair file) or the key's 64 hex digits alone"
    )]
    Missing,
    /// `local_sk` twice: which one is meant is not for vpnd-keygen to
    /// guess.
    #[error("standard input: line {line}: local_sk repeated (first on line {first})")]
    Repeated {
        /// The second.
        line: usize,
        /// The first.
        first: usize,
    },
    /// The key is malformed.
    #[error("standard input: line {line}: {what}{reason}")]
    Malformed {
        /// Its line.
        line: usize,
        /// `"local_sk: "`, or nothing for a key alone.
        what: &'static str,
        /// What is wrong with it.
        reason: KeyError,
    },
}

/// Reads `input` to its end (at most [`MAX_INPUT`] bytes) and takes the
/// secret key from it. The bytes read are wiped.
pub fn read_secret(input: impl Read) -> Result<SecretKey, InputError> {
    // Room for all of it at once: a grown buffer would leave copies of the
    // key behind, unwiped.
    let mut bytes = Zeroizing::new(Vec::with_capacity(MAX_INPUT + 1));
    input
        .take(MAX_INPUT as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(InputError::Read)?;
    if bytes.len() > MAX_INPUT {
        return Err(InputError::TooLong);
    }
    let text = std::str::from_utf8(&bytes).map_err(|e| InputError::NotText(e.valid_up_to()))?;
    secret_from_text(text)
}

/// The secret key in `text`: the value of its one `local_sk` line (the
/// name in any case, blanks around name and value, as vpnd.conf(5) reads
/// it; every other line is ignored), or, without one, its one line that
/// is neither blank nor a comment, if that has no `:`.
fn secret_from_text(text: &str) -> Result<SecretKey, InputError> {
    let mut local_sk = None;
    let mut others = Vec::new();
    for (number, line) in (1..).zip(text.lines()) {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once(':') {
            Some((name, value)) if name.trim().eq_ignore_ascii_case("local_sk") => {
                if let Some((first, _)) = local_sk {
                    return Err(InputError::Repeated {
                        line: number,
                        first,
                    });
                }
                local_sk = Some((number, value.trim()));
            }
            _ => others.push((number, line)),
        }
    }
    let (line, what, hex) = match (local_sk, others.as_slice()) {
        (Some((line, value)), _) => (line, "local_sk: ", value),
        (None, [(line, alone)]) if !alone.contains(':') => (*line, "", *alone),
        _ => return Err(InputError::Missing),
    };
    SecretKey::from_hex(hex).map_err(|reason| InputError::Malformed { line, what, reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SK: &str = "845b920bda4cd49d251d3329144a0cf8bdaaa07502626fa87f08e80faedab11f";

    fn read(text: &str) -> Result<SecretKey, InputError> {
        read_secret(text.as_bytes())
    }

    fn hex(key: Result<SecretKey, InputError>) -> String {
        key.unwrap().expose_hex()
    }

    #[test]
    fn a_local_sk_line_a_keypair_file_or_the_key_alone() {
        assert_eq!(hex(read(&format!("local_sk: {SK}\n"))), SK);
        let keypair = format!(
            "# Secret key: add to local vpnd.conf\nlocal_sk: {SK}\n\
             # Public key: add to peer's vpnd.conf\nremote_pk: {}\n",
            "22".repeat(32)
        );
        assert_eq!(hex(read(&keypair)), SK);
        let conf = format!("role: host\n  Local_SK :\t{SK} \r\nremote_host: gw\n");
        assert_eq!(hex(read(&conf)), SK);
        assert_eq!(hex(read(SK)), SK);
        assert_eq!(
            hex(read(&format!("\n# mine\n  {}\n", SK.to_uppercase()))),
            SK
        );
    }

    #[test]
    fn what_is_wrong_is_said_without_the_key() {
        let short = &SK[..63];
        let e = read(&format!("role: host\nlocal_sk: {short}\n")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "standard input: line 2: local_sk: a key is 64 hex digits, this one has 63"
        );
        let e = read(&format!("{}x\n", &SK[..63])).unwrap_err().to_string();
        assert_eq!(e, "standard input: line 1: character 64 is not a hex digit");
        assert!(!e.contains(short));
        let e = read(&format!("local_sk: {SK}\nlocal_sk: {SK}\n")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "standard input: line 2: local_sk repeated (first on line 1)"
        );
        let e = read("local_sk:\n").unwrap_err().to_string();
        assert!(
            e.ends_with("line 1: local_sk: a key is 64 hex digits, this one has 0"),
            "{e}"
        );
    }

    #[test]
    fn nothing_that_could_be_a_key_is_missing() {
        for text in [
            "",
            "\n\n# only comments\n",
            "role: host\nremote_pk: 11\n",
            &format!("{SK}\n{SK}\n"),
        ] {
            assert!(matches!(read(text), Err(InputError::Missing)), "{text:?}");
        }
    }

    #[test]
    fn too_much_or_not_text_is_refused() {
        let long = format!("{SK}\n{}", " ".repeat(MAX_INPUT));
        assert!(matches!(read(&long), Err(InputError::TooLong)));
        let padded = format!("{SK}{}", " ".repeat(MAX_INPUT - SK.len()));
        assert_eq!(hex(read(&padded)), SK);
        assert!(matches!(
            read_secret(&b"local_sk: \xff"[..]),
            Err(InputError::NotText(10))
        ));
    }
}
