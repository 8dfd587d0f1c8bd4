//! Code generation for `#[pipelined]`. Generated code names only `#krate::__private::...`
//! (`::redpipe` unless `crate = path` says otherwise) and `::core::...`; names it invents
//! have mixed-site hygiene, so user code can neither collide with nor name them.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{parse_quote, FnArg, Ident, ReturnType, Signature};

use super::args::Args;
use super::item::{Function, Output};
use crate::span::located_at;

/// The path of the redpipe crate in generated code.
pub(crate) fn krate(args: &Args) -> TokenStream {
    match &args.krate {
        Some(path) => path.to_token_stream(),
        None => quote!(::redpipe),
    }
}

fn parent_ident() -> Ident {
    Ident::new("__redpipe_parent", Span::mixed_site())
}

fn nested_ident() -> Ident {
    Ident::new("__redpipe_nested", Span::mixed_site())
}

/// The rewritten signature: no `async`, the pipeline parameter takes an optional parent,
/// the return type is a deferred.
///
/// Input:  `fn incr_sum(pipe: &Pipeline, keys: &[String]) -> i64`
/// Output: `fn incr_sum<'p>(__redpipe_parent: impl Into<Parent<'p>>, keys: &[String]) -> Deferred<i64>`
pub(crate) fn signature(function: &Function, krate: &TokenStream) -> Signature {
    let mut sig = function.item.sig.clone();
    sig.asyncness = None;
    if let Some(pipe) = function.pipes.first() {
        // A named lifetime: anonymous ones are not allowed in `impl Trait` arguments.
        let lifetime = match &pipe.lifetime {
            Some(lifetime) => lifetime.clone(),
            None => {
                let lifetime = syn::Lifetime::new("'__redpipe_parent", Span::call_site());
                sig.generics.params.insert(0, parse_quote!(#lifetime));
                lifetime
            }
        };
        let parent = parent_ident();
        if let Some(FnArg::Typed(arg)) = sig.inputs.iter_mut().nth(pipe.index) {
            let span = arg.ty.span();
            arg.pat = parse_quote!(#parent);
            *arg.ty = syn::Type::Verbatim(quote_spanned! {span=>
                impl ::core::convert::Into<#krate::__private::Parent<#lifetime>>
            });
        }
    }
    if let Some(value) = function.output.value_type() {
        let span = match &sig.output {
            ReturnType::Type(_, ty) => ty.span(),
            ReturnType::Default => sig.paren_token.span.close(),
        };
        sig.output = ReturnType::Type(
            syn::Token![->](span),
            Box::new(syn::Type::Verbatim(
                quote_spanned!(span=> #krate::__private::Deferred<#value>),
            )),
        );
    }
    sig
}

/// The whole function.
///
/// Input:
/// ```text
/// #[pipelined]
/// fn incr_sum(pipe: &Pipeline, keys: &[String]) -> i64 {
///     let counts: Vec<Deferred<i64>> = keys.iter().map(|k| pipe.incr(k, 1)).collect();
///     counts.iter().map(|c| **c).sum()
/// }
/// ```
/// Output:
/// ```text
/// fn incr_sum<'p>(__redpipe_parent: impl Into<Parent<'p>>, keys: &[String]) -> Deferred<i64> {
///     let __redpipe_nested = Nested::new(__redpipe_parent);   // or Nested::on(.., "name")
///     let pipe: &Pipeline = &__redpipe_nested;
///     let counts: Vec<Deferred<i64>> = keys.iter().map(|k| pipe.incr(k, 1)).collect();
///     Nested::resolve(__redpipe_nested, move || -> i64 { counts.iter().map(|c| **c).sum() })
/// }
/// ```
/// The other forms differ only in the last line (see `finish`).
pub(crate) fn expand(function: &Function, args: &Args) -> TokenStream {
    let krate = krate(args);
    let sig = signature(function, &krate);
    let item = &function.item;
    let attrs = &item.attrs;
    let vis = &item.vis;
    let nested = nested_ident();
    let parent = parent_ident();
    let open = match &args.connection {
        Some(name) => quote!(#krate::__private::Nested::on(#parent, #name)),
        None => quote!(#krate::__private::Nested::new(#parent)),
    };
    // The user's name and type for the pipeline, with the user's spans, so the body can
    // use it (and the user's import of `Pipeline` stays used).
    let bind = function.pipes.first().map(|pipe| {
        let (pat, ty) = (&pipe.pat, &pipe.ty);
        quote!(let #pat: &#ty = &#nested;)
    });
    let finish = finish(function, &krate, bind.as_ref());
    quote! {
        #(#attrs)*
        #vis #sig {
            let #nested = #open;
            #finish
        }
    }
}

/// The statements after the nested pipeline is opened, one form per declared return type.
///
/// `T`:             `bind; body; Nested::resolve(nested, move || -> T { tail })`
/// `()`:            `bind; body; Nested::finish(nested)`
/// `Deferred<T>`:   `bind; body; let result: Deferred<T> = tail; Nested::forward(nested, result)`
/// `Result<T, E>`:
/// ```text
/// let queued = __private::queue(|| -> Result<_, <Result<T, E> as ResultParts>::Err> {
///     bind; body;
///     Ok(move || -> Result<T, E> { tail })
/// });
/// __private::resolve_queued(nested, queued)   // an error discards what was queued
/// ```
fn finish(function: &Function, krate: &TokenStream, bind: Option<&TokenStream>) -> TokenStream {
    let nested = nested_ident();
    let body = &function.body;
    let tail = &function.tail;
    let private = quote!(#krate::__private);
    // The combine step is spanned at the tail, so errors about it (a borrowed argument
    // read there cannot outlive the function) point at the tail.
    let at_tail = tail.as_ref().map_or_else(Span::call_site, Spanned::span);
    match (&function.output, tail) {
        (Output::Unit, None) => quote! {
            #bind
            #(#body)*
            #private::Nested::finish(#nested)
        },
        (Output::Unit, Some(tail)) => {
            let resolve = located_at(quote!(#private::Nested::resolve), at_tail);
            let resolve = quote_spanned!(at_tail=> #resolve(#nested, move || { #tail }));
            quote!(#bind #(#body)* #resolve)
        }
        (Output::Plain(ty), tail) => {
            let resolve = located_at(quote!(#private::Nested::resolve), at_tail);
            let resolve = quote_spanned!(at_tail=> #resolve(#nested, move || -> #ty { #tail }));
            quote!(#bind #(#body)* #resolve)
        }
        (Output::Deferred(ty), tail) => {
            let result = Ident::new("__redpipe_result", Span::mixed_site());
            quote! {
                #bind
                #(#body)*
                let #result: #ty = #tail;
                #private::Nested::forward(#nested, #result)
            }
        }
        (Output::Result { declared, .. }, tail) => {
            let queued = Ident::new("__redpipe_queued", Span::mixed_site());
            let span = declared.span();
            let resolve = quote_spanned!(span=> #private::resolve_queued);
            let combine = quote_spanned! {at_tail=>
                ::core::result::Result::Ok(move || -> #declared { #tail })
            };
            quote! {
                let #queued = #private::queue(
                    || -> ::core::result::Result<_, <#declared as #private::ResultParts>::Err> {
                        #bind
                        #(#body)*
                        #combine
                    },
                );
                #resolve(#nested, #queued)
            }
        }
    }
}
