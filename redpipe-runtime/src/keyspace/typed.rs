//! The boilerplate every typed keyspace shares.

/// Declares a keyspace type over a value codec `V` that dereferences to its [`Keyspace`](super::Keyspace).
macro_rules! typed_keyspace {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub struct $name<V: crate::field::Codec = crate::field::TextField> {
            space: super::Keyspace,
            _values: std::marker::PhantomData<fn() -> V>,
        }

        impl<V: crate::field::Codec> $name<V> {
            #[doc = concat!("A ", stringify!($name), " keyspace over `space`, values encoded by `V`.")]
            pub const fn new(space: super::Keyspace) -> Self {
                $name { space, _values: std::marker::PhantomData }
            }
        }

        impl<V: crate::field::Codec> Clone for $name<V> {
            fn clone(&self) -> Self {
                *self
            }
        }

        impl<V: crate::field::Codec> Copy for $name<V> {}

        impl<V: crate::field::Codec> std::fmt::Debug for $name<V> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("space", &self.space)
                    .field("values", &V::NAME)
                    .finish()
            }
        }

        impl<V: crate::field::Codec> std::ops::Deref for $name<V> {
            type Target = super::Keyspace;

            fn deref(&self) -> &super::Keyspace {
                &self.space
            }
        }
    };
}
