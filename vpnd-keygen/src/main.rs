//! vpnd-keygen.

fn main() {}
