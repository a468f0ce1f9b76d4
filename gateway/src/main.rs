//! `gateway` binary: CLI, env and wiring only.
fn main() {}
