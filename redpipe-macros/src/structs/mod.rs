//! `#[derive(Struct)]`: parse the struct and its `#[redpipe(...)]` attributes
//! ([`parse`]), check what the attributes cannot express ([`validate`]), then generate the
//! patch type and the `Struct` impl ([`expand`]). When validation fails, [`fallback`]
//! still emits the patch type and an impl, so uses of the struct get no follow-on errors.

mod expand;
mod fallback;
mod parse;
mod validate;

use proc_macro2::TokenStream;

/// The derive's entry point: the generated items, or the errors followed by the fallback.
pub(crate) fn derive(input: TokenStream) -> TokenStream {
    let input = match syn::parse2::<syn::DeriveInput>(input) {
        Ok(input) => input,
        Err(error) => return error.to_compile_error(),
    };
    let parsed = match parse::Input::from_derive(&input) {
        Ok(parsed) => parsed,
        Err(error) => return error.to_compile_error(),
    };
    match validate::validate(&parsed) {
        Ok(record) => expand::expand(&record),
        Err(error) => {
            let mut tokens = error.to_compile_error();
            tokens.extend(fallback::expand(&parsed));
            tokens
        }
    }
}
