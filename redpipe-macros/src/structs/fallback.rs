//! What to emit when validation fails, next to the errors: the patch type and a `Struct`
//! impl whose bodies are never run (the crate does not compile), so code using the struct,
//! its patch or its operations gets no follow-on errors.
//!
//! **Input:** a struct with a mistake in its attributes. **Output:**
//! ```text
//! #[derive(Clone, Default)]
//! struct UserPatch { pub name: Option<String>, .. }   // every field but the first key
//! impl Struct for User {
//!     type Patch = UserPatch;
//!     const KEYSPACE: Keyspace = Keyspace::new("User");
//!     .. // empty constants, bodies `unreachable!()`
//! }
//! ```

use proc_macro2::TokenStream;
use quote::quote;

use super::expand::patch_ident;
use super::parse::Input;
use super::validate::{crate_path, option_inner};

pub(crate) fn expand(input: &Input<'_>) -> TokenStream {
    let krate = crate_path(input);
    let p = quote!(#krate::__private);
    let ident = input.ident;
    let vis = input.vis;
    let patch = patch_ident(ident);
    let key = input.fields.iter().position(|f| f.key.is_some());
    let fields = input
        .fields
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != key)
        .map(|(_, f)| {
            let field = f.ident;
            let ty = f.ty;
            if f.extra.is_some() {
                quote!(pub #field: #ty,)
            } else {
                let ty = option_inner(ty).unwrap_or(ty);
                quote!(pub #field: ::core::option::Option<#ty>,)
            }
        });
    let name = ident.to_string();
    let never = quote!(::core::unreachable!("#[derive(Struct)] failed to expand"));
    quote! {
        #[allow(missing_docs)]
        #[derive(::core::clone::Clone, ::core::default::Default)]
        #vis struct #patch {
            #(#fields)*
        }

        impl #p::Struct for #ident {
            type Patch = #patch;
            const KEYSPACE: #p::Keyspace = #p::Keyspace::new(#name);
            const TTL: ::core::option::Option<::core::primitive::i64> = ::core::option::Option::None;
            const KEY_NAME: &'static ::core::primitive::str = "";
            const MEMBERS: &'static [&'static ::core::primitive::str] = &[];
            const REQUIRED: &'static [&'static ::core::primitive::str] = &[];

            fn id(&self) -> #p::String {
                #never
            }

            fn encode(&self) -> ::core::result::Result<#p::EncodedMembers, #p::Error> {
                #never
            }

            fn decode(
                _: &::core::primitive::str,
                _: #p::RawMembers,
            ) -> ::core::result::Result<Self, #p::Error> {
                #never
            }

            fn encode_patch(
                _: &#patch,
            ) -> ::core::result::Result<
                #p::Vec<(#p::String, #p::Vec<::core::primitive::u8>)>,
                #p::Error,
            > {
                #never
            }

            fn decode_patch(_: #p::RawMembers) -> ::core::result::Result<#patch, #p::Error> {
                #never
            }
        }
    }
}
