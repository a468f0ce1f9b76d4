//! Kong-compatible Admin API.
