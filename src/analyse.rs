//! analyse (to be written).
