//! Hygiene and lint tripwires for `#[derive(Struct)]`: the expansion names only absolute
//! paths (local `core`, `redpipe`, `std` modules and shadowed prelude names change
//! nothing), honours `crate = path` for a renamed dependency, and compiles without a
//! warning under `deny(warnings)` and clippy's pedantic lints.
#![deny(warnings, clippy::all, clippy::pedantic)]
#![allow(dead_code, reason = "the records only need to compile")]

extern crate redpipe as renamed;

mod core {}
mod redpipe {}
mod std {}

mod shadowed {
    // Prelude names a careless expansion would pick up from the user's scope.
    struct Option;
    struct Result;
    struct String;
    struct Vec;
    struct Some;
    struct Ok;
    struct Err;
    struct Default;
    trait ToString {}
    trait Clone {}

    /// Every kind of member, declared with fully qualified types since the names above
    /// are shadowed.
    #[derive(::core::clone::Clone, ::renamed::Struct)]
    #[redpipe(crate = ::renamed, keyspace = "H", connection = "h", ttl = 5)]
    #[redpipe(template = "%s/%s", ascii_keys)]
    pub(crate) struct Hygienic {
        #[redpipe(key)]
        id: ::std::string::String,
        required: i64,
        optional: ::core::option::Option<::std::string::String>,
        #[redpipe(ascii)]
        ascii: ::std::option::Option<::std::string::String>,
        #[redpipe(string_list)]
        list: ::std::vec::Vec<::std::string::String>,
        #[redpipe(json)]
        json: ::core::option::Option<::std::collections::BTreeMap<::std::string::String, u8>>,
        #[redpipe(codec = ::renamed::field::BinaryField)]
        bytes: ::std::vec::Vec<u8>,
        #[redpipe(extra)]
        extra: ::std::collections::HashMap<::std::string::String, ::std::string::String>,
    }

    /// Only a key: no members to match.
    #[derive(::core::clone::Clone, ::renamed::Struct)]
    #[redpipe(crate = "renamed")]
    pub(crate) struct KeyOnly {
        #[redpipe(key)]
        id: u64,
    }
}

#[test]
fn expansions_compile_with_shadowed_names() {
    use ::renamed::Struct as _;
    assert_eq!(
        shadowed::Hygienic::KEYSPACE.key("a").unwrap_or_default(),
        "H/a"
    );
    assert_eq!(shadowed::Hygienic::REQUIRED, &["required", "list", "bytes"]);
    assert_eq!(shadowed::KeyOnly::MEMBERS.len(), 0);
    let _patch = shadowed::HygienicPatch::default();
}
