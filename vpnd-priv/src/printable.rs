//! Text from the unprivileged network process made fit for root's terminal
//! and log: whatever it writes (its status block, its diagnostics) could
//! hold escape sequences that move the cursor, retitle the window or
//! rewrite what root reads, or bidirectional overrides that make a line
//! read other than it is.

/// `bytes` as text in which every control character but newline and tab,
/// and every Unicode format character (bidirectional overrides and
/// isolates, zero-width characters), is shown escaped (`\u{1b}`) rather
/// than sent. Invalid UTF-8 becomes U+FFFD.
pub fn printable(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for c in String::from_utf8_lossy(bytes).chars() {
        match c {
            '\n' | '\t' => out.push(c),
            c if c.is_control() || is_format(c) => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    out
}

/// Unicode's format characters (general category Cf) that change how text
/// around them is shown: the soft hyphen, the Arabic and Syriac marks, the
/// zero-width characters and joiners, the bidirectional marks, embeddings,
/// overrides and isolates, the invisible operators, the byte-order mark,
/// the interlinear annotation marks and the tag characters.
fn is_format(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{600}'..='\u{605}'
            | '\u{61c}'
            | '\u{6dd}'
            | '\u{70f}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{e0001}'
            | '\u{e0020}'..='\u{e007f}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_lines_kept() {
        assert_eq!(
            printable(b"role: net-gw\n\x1b[2Jstate:\tINIT\r\n"),
            "role: net-gw\n\\u{1b}[2Jstate:\tINIT\\u{d}\n"
        );
    }

    #[test]
    fn bidirectional_overrides_and_zero_width_characters_are_escaped() {
        let line = "peer \u{202e}gnp.exe\u{202c} ok\u{200b}\u{2066}x\u{2069}";
        assert_eq!(
            printable(line.as_bytes()),
            "peer \\u{202e}gnp.exe\\u{202c} ok\\u{200b}\\u{2066}x\\u{2069}"
        );
    }

    #[test]
    fn plain_text_and_invalid_utf8_pass_readably() {
        assert_eq!(printable("Grüße 198.18.0.1".as_bytes()), "Grüße 198.18.0.1");
        assert_eq!(printable(b"a\xffb"), "a\u{fffd}b");
    }
}
