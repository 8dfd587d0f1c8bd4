//! What `#[pipelined]` emits when validation fails: the rewritten signature with a body
//! that never runs, beside the errors, so call sites type-check and report nothing more.

use proc_macro2::TokenStream;
use quote::quote;

use super::args::Args;
use super::expand::{krate, signature};
use super::item::Function;

/// Input: a function with mistakes. Output: `fn f(<rewritten signature>) { unreachable!() }`
/// plus `compile_error!`s (the item never compiles, so the body never runs).
pub(crate) fn fallback(function: &Function, args: &Args, error: &syn::Error) -> TokenStream {
    let krate = krate(args);
    let sig = signature(function, &krate);
    let attrs = &function.item.attrs;
    let vis = &function.item.vis;
    let error = error.to_compile_error();
    quote! {
        #error
        #(#attrs)*
        #[allow(unused_variables)]
        #vis #sig {
            ::core::unreachable!()
        }
    }
}
