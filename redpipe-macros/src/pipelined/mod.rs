//! `#[pipelined]`: parse the arguments and the function, validate, expand.

mod args;
mod expand;
mod fallback;
mod item;
mod validate;

use proc_macro2::TokenStream;

/// The whole macro: errors become `compile_error!`s here and nowhere else.
pub(crate) fn pipelined(args: TokenStream, input: TokenStream) -> TokenStream {
    let item: syn::ItemFn = match syn::parse2(input.clone()) {
        Ok(item) => item,
        Err(error) => {
            // Not a function: report it and keep the tokens, so nothing else breaks.
            let error = syn::Error::new(
                error.span(),
                format!("#[pipelined] applies to a function: {error}"),
            )
            .to_compile_error();
            return quote::quote!(#error #input);
        }
    };
    let function = item::Function::new(item);
    let args = match args::Args::parse(args) {
        Ok(args) => args,
        Err(error) => return fallback::fallback(&function, &args::Args::default(), &error),
    };
    match validate::validate(&function) {
        Ok(()) => expand::expand(&function, &args),
        Err(error) => fallback::fallback(&function, &args, &error),
    }
}
