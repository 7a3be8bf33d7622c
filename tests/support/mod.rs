//! Shared helpers for integration tests: real servers on free loopback ports, stopped on drop.
#![allow(dead_code)]

pub mod moto;
pub mod proxy;
pub mod template;
