//! publish (to be written).
