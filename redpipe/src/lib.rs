//! redpipe: composable, nestable pipelined Redis operations.
#![doc = include_str!("../README.md")]

#[doc(inline)]
pub use redpipe_runtime::*;
