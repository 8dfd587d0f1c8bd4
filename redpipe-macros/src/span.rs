//! Span helpers shared by the macros.

use proc_macro2::{Group, Span, TokenStream, TokenTree};

/// Moves every token to `span`'s location, keeping its hygiene, so that a type error in
/// generated code points at the user's token it concerns rather than at the attribute or
/// derive.
pub(crate) fn located_at(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|token| match token {
            TokenTree::Group(group) => {
                let mut moved = Group::new(group.delimiter(), located_at(group.stream(), span));
                moved.set_span(group.span().located_at(span));
                TokenTree::Group(moved)
            }
            mut other => {
                other.set_span(other.span().located_at(span));
                other
            }
        })
        .collect()
}
