//! secrets (to be written).
