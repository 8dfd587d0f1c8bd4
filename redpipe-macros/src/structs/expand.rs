//! Code generation for `#[derive(Struct)]`: the patch type and the `Struct` impl.
//!
//! **Input:**
//! ```text
//! #[derive(Clone, redpipe::Struct)]
//! #[redpipe(keyspace = "U", ttl = 30)]
//! pub struct User {
//!     #[redpipe(key)] id: String,
//!     name: String,
//!     #[redpipe(ascii)] code: Option<String>,
//! }
//! ```
//! **Output:**
//! ```text
//! /// Every member of `User` optional ...
//! #[derive(Clone, Default)]
//! pub struct UserPatch { pub name: Option<String>, pub code: Option<String> }
//!
//! impl ::redpipe::__private::Struct for User {
//!     type Patch = UserPatch;
//!     const KEYSPACE: Keyspace = Keyspace::new("U");
//!     const TTL: Option<i64> = Some(30);
//!     const KEY_NAME: &str = "id";
//!     const MEMBERS: &[&str] = &["name", "code"];
//!     const REQUIRED: &[&str] = &["name"];
//!     fn id(&self) -> String { ToString::to_string(&self.id) }
//!     fn encode(&self) -> Result<EncodedMembers, Error> {
//!         // ("name", Some(encode_with::<MemberCodec<String>>("name", &self.name)?)),
//!         // ("code", match &self.code { Some(v) => Some(encode_with::<AsciiField>("code", v)?), None => None }),
//!         // then the extra map's entries, if any
//!     }
//!     fn decode(id: &str, members: RawMembers) -> Result<Self, Error> {
//!         // one `Option` per member, filled by a `match` on the member name; unknown
//!         // members go to the extra map (or are ignored); a missing required member is
//!         // `missing_member(..)`
//!     }
//!     fn encode_patch(..) // the members the patch sets
//!     fn decode_patch(..) // the members found, into a patch
//! }
//! ```

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::spanned::Spanned;
use syn::Ident;

use super::parse::Codec;
use super::validate::{Member, Record};
use crate::span::located_at;

/// **Input:** a validated record. **Output:** the patch struct and the `Struct` impl.
pub(crate) fn expand(record: &Record<'_>) -> TokenStream {
    let krate = &record.krate;
    let p = quote!(#krate::__private);
    let ident = record.ident;
    let patch = patch_ident(ident);
    let patch_struct = patch_struct(record, &patch);

    let keyspace = keyspace(record, &p);
    let ttl = match record.ttl {
        Some(ttl) => quote!(::core::option::Option::Some(#ttl)),
        None => quote!(::core::option::Option::None),
    };
    let key_ident = record.key.ident;
    let key_ty = record.key.ty;
    let key_name = &record.key.name;
    let names: Vec<&str> = record.members.iter().map(|m| m.name.as_str()).collect();
    let required: Vec<&str> = record
        .members
        .iter()
        .filter(|m| !m.optional)
        .map(|m| m.name.as_str())
        .collect();

    let encode = encode(record, &p);
    let decode = decode(record, &p);
    let encode_patch = encode_patch(record, &p);
    let decode_patch = decode_patch(record, &p);
    let id = Ident::new("__redpipe_id", Span::mixed_site());
    let to_id = located_at(
        quote!(#p::ToString::to_string(&self.#key_ident)),
        key_ty.span(),
    );
    let parse_id = located_at(
        quote!(#p::parse_id::<#key_ty>(<Self as #p::Struct>::KEY_NAME, #id)?),
        key_ty.span(),
    );

    quote! {
        #patch_struct

        impl #p::Struct for #ident {
            type Patch = #patch;
            const KEYSPACE: #p::Keyspace = #keyspace;
            const TTL: ::core::option::Option<::core::primitive::i64> = #ttl;
            const KEY_NAME: &'static ::core::primitive::str = #key_name;
            const MEMBERS: &'static [&'static ::core::primitive::str] = &[#(#names),*];
            const REQUIRED: &'static [&'static ::core::primitive::str] = &[#(#required),*];

            fn id(&self) -> #p::String {
                #to_id
            }

            fn encode(&self) -> ::core::result::Result<#p::EncodedMembers, #p::Error> {
                #encode
            }

            fn decode(
                #id: &::core::primitive::str,
                __redpipe_members: #p::RawMembers,
            ) -> ::core::result::Result<Self, #p::Error> {
                let __redpipe_key = #parse_id;
                #decode
            }

            fn encode_patch(
                __redpipe_patch: &#patch,
            ) -> ::core::result::Result<
                #p::Vec<(#p::String, #p::Vec<::core::primitive::u8>)>,
                #p::Error,
            > {
                #encode_patch
            }

            fn decode_patch(
                __redpipe_members: #p::RawMembers,
            ) -> ::core::result::Result<#patch, #p::Error> {
                #decode_patch
            }
        }
    }
}

/// The patch type's name: `{Name}Patch`, at the struct name's span.
pub(crate) fn patch_ident(ident: &Ident) -> Ident {
    format_ident!("{}Patch", ident)
}

/// **Output:** `#[derive(Clone, Default, ..)] vis struct UserPatch { pub name: Option<String>, .. }`
fn patch_struct(record: &Record<'_>, patch: &Ident) -> TokenStream {
    let ident = record.ident;
    let vis = record.vis;
    let derives = record.patch_derive;
    let doc = format!(
        "Every member of [`{ident}`] optional: the input of `{ident}::update` and the \
         result of `{ident}::load_only` and `{ident}::pop` (see `redpipe::Struct`). \
         `None` means not set, or not found."
    );
    let fields = record.members.iter().map(|m| {
        let field = m.ident;
        let ty = m.value_ty;
        let doc = format!("Hash member `{}`; `None`: not set.", m.name);
        quote!(#[doc = #doc] pub #field: ::core::option::Option<#ty>,)
    });
    let extra = record.extra.map(|(field, ty)| {
        quote! {
            /// Members the struct does not declare, as text.
            pub #field: #ty,
        }
    });
    quote! {
        #[doc = #doc]
        #[derive(::core::clone::Clone, ::core::default::Default, #(#derives),*)]
        #vis struct #patch {
            #(#fields)*
            #extra
        }
    }
}

/// **Output:** `Keyspace::new("U").on("users").template("%s:%s").ascii_keys()`, each
/// call only when its attribute is given.
fn keyspace(record: &Record<'_>, p: &TokenStream) -> TokenStream {
    let name = &record.keyspace;
    let mut tokens = quote!(#p::Keyspace::new(#name));
    if let Some(connection) = &record.connection {
        tokens.extend(quote!(.on(#connection)));
    }
    if let Some(template) = &record.template {
        tokens.extend(quote!(.template(#template)));
    }
    if record.ascii_keys {
        tokens.extend(quote!(.ascii_keys()));
    }
    tokens
}

/// **Output:** `encode_with::<Codec>("name", Borrow::borrow(value))?`, encoding `value`
/// (a `&T`) as member `m`, at the member type's span so type errors land there.
fn encode_value(m: &Member<'_>, p: &TokenStream, value: &TokenStream) -> TokenStream {
    let name = &m.name;
    let codec = codec_type(m, p);
    let call = quote!(#p::encode_with::<#codec>(#name, ::core::borrow::Borrow::borrow(#value))?);
    located_at(call, m.value_ty.span())
}

/// **Output:** `decode_with::<Codec>("name", bytes)?`, decoding `bytes` (a `&[u8]`) as
/// member `m`.
fn decode_value(m: &Member<'_>, p: &TokenStream, bytes: &TokenStream) -> TokenStream {
    let name = &m.name;
    let codec = codec_type(m, p);
    located_at(
        quote!(#p::decode_with::<#codec>(#name, #bytes)?),
        m.value_ty.span(),
    )
}

/// The member's codec: the one its attribute chose, else `MemberCodec<T>` (the type's
/// default codec, an error at the type when it has none).
fn codec_type(m: &Member<'_>, p: &TokenStream) -> TokenStream {
    let ty = m.value_ty;
    match m.codec {
        None => quote!(#p::MemberCodec<#ty>),
        Some(Codec::Ascii) => quote!(#p::AsciiField),
        Some(Codec::StringList) => quote!(#p::StringListField),
        Some(Codec::Json) => quote!(#p::JsonField<#ty>),
        Some(Codec::Binary) => quote!(#p::BinaryField),
        Some(Codec::Custom(codec)) => quote!(#codec),
    }
}

/// A binding for a member's value.
fn value_ident() -> Ident {
    Ident::new("__redpipe_value", Span::mixed_site())
}

/// **Output:** the body of `encode`: every member, then the extra map's entries.
fn encode(record: &Record<'_>, p: &TokenStream) -> TokenStream {
    let out = Ident::new("__redpipe_out", Span::mixed_site());
    let count = record.members.len();
    let pushes = record.members.iter().map(|m| {
        let field = m.ident;
        let name = &m.name;
        let bytes = if m.optional {
            let value = value_ident();
            let encoded = encode_value(m, p, &quote!(#value));
            quote! {
                match &self.#field {
                    ::core::option::Option::Some(#value) => ::core::option::Option::Some(#encoded),
                    ::core::option::Option::None => ::core::option::Option::None,
                }
            }
        } else {
            let encoded = encode_value(m, p, &quote!(&self.#field));
            quote!(::core::option::Option::Some(#encoded))
        };
        quote!(#out.push((#p::ToString::to_string(#name), #bytes));)
    });
    let extra = record.extra.map(|(field, _)| {
        quote! {
            for (__redpipe_name, __redpipe_bytes) in #p::encode_extra::<Self, _, _>(&self.#field)? {
                #out.push((__redpipe_name, ::core::option::Option::Some(__redpipe_bytes)));
            }
        }
    });
    let mutability = (count > 0 || extra.is_some()).then(|| quote!(mut));
    quote! {
        let #mutability #out: #p::EncodedMembers = #p::Vec::with_capacity(#count);
        #(#pushes)*
        #extra
        ::core::result::Result::Ok(#out)
    }
}

/// The local variable holding member `i` while decoding.
fn slot(i: usize) -> Ident {
    Ident::new(&format!("__redpipe_member_{i}"), Span::mixed_site())
}

/// **Output:** `for (member, bytes) in members { match member.as_str() { "name" =>
/// <target of "name"> = Some(decode(..)?), .., _ => <extra or nothing> } }`; `None`
/// when there is nothing to match (no members and no extra map).
fn match_members(
    record: &Record<'_>,
    p: &TokenStream,
    target: impl Fn(usize, &Member<'_>) -> TokenStream,
    extra: Option<TokenStream>,
) -> Option<TokenStream> {
    if record.members.is_empty() && extra.is_none() {
        return None;
    }
    let member = Ident::new("__redpipe_member", Span::mixed_site());
    let bytes = Ident::new("__redpipe_bytes", Span::mixed_site());
    let arms = record.members.iter().enumerate().map(|(i, m)| {
        let name = &m.name;
        let target = target(i, m);
        let decoded = decode_value(m, p, &quote!(&#bytes));
        quote!(#name => #target = ::core::option::Option::Some(#decoded),)
    });
    let fallthrough = match extra {
        Some(map) => quote! {
            _ => ::core::iter::Extend::extend(
                &mut #map,
                #p::extra_member::<Self>(#member, &#bytes)?,
            ),
        },
        None => quote!(_ => {}),
    };
    Some(quote! {
        for (#member, #bytes) in __redpipe_members {
            match #member.as_str() {
                #(#arms)*
                #fallthrough
            }
        }
    })
}

/// **Output:** the rest of `decode`, after the key is parsed into `__redpipe_key`.
fn decode(record: &Record<'_>, p: &TokenStream) -> TokenStream {
    let id = Ident::new("__redpipe_id", Span::mixed_site());
    let extra_local = Ident::new("__redpipe_extra", Span::mixed_site());
    let slots = record.members.iter().enumerate().map(|(i, m)| {
        let slot = slot(i);
        let ty = m.value_ty;
        quote!(let mut #slot: ::core::option::Option<#ty> = ::core::option::Option::None;)
    });
    let extra_slot = record
        .extra
        .map(|(_, ty)| quote!(let mut #extra_local: #ty = ::core::default::Default::default();));
    let matching = match_members(
        record,
        p,
        |i, _| {
            let slot = slot(i);
            quote!(#slot)
        },
        record.extra.map(|_| quote!(#extra_local)),
    )
    .unwrap_or_else(|| quote!(let _ = __redpipe_members;));
    let key_field = record.key.ident;
    let fields = record.members.iter().enumerate().map(|(i, m)| {
        let slot = slot(i);
        let field = m.ident;
        let name = &m.name;
        if m.optional {
            quote!(#field: #slot,)
        } else {
            quote! {
                #field: match #slot {
                    ::core::option::Option::Some(__redpipe_value) => __redpipe_value,
                    ::core::option::Option::None => {
                        return ::core::result::Result::Err(#p::missing_member(
                            <Self as #p::Struct>::KEYSPACE.name(),
                            #id,
                            #name,
                        ))
                    }
                },
            }
        }
    });
    let extra_field = record.extra.map(|(field, _)| quote!(#field: #extra_local,));
    quote! {
        #(#slots)*
        #extra_slot
        #matching
        ::core::result::Result::Ok(Self {
            #key_field: __redpipe_key,
            #(#fields)*
            #extra_field
        })
    }
}

/// **Output:** the body of `encode_patch`: the members the patch sets, then its extras.
fn encode_patch(record: &Record<'_>, p: &TokenStream) -> TokenStream {
    let out = Ident::new("__redpipe_out", Span::mixed_site());
    let pushes = record.members.iter().map(|m| {
        let field = m.ident;
        let name = &m.name;
        let value = value_ident();
        let encoded = encode_value(m, p, &quote!(#value));
        quote! {
            if let ::core::option::Option::Some(#value) = &__redpipe_patch.#field {
                #out.push((#p::ToString::to_string(#name), #encoded));
            }
        }
    });
    let extra = record.extra.map(|(field, _)| {
        quote! {
            ::core::iter::Extend::extend(
                &mut #out,
                #p::encode_extra::<Self, _, _>(&__redpipe_patch.#field)?,
            );
        }
    });
    let mutability = (!record.members.is_empty() || extra.is_some()).then(|| quote!(mut));
    quote! {
        let #mutability #out = #p::Vec::new();
        #(#pushes)*
        #extra
        ::core::result::Result::Ok(#out)
    }
}

/// **Output:** the body of `decode_patch`: every member found, into a default patch.
fn decode_patch(record: &Record<'_>, p: &TokenStream) -> TokenStream {
    let patch = Ident::new("__redpipe_patch", Span::mixed_site());
    let matching = match_members(
        record,
        p,
        |_, m| {
            let field = m.ident;
            quote!(#patch.#field)
        },
        record.extra.map(|(field, _)| quote!(#patch.#field)),
    );
    let (mutability, matching) = match matching {
        Some(matching) => (Some(quote!(mut)), matching),
        None => (None, quote!(let _ = __redpipe_members;)),
    };
    quote! {
        let #mutability #patch: <Self as #p::Struct>::Patch = ::core::default::Default::default();
        #matching
        ::core::result::Result::Ok(#patch)
    }
}
