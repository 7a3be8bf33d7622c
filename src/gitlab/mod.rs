//! gitlab (to be written).
