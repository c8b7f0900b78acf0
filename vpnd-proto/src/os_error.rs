//! How an operating system's error reads to an operator: in the system's
//! own words. Rust shows an error the system returned as "No such file or
//! directory (os error 2)"; the number is Rust's addition, and not what
//! the system's own tools print.

use std::borrow::Cow;

/// What Rust puts between the system's text and the error's number.
const MARK: &str = " (os error ";

/// `text` without the ` (os error N)` Rust appends to each operating
/// system's error in it. Errors nest ("pid_file /run/vpnd.pid: cannot
/// create: Permission denied (os error 13): ..."), so every one is taken
/// out, wherever it stands; anything else in parentheses stays.
pub fn without_os_error_codes(text: &str) -> Cow<'_, str> {
    if !text.contains(MARK) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(MARK) {
        let (before, from_mark) = rest.split_at(at);
        let after = &from_mark[MARK.len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        out.push_str(before);
        match after[digits..].strip_prefix(')') {
            Some(tail) if digits > 0 => rest = tail,
            _ => {
                out.push_str(MARK);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_number_goes_and_the_systems_text_stays() {
        let e = std::io::Error::from_raw_os_error(2);
        let shown = format!("pid_file /run/x.pid: cannot create: {e}");
        assert!(shown.ends_with(" (os error 2)"), "{shown}");
        assert_eq!(
            without_os_error_codes(&shown),
            "pid_file /run/x.pid: cannot create: No such file or directory"
        );
    }

    #[test]
    fn every_nested_error_loses_its_number() {
        assert_eq!(
            without_os_error_codes("a: Bad (os error 9): b: Gone (os error 2); c"),
            "a: Bad: b: Gone; c"
        );
    }

    #[test]
    fn other_parentheses_stay() {
        for text in [
            "plain text",
            "x (os error ) y",
            "x (os error 12 y",
            "x (os error abc)",
            "ends in (os error ",
            "(os error 5",
        ] {
            assert_eq!(without_os_error_codes(text), text);
        }
        assert_eq!(
            without_os_error_codes("x (os error ) (os error 5)"),
            "x (os error )"
        );
    }
}
