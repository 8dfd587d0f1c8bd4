//! Reading the derive input: the struct's shape and its `#[redpipe(...)]` attributes, as
//! written. Mistakes in one attribute are collected, not fatal, so the user sees them all;
//! only a shape the derive cannot handle at all (an enum, a tuple struct, generics) stops
//! here.

use proc_macro2::Span;
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Ident, LitInt, LitStr, Path, Type, Visibility};

/// The struct as written.
pub(crate) struct Input<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) vis: &'a Visibility,
    pub(crate) container: Container,
    pub(crate) fields: Vec<Field<'a>>,
    /// Attribute mistakes found while parsing; validation reports them with its own.
    pub(crate) errors: Vec<syn::Error>,
}

/// The container attributes: `#[redpipe(keyspace = "U", ...)]` on the struct.
#[derive(Default)]
pub(crate) struct Container {
    pub(crate) krate: Option<Path>,
    pub(crate) keyspace: Option<LitStr>,
    pub(crate) connection: Option<LitStr>,
    pub(crate) ttl: Option<LitInt>,
    pub(crate) template: Option<LitStr>,
    pub(crate) ascii_keys: bool,
    pub(crate) patch_derive: Vec<Path>,
}

/// One named field and its attributes.
pub(crate) struct Field<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) ty: &'a Type,
    /// The span of `key` in `#[redpipe(key)]`.
    pub(crate) key: Option<Span>,
    /// The span of `extra` in `#[redpipe(extra)]`.
    pub(crate) extra: Option<Span>,
    pub(crate) rename: Option<LitStr>,
    pub(crate) codec: Option<(Codec, Span)>,
}

/// A codec chosen by a field attribute.
pub(crate) enum Codec {
    Ascii,
    StringList,
    Json,
    Binary,
    Custom(Box<Type>),
}

impl<'a> Input<'a> {
    /// **Input:** a `DeriveInput`. **Output:** the struct, or an error for a shape the
    /// derive cannot implement `Struct` for.
    pub(crate) fn from_derive(input: &'a DeriveInput) -> syn::Result<Self> {
        let named = match &input.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(named) => named,
                Fields::Unnamed(fields) => {
                    return Err(syn::Error::new(
                        fields.span(),
                        "#[derive(Struct)] needs named fields, one per hash member; \
                         give each field a name, e.g. `struct User { #[redpipe(key)] id: String, ... }`",
                    ))
                }
                Fields::Unit => {
                    return Err(syn::Error::new(
                        input.ident.span(),
                        "#[derive(Struct)] needs named fields: a key field marked \
                         #[redpipe(key)] and the hash members",
                    ))
                }
            },
            Data::Enum(data) => {
                return Err(syn::Error::new(
                    data.enum_token.span,
                    "#[derive(Struct)] works on structs only; store an enum as a member \
                     of a struct with #[redpipe(json)]",
                ))
            }
            Data::Union(data) => {
                return Err(syn::Error::new(
                    data.union_token.span,
                    "#[derive(Struct)] works on structs with named fields only, not unions",
                ))
            }
        };
        if !input.generics.params.is_empty() {
            return Err(syn::Error::new_spanned(
                &input.generics,
                "#[derive(Struct)] does not support generic parameters; \
                 use concrete types for the members (a record's layout in Redis is fixed)",
            ));
        }
        let mut errors = Vec::new();
        let container = parse_container(input, &mut errors);
        let fields = named
            .named
            .iter()
            .filter_map(|field| {
                let ident = field.ident.as_ref()?;
                Some(parse_field(ident, field, &mut errors))
            })
            .collect();
        Ok(Input {
            ident: &input.ident,
            vis: &input.vis,
            container,
            fields,
            errors,
        })
    }
}

const CONTAINER_ATTRIBUTES: &str =
    "keyspace, connection, ttl, template, ascii_keys, patch_derive, crate";
const FIELD_ATTRIBUTES: &str = "key, extra, rename, ascii, string_list, json, binary, codec";

fn parse_container(input: &DeriveInput, errors: &mut Vec<syn::Error>) -> Container {
    let mut container = Container::default();
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("redpipe")) {
        let result = attr.parse_nested_meta(|meta| {
            let path = &meta.path;
            if path.is_ident("keyspace") {
                set_once(&mut container.keyspace, meta.value()?.parse()?, &meta, errors);
            } else if path.is_ident("connection") {
                set_once(&mut container.connection, meta.value()?.parse()?, &meta, errors);
            } else if path.is_ident("ttl") {
                set_once(&mut container.ttl, meta.value()?.parse()?, &meta, errors);
            } else if path.is_ident("template") {
                set_once(&mut container.template, meta.value()?.parse()?, &meta, errors);
            } else if path.is_ident("crate") {
                let value = meta.value()?;
                let krate = if value.peek(LitStr) {
                    value.parse::<LitStr>()?.parse()?
                } else {
                    value.parse()?
                };
                set_once(&mut container.krate, krate, &meta, errors);
            } else if path.is_ident("ascii_keys") {
                if container.ascii_keys {
                    errors.push(duplicate(&meta));
                }
                container.ascii_keys = true;
            } else if path.is_ident("patch_derive") {
                meta.parse_nested_meta(|derive| {
                    container.patch_derive.push(derive.path);
                    Ok(())
                })?;
            } else if FIELD_ATTRIBUTES.split(", ").any(|f| path.is_ident(f)) {
                return Err(meta.error(
                    "this is a field attribute; put it on a field, e.g. `#[redpipe(key)] id: String`",
                ));
            } else {
                return Err(meta.error(format!(
                    "unknown redpipe attribute on a struct; expected one of: {CONTAINER_ATTRIBUTES}"
                )));
            }
            Ok(())
        });
        if let Err(error) = result {
            errors.push(error);
        }
    }
    container
}

fn parse_field<'a>(
    ident: &'a Ident,
    field: &'a syn::Field,
    errors: &mut Vec<syn::Error>,
) -> Field<'a> {
    let mut parsed = Field {
        ident,
        ty: &field.ty,
        key: None,
        extra: None,
        rename: None,
        codec: None,
    };
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("redpipe")) {
        let result = attr.parse_nested_meta(|meta| {
            let path = &meta.path;
            let span = path.span();
            let codec = if path.is_ident("key") {
                set_once(&mut parsed.key, span, &meta, errors);
                None
            } else if path.is_ident("extra") {
                set_once(&mut parsed.extra, span, &meta, errors);
                None
            } else if path.is_ident("rename") {
                set_once(&mut parsed.rename, meta.value()?.parse()?, &meta, errors);
                None
            } else if path.is_ident("ascii") {
                Some(Codec::Ascii)
            } else if path.is_ident("string_list") {
                Some(Codec::StringList)
            } else if path.is_ident("json") {
                Some(Codec::Json)
            } else if path.is_ident("binary") {
                Some(Codec::Binary)
            } else if path.is_ident("codec") {
                Some(Codec::Custom(Box::new(meta.value()?.parse()?)))
            } else if CONTAINER_ATTRIBUTES.split(", ").any(|c| path.is_ident(c)) {
                return Err(meta.error(
                    "this is a struct attribute; put it on the struct, above `struct`",
                ));
            } else {
                return Err(meta.error(format!(
                    "unknown redpipe attribute on a field; expected one of: {FIELD_ATTRIBUTES}"
                )));
            };
            if let Some(codec) = codec {
                if parsed.codec.is_some() {
                    errors.push(meta.error(
                        "a member has one codec; remove all but one of ascii, string_list, json, binary, codec",
                    ));
                } else {
                    parsed.codec = Some((codec, span));
                }
            }
            Ok(())
        });
        if let Err(error) = result {
            errors.push(error);
        }
    }
    parsed
}

/// Stores an attribute's value, or records a "duplicate" error for the second one.
fn set_once<T>(
    slot: &mut Option<T>,
    value: T,
    meta: &ParseNestedMeta<'_>,
    errors: &mut Vec<syn::Error>,
) {
    if slot.is_some() {
        errors.push(duplicate(meta));
    } else {
        *slot = Some(value);
    }
}

fn duplicate(meta: &ParseNestedMeta<'_>) -> syn::Error {
    meta.error("duplicate redpipe attribute; keep only one")
}
