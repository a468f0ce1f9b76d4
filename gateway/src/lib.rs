//! Kong-compatible API gateway data plane.

pub mod plugins;
