//! The arguments of `#[pipelined(...)]`.

use proc_macro2::TokenStream;
use syn::parse::Parser;
use syn::{LitStr, Path};

/// `connection = "name"` and `crate = path`, each at most once.
#[derive(Default)]
pub(crate) struct Args {
    /// The connection the function's commands go to, whatever the parent uses.
    pub(crate) connection: Option<LitStr>,
    /// The path of the redpipe crate, for a renamed dependency.
    pub(crate) krate: Option<Path>,
}

impl Args {
    pub(crate) fn parse(tokens: TokenStream) -> syn::Result<Args> {
        let mut args = Args::default();
        let parser = syn::meta::parser(|meta| {
            if meta.path.is_ident("connection") {
                if args.connection.is_some() {
                    return Err(meta.error("duplicate #[pipelined] argument `connection`"));
                }
                args.connection = Some(meta.value()?.parse()?);
                Ok(())
            } else if meta.path.is_ident("crate") {
                if args.krate.is_some() {
                    return Err(meta.error("duplicate #[pipelined] argument `crate`"));
                }
                let value = meta.value()?;
                // `crate = path` or, as tokio spells it, `crate = "path"`.
                args.krate = Some(if value.peek(LitStr) {
                    value.parse::<LitStr>()?.parse()?
                } else {
                    value.call(Path::parse_mod_style)?
                });
                Ok(())
            } else {
                Err(meta.error(
                    "unknown #[pipelined] argument; expected `connection = \"name\"` or `crate = path`",
                ))
            }
        });
        parser.parse2(tokens)?;
        Ok(args)
    }
}
