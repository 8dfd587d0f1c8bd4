//! redpipe: composable, nestable pipelined Redis operations.
#![doc = include_str!("../README.md")]

#[doc(inline)]
pub use redpipe_runtime::*;

/// Derives [`Struct`](trait@Struct): a typed record stored in one Redis hash.
#[doc(inline)]
pub use redpipe_macros::Struct;

/// Not public API: the paths that macro expansions name. Anything here may change in any
/// release.
#[doc(hidden)]
pub mod __private {
    // Used by `#[derive(Struct)]`.
    #[doc(hidden)]
    pub use redpipe_runtime::field::{AsciiField, BinaryField, Codec, JsonField, StringListField};
    #[doc(hidden)]
    pub use redpipe_runtime::keyspace::Keyspace;
    #[doc(hidden)]
    pub use redpipe_runtime::record::{
        decode_with, encode_extra, encode_with, extra_member, missing_member, parse_id,
        EncodedMembers, MemberCodec, RawMembers,
    };
    #[doc(hidden)]
    pub use redpipe_runtime::{Error, Struct};
    #[doc(hidden)]
    pub use std::string::{String, ToString};
    #[doc(hidden)]
    pub use std::vec::Vec;
}
