//! Every diagnostic `#[pipelined]` gives, each spanned at the user's token and saying what
//! to do instead. Independent mistakes are combined so the user sees all of them at once.

use proc_macro2::{Ident, Span, TokenStream, TokenTree};
use syn::spanned::Spanned;
use syn::visit::{self, Visit};
use syn::{Expr, ExprAwait, ExprCall, ExprMethodCall, ExprPath, ExprReturn, Macro, Pat};

use super::item::{Function, Output};

/// Collects errors; `finish` combines them into one.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, span: Span, message: impl std::fmt::Display) {
        let error = syn::Error::new(span, message);
        match &mut self.0 {
            Some(errors) => errors.combine(error),
            None => self.0 = Some(error),
        }
    }

    fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

pub(crate) fn validate(function: &Function) -> syn::Result<()> {
    let mut errors = Errors::default();
    let sig = &function.item.sig;
    if let Some(asyncness) = sig.asyncness {
        errors.push(
            asyncness.span,
            "#[pipelined] cannot be applied to `async fn`; the body only queues commands, \
             await the returned deferred instead",
        );
    }
    match function.pipes.as_slice() {
        [] => errors.push(
            sig.paren_token.span.join(),
            "#[pipelined] needs a pipeline parameter such as `pipe: &Pipeline`; \
             add one (any name, any position) and queue the commands on it",
        ),
        [_] => {}
        [_, extra @ ..] => {
            for pipe in extra {
                errors.push(
                    pipe.span,
                    "#[pipelined] takes exactly one pipeline parameter; remove this one \
                     (nested calls take the same pipeline)",
                );
            }
        }
    }
    let mut returns = Returns(&mut errors);
    for stmt in &function.body {
        returns.visit_stmt(stmt);
    }
    match (&function.tail, &function.output) {
        (None, Output::Unit) => {}
        (None, output) => {
            let what = match output {
                Output::Deferred(_) => "a deferred from the body, returned as is",
                Output::Result { .. } => "the combine step, such as `Ok(*count + 1)`",
                _ => "the combine step, which runs after execute and gives the result",
            };
            errors.push(
                function.item.block.brace_token.span.close(),
                format!(
                    "#[pipelined] function is missing its tail expression: end the body \
                     with {what} (no semicolon)"
                ),
            );
        }
        (Some(tail), Output::Deferred(_)) => Returns(&mut errors).visit_expr(tail),
        (Some(tail), _) => {
            let pipe = function.pipes.first().and_then(|pipe| pat_ident(&pipe.pat));
            CombineStep {
                errors: &mut errors,
                pipe,
                closures: 0,
            }
            .visit_expr(tail);
        }
    }
    errors.finish()
}

fn pat_ident(pat: &Pat) -> Option<&Ident> {
    match pat {
        Pat::Ident(ident) => Some(&ident.ident),
        _ => None,
    }
}

/// Finds `return` in the body, outside closures, async blocks and nested items.
struct Returns<'e>(&'e mut Errors);

impl<'ast> Visit<'ast> for Returns<'_> {
    fn visit_expr_return(&mut self, node: &'ast ExprReturn) {
        self.0.push(
            node.return_token.span,
            "#[pipelined] does not allow an early `return`: the function must reach its \
             tail so its pipeline is finished; use `if`/`else` around the commands, or \
             return a `Result` and use `?` to abandon what the function queued",
        );
        visit::visit_expr_return(self, node);
    }
    fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
    fn visit_expr_async(&mut self, _: &'ast syn::ExprAsync) {}
    fn visit_item(&mut self, _: &'ast syn::Item) {}
}

/// Finds what cannot run in the combine step: the pipeline, creating or executing a
/// pipeline, `.await` and `return`.
struct CombineStep<'e> {
    errors: &'e mut Errors,
    pipe: Option<&'e Ident>,
    /// How many closures deep the visit is (a `return` there leaves the closure only).
    closures: usize,
}

const PIPE_IN_COMBINE: &str = "the combine step (the tail expression) runs after execute, \
                               when the pipeline is gone; queue every command in the body \
                               before the tail and read only deferreds in the tail";

const NETWORK_IN_COMBINE: &str = "the combine step (the tail expression) cannot create or \
                                  execute a pipeline: a network call there cannot be \
                                  pipelined; queue the command in the body, or return a \
                                  deferred and let the caller decide";

impl CombineStep<'_> {
    fn mentions_pipe(&self, tokens: TokenStream) -> Option<Span> {
        let pipe = self.pipe?;
        tokens.into_iter().find_map(|token| match token {
            TokenTree::Ident(ident) if ident == *pipe => Some(ident.span()),
            TokenTree::Group(group) => self.mentions_pipe(group.stream()),
            _ => None,
        })
    }
}

impl<'ast> Visit<'ast> for CombineStep<'_> {
    fn visit_expr_path(&mut self, node: &'ast ExprPath) {
        if let (Some(pipe), Some(ident)) = (self.pipe, node.path.get_ident()) {
            if ident == pipe && node.qself.is_none() {
                self.errors.push(
                    ident.span(),
                    format!("`{pipe}` cannot be used in the combine step: {PIPE_IN_COMBINE}"),
                );
            }
        }
        visit::visit_expr_path(self, node);
    }

    fn visit_macro(&mut self, node: &'ast Macro) {
        if let Some(span) = self.mentions_pipe(node.tokens.clone()) {
            let pipe = self.pipe.map(ToString::to_string).unwrap_or_default();
            self.errors.push(
                span,
                format!("`{pipe}` cannot be used in the combine step: {PIPE_IN_COMBINE}"),
            );
        }
        visit::visit_macro(self, node);
    }

    fn visit_expr_method_call(&mut self, node: &'ast ExprMethodCall) {
        if node.method == "execute" {
            self.errors.push(node.method.span(), NETWORK_IN_COMBINE);
        }
        visit::visit_expr_method_call(self, node);
    }

    fn visit_expr_call(&mut self, node: &'ast ExprCall) {
        if let Expr::Path(path) = &*node.func {
            let segments: Vec<String> = path
                .path
                .segments
                .iter()
                .map(|segment| segment.ident.to_string())
                .collect();
            let creates = match segments.as_slice() {
                [.., last] if last == "pipeline" || last == "pipeline_on" => true,
                [.., ty, f] => ty == "Nested" && (f == "new" || f == "on"),
                _ => false,
            };
            if creates {
                self.errors.push(node.func.span(), NETWORK_IN_COMBINE);
            }
        }
        visit::visit_expr_call(self, node);
    }

    fn visit_expr_await(&mut self, node: &'ast ExprAwait) {
        self.errors.push(
            node.await_token.span(),
            "`.await` cannot be used in the combine step: it runs synchronously after \
             execute; queue the command in the body (pass the pipeline to the function you \
             call) and read its deferred in the tail",
        );
        visit::visit_expr_await(self, node);
    }

    fn visit_expr_return(&mut self, node: &'ast ExprReturn) {
        if self.closures == 0 {
            self.errors.push(
                node.return_token.span,
                "#[pipelined] does not allow `return` in the combine step; make the tail \
                 an expression that evaluates to the result",
            );
        }
        visit::visit_expr_return(self, node);
    }

    fn visit_expr_closure(&mut self, node: &'ast syn::ExprClosure) {
        self.closures += 1;
        visit::visit_expr_closure(self, node);
        self.closures -= 1;
    }

    fn visit_expr_async(&mut self, _: &'ast syn::ExprAsync) {}
    fn visit_item(&mut self, _: &'ast syn::Item) {}
}
