//! Unit tests of the statsd plugin.
