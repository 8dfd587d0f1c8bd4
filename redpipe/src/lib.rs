#![doc = include_str!("../README.md")]

/// The migration guide from Python RedPipe (`MIGRATING.md`), compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../MIGRATING.md")]
pub struct MigratingGuide;

#[doc(inline)]
pub use redpipe_macros::pipelined;
/// Derives [`Struct`](trait@Struct): a typed record stored in one Redis hash.
#[doc(inline)]
pub use redpipe_macros::Struct;
#[doc(inline)]
pub use redpipe_runtime::*;

/// Not public API: the paths that macro expansions name. Anything here may change in any
/// release.
#[doc(hidden)]
pub mod __private {
    // Used by `#[pipelined]`.
    #[doc(hidden)]
    pub use redpipe_runtime::{Deferred, Nested, Parent, Pipeline};

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
    pub use redpipe_runtime::Struct;
    #[doc(hidden)]
    pub use std::string::{String, ToString};
    #[doc(hidden)]
    pub use std::vec::Vec;

    // Used by both.
    #[doc(hidden)]
    pub use redpipe_runtime::Error;

    /// Not public API: splits a declared `Result<T, E>` (or an alias of it) into its parts.
    pub trait ResultParts {
        /// Not public API.
        type Ok;
        /// Not public API.
        type Err;
    }

    impl<T, E> ResultParts for Result<T, E> {
        type Ok = T;
        type Err = E;
    }

    /// Not public API: runs the body of a `Result` function (a closure, so `?` leaves the
    /// body and not the function).
    #[inline]
    pub fn queue<R>(body: impl FnOnce() -> R) -> R {
        body()
    }

    /// Not public API: finishes a `Result` function: with its combine step when the body
    /// queued without error, else abandoning everything it queued.
    #[inline]
    pub fn resolve_queued<T, E, C>(nested: Nested<'_>, queued: Result<C, E>) -> Deferred<T>
    where
        T: Send + Sync + 'static,
        E: Into<Error> + 'static,
        C: FnOnce() -> Result<T, E> + Send + 'static,
    {
        match queued {
            Ok(combine) => nested.resolve_result(combine),
            Err(error) => nested.fail(error),
        }
    }
}
