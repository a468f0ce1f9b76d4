//! Kong-compatible validation and defaulting of entity input (kong-compat §1.3–§1.7).
