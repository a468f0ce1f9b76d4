//! Unit tests of the cors plugin.
