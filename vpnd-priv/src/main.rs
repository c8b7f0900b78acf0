//! vpnd: the privileged parent (arrives with issue #3).

fn main() {}
