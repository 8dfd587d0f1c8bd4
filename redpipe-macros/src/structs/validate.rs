//! Every user-facing diagnostic of `#[derive(Struct)]` that the attributes alone cannot
//! catch: the key field, stored member names, the TTL and the key template. All mistakes
//! are combined into one error so the user sees them at once.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{GenericArgument, Ident, Path, PathArguments, Type, Visibility};

use super::parse::{Codec, Container, Input};

/// A struct ready to expand.
pub(crate) struct Record<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) vis: &'a Visibility,
    /// The path of the `redpipe` crate: `::redpipe` or the `crate = path` argument.
    pub(crate) krate: TokenStream,
    pub(crate) keyspace: String,
    pub(crate) connection: Option<String>,
    pub(crate) ttl: Option<i64>,
    pub(crate) template: Option<String>,
    pub(crate) ascii_keys: bool,
    pub(crate) patch_derive: &'a [Path],
    pub(crate) key: Key<'a>,
    pub(crate) members: Vec<Member<'a>>,
    pub(crate) extra: Option<(&'a Ident, &'a Type)>,
}

/// The key field.
pub(crate) struct Key<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) ty: &'a Type,
    /// The Python `key_name`: the field name, or its `rename`.
    pub(crate) name: String,
}

/// A field stored as one hash member.
pub(crate) struct Member<'a> {
    pub(crate) ident: &'a Ident,
    /// The value type: `T` of an `Option<T>` field, else the field's type.
    pub(crate) value_ty: &'a Type,
    pub(crate) optional: bool,
    /// The stored member name.
    pub(crate) name: String,
    pub(crate) codec: Option<&'a Codec>,
}

/// **Input:** the parsed struct. **Output:** the record to expand, or every mistake found.
pub(crate) fn validate<'a>(input: &'a Input<'a>) -> syn::Result<Record<'a>> {
    let mut errors: Vec<syn::Error> = input.errors.clone();
    let container = &input.container;

    let ttl = check_container(container, &mut errors);

    let mut key = None;
    let mut extra = None;
    let mut members = Vec::new();
    for field in &input.fields {
        if let Some(span) = field.key {
            if key.is_some() {
                errors.push(syn::Error::new(
                    span,
                    "a struct has one key field; keep #[redpipe(key)] on the field that holds \
                     the id and make this one a member",
                ));
                continue;
            }
            if let Some((_, codec)) = &field.codec {
                errors.push(syn::Error::new(
                    *codec,
                    "the key field has no codec: the id lives in the key name as text; \
                     remove this attribute",
                ));
            }
            if let Some(span) = field.extra {
                errors.push(syn::Error::new(
                    span,
                    "the key field cannot also be the extra map; put #[redpipe(extra)] on \
                     another field",
                ));
            }
            key = Some(Key {
                ident: field.ident,
                ty: field.ty,
                name: stored_name(field.ident, field.rename.as_ref()),
            });
        } else if let Some(span) = field.extra {
            if extra.is_some() {
                errors.push(syn::Error::new(
                    span,
                    "a struct has one extra map; remove #[redpipe(extra)] from all fields but one",
                ));
            } else if let Some(rename) = &field.rename {
                errors.push(syn::Error::new(
                    rename.span(),
                    "the extra map is not stored under a name of its own; remove `rename`",
                ));
            } else if let Some((_, codec)) = &field.codec {
                errors.push(syn::Error::new(
                    *codec,
                    "the extra map's members are stored as text; remove this codec attribute",
                ));
            } else {
                extra = Some((field.ident, field.ty));
            }
        } else {
            let (value_ty, optional) = match option_inner(field.ty) {
                Some(inner) => (inner, true),
                None => (field.ty, false),
            };
            members.push((
                field.rename.as_ref().map(syn::LitStr::span),
                Member {
                    ident: field.ident,
                    value_ty,
                    optional,
                    name: stored_name(field.ident, field.rename.as_ref()),
                    codec: field.codec.as_ref().map(|(codec, _)| codec),
                },
            ));
        }
    }

    check_names(key.as_ref(), &members, &mut errors);

    if key.is_none() {
        errors.push(syn::Error::new(
            input.ident.span(),
            "#[derive(Struct)] needs a key field; mark the field holding the record's id \
             with #[redpipe(key)]",
        ));
    }

    let mut errors = errors.into_iter();
    if let Some(mut first) = errors.next() {
        first.extend(errors);
        return Err(first);
    }
    let Some(key) = key else {
        // Unreachable: a missing key field is an error above.
        return Err(syn::Error::new(Span::call_site(), "missing key field"));
    };
    Ok(Record {
        ident: input.ident,
        vis: input.vis,
        krate: crate_path(input),
        keyspace: container
            .keyspace
            .as_ref()
            .map_or_else(|| unraw(input.ident), syn::LitStr::value),
        connection: container.connection.as_ref().map(syn::LitStr::value),
        ttl,
        template: container.template.as_ref().map(syn::LitStr::value),
        ascii_keys: container.ascii_keys,
        patch_derive: &container.patch_derive,
        key,
        members: members.into_iter().map(|(_, m)| m).collect(),
        extra,
    })
}

/// Checks the container attributes; returns the TTL when it is valid.
fn check_container(container: &Container, errors: &mut Vec<syn::Error>) -> Option<i64> {
    let ttl = container
        .ttl
        .as_ref()
        .and_then(|lit| match lit.base10_parse::<i64>() {
            Ok(ttl) if ttl > 0 => Some(ttl),
            _ => {
                errors.push(syn::Error::new(
                    lit.span(),
                    "ttl is a positive number of seconds; remove it for records that never expire",
                ));
                None
            }
        });
    if let Some(lit) = &container.template {
        if lit.value().matches("%s").count() != 2 {
            errors.push(syn::Error::new(
                lit.span(),
                "the key template needs exactly two %s, the keyspace then the id, e.g. \"%s:%s\"",
            ));
        }
    }
    for lit in [&container.keyspace, &container.connection]
        .into_iter()
        .flatten()
    {
        if lit.value().is_empty() {
            errors.push(syn::Error::new(
                lit.span(),
                "this name cannot be empty; remove the attribute to use the default",
            ));
        }
    }
    ttl
}

/// Checks that stored member names are unique and differ from the key's name.
fn check_names(
    key: Option<&Key<'_>>,
    members: &[(Option<Span>, Member<'_>)],
    errors: &mut Vec<syn::Error>,
) {
    let key_name = key.map(|k| k.name.as_str());
    for (i, (rename, member)) in members.iter().enumerate() {
        let span = rename.unwrap_or_else(|| member.ident.span());
        if key_name == Some(member.name.as_str()) {
            errors.push(syn::Error::new(
                span,
                format!(
                    "member `{}` is stored under the key field's name; rename one of them",
                    member.name
                ),
            ));
        }
        if members[..i].iter().any(|(_, m)| m.name == member.name) {
            errors.push(syn::Error::new(
                span,
                format!(
                    "two members are stored as `{}`; give one a different #[redpipe(rename = \"...\")]",
                    member.name
                ),
            ));
        }
    }
}

/// The path of the `redpipe` crate in generated code.
pub(crate) fn crate_path(input: &Input<'_>) -> TokenStream {
    match &input.container.krate {
        Some(path) => quote!(#path),
        None => quote!(::redpipe),
    }
}

/// The `T` of `Option<T>` (also written `std::option::Option<T>` or
/// `core::option::Option<T>`); `None` for any other type.
pub(crate) fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    if path.qself.is_some() {
        return None;
    }
    let segments: Vec<&syn::PathSegment> = path.path.segments.iter().collect();
    let last = match segments.as_slice() {
        [last] if path.path.leading_colon.is_none() => last,
        [root, option, last] => {
            if (root.ident != "std" && root.ident != "core") || option.ident != "option" {
                return None;
            }
            last
        }
        _ => return None,
    };
    if last.ident != "Option" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.iter().collect::<Vec<_>>().as_slice() {
        [GenericArgument::Type(inner)] => Some(inner),
        _ => None,
    }
}

fn stored_name(ident: &Ident, rename: Option<&syn::LitStr>) -> String {
    rename.map_or_else(|| unraw(ident), syn::LitStr::value)
}

/// The field name as written, without `r#`.
fn unraw(ident: &Ident) -> String {
    let name = ident.to_string();
    match name.strip_prefix("r#") {
        Some(bare) => bare.to_owned(),
        None => name,
    }
}
