//! Connection names as pipelines, their queues and their executes carry them.
//!
//! Every command queue and every execute holds the name of its connection, and most
//! batches go to the default one. An `Arc<str>` for it would cost a locked instruction for
//! each copy made and each given back (four per standalone call, two per nested call, about
//! 6 ns each on the benchmark machine); the default name is a variant of its own, and is
//! copied for nothing.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use crate::connection::DEFAULT_CONNECTION;

/// A connection's name: the default one, or another, shared.
#[derive(Clone)]
pub(crate) enum Name {
    /// [`DEFAULT_CONNECTION`].
    Default,
    /// Any other name.
    Other(Arc<str>),
}

impl Name {
    /// The name `name`.
    pub(crate) fn new(name: &str) -> Self {
        if name == DEFAULT_CONNECTION {
            Name::Default
        } else {
            Name::Other(Arc::from(name))
        }
    }

    /// The name as the errors that name a connection hold it.
    pub(crate) fn to_arc(&self) -> Arc<str> {
        static DEFAULT: OnceLock<Arc<str>> = OnceLock::new();
        match self {
            Name::Default => Arc::clone(DEFAULT.get_or_init(|| Arc::from(DEFAULT_CONNECTION))),
            Name::Other(name) => Arc::clone(name),
        }
    }
}

impl Deref for Name {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            Name::Default => DEFAULT_CONNECTION,
            Name::Other(name) => name,
        }
    }
}

impl Name {
    /// The same name by identity: both the default one, or one `Arc`. (Equal names may
    /// still be told apart: see `PartialEq`.)
    #[inline]
    pub(crate) fn is(&self, other: &Name) -> bool {
        match (self, other) {
            (Name::Default, Name::Default) => true,
            (Name::Other(a), Name::Other(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        match (self, other) {
            (Name::Default, Name::Default) => true,
            (Name::Other(a), Name::Other(b)) => Arc::ptr_eq(a, b) || a == b,
            // `new` never makes an `Other` of the default name.
            _ => false,
        }
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_name_is_one_variant_and_reads_as_the_others() {
        let default = Name::new(DEFAULT_CONNECTION);
        assert!(matches!(default, Name::Default));
        assert_eq!(&*default, DEFAULT_CONNECTION);
        assert_eq!(&*default.to_arc(), DEFAULT_CONNECTION);
        let other = Name::new("cache");
        assert_eq!((&*other, other.to_string()), ("cache", "cache".to_string()));
        assert!(other == Name::new("cache") && other == other.clone());
        assert!(default != other && default == default.clone());
        assert_eq!(format!("{other:?}"), "\"cache\"");
    }
}
