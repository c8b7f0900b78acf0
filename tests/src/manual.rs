//! What the manual pages promise, read from them, so that a test fails
//! when the code and the documentation part.

use std::path::PathBuf;

/// The text of `man/NAME` in the source tree.
pub fn page(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../man")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The lines of section `name` (from `.Sh NAME` to the next `.Sh`).
pub fn section(page: &str, name: &str) -> Vec<String> {
    page.lines()
        .skip_while(|l| *l != format!(".Sh {name}"))
        .skip(1)
        .take_while(|l| !l.starts_with(".Sh "))
        .map(str::to_owned)
        .collect()
}

/// The Graphite metric names vpnd(8) documents: the `.It Li NAME` items of
/// the first list in STATISTICS.
pub fn documented_metrics() -> Vec<String> {
    let lines = section(&page("vpnd.8"), "STATISTICS");
    lines
        .iter()
        .skip_while(|l| !l.starts_with(".Bl "))
        .take_while(|l| *l != ".El")
        .filter_map(|l| l.strip_prefix(".It Li "))
        .map(str::to_owned)
        .collect()
}

/// The lines of the state dump example in vpnd(8) (the literal display
/// after the words "state dump").
pub fn documented_dump() -> Vec<String> {
    let lines = section(&page("vpnd.8"), "STATISTICS");
    lines
        .iter()
        .skip_while(|l| !l.contains("state dump"))
        .skip_while(|l| !l.starts_with(".Bd "))
        .skip(1)
        .take_while(|l| *l != ".Ed")
        .cloned()
        .collect()
}
