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
    /// An error spanning all of `tokens` (first to last token, also on stable Rust).
    fn push_spanned(&mut self, tokens: impl quote::ToTokens, message: impl std::fmt::Display) {
        self.combine(syn::Error::new_spanned(tokens, message));
    }

    fn combine(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(errors) => errors.combine(error),
            None => self.0 = Some(error),
        }
    }

    fn push(&mut self, span: Span, message: impl std::fmt::Display) {
        self.combine(syn::Error::new(span, message));
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
    EarlyReads::check(&mut errors, function);
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

/// Finds reads, in the statements before the tail, of values the macro knows for certain
/// are deferreds. Those statements run while the commands are being queued, so such a
/// read finds the deferred not ready (`*` panics, `try_get` gives `NotReady`, `==` is
/// false, `to_string` gives `<not ready>`).
///
/// A value is a deferred for certain when it is:
/// - a local declared with a `Deferred<..>` type (`let a: Deferred<i64> = ..;`), unless
///   it is initialised with `Deferred::ready(..)`, whose value is there at once;
/// - a local bound to one of the expressions below (`let a = pipe.incr(k, 1);`);
/// - a command on the pipeline parameter: a method call on it, except the methods of
///   `Pipeline` that return something else ([`PIPE_METHODS_NOT_DEFERRED`]);
/// - a call given the pipeline parameter as an argument, as `pipe`, `&pipe`, `Some(pipe)`
///   or `Some(&pipe)` (`other(pipe, k)`, `User::load(&pipe, id)`, `KEYS.get(pipe, k)`):
///   such functions queue on it and return their deferred. Calls of a name that starts
///   with an upper-case letter (`Some(pipe)`, a tuple struct) are constructors, not these;
/// - `x.clone()`, `x.to_owned()` or `x.check()?` of one of these.
///
/// A read is, with such a value `a`: `*a`, `-a`, `!a`; `a` (or `&a`) as an operand of a
/// binary operator (`a + 1`, `a == 5`, `a += 1`); a method call on `a` or `&a` (`a.len()`,
/// `a.to_string()`, `a.try_get()`, `a.get_cloned()`, `a.into_inner()`), except the ones
/// that do not look at the value ([`DEFERRED_METHODS_NOT_READS`]); a field `a.name` or an
/// index `a[0]` (both go through `Deref`, `Deferred` has neither of its own).
///
/// Not reads: moving, passing (`f(a)`, `f(&a)`, `vec![a]`), cloning, returning, or using
/// `a` in the tail. Closures, `async` blocks and nested items are skipped, since they may
/// run later, and so are macro calls (`format!("{a}")`), whose tokens are not
/// expressions; a later binding of the same name (`let a = 5;`, a pattern, a `for`
/// variable) shadows it, in its scope. When unsure, the check stays silent: a false error
/// would stop code that works.
struct EarlyReads<'e> {
    errors: &'e mut Errors,
    /// The names bound so far, innermost scope last, each with what the macro knows of
    /// its value.
    scopes: Vec<Vec<(Ident, Binding)>>,
}

/// What the macro knows about a name bound in the body.
#[derive(Clone, Copy, PartialEq)]
enum Binding {
    /// The pipeline parameter.
    Pipe,
    /// Certainly a deferred.
    Deferred,
    /// Anything else, or not known.
    Other,
}

/// Methods of `Pipeline` that return something other than a deferred (all others queue a
/// command and return its deferred). Keep in step with the runtime's `Pipeline`.
const PIPE_METHODS_NOT_DEFERRED: &[&str] = &[
    "connection",
    "registry",
    "len",
    "is_empty",
    "on_execute",
    "nested",
    "nested_on",
    "execute",
    "clone",
    "to_owned",
];

/// Methods of `Deferred` that do not look at its value, so calling them before execute is
/// fine (`check` reports an error found while queueing). Any other method call on a
/// deferred either reads the value (`try_get`, `get_cloned`, `into_inner`) or goes
/// through `Deref` to the value's methods.
const DEFERRED_METHODS_NOT_READS: &[&str] = &[
    "clone",
    "to_owned",
    "check",
    "is_ready",
    "outcome",
    "into_future",
];

impl<'e> EarlyReads<'e> {
    fn check(errors: &'e mut Errors, function: &Function) {
        let Some(pipe) = function.pipes.first().and_then(|pipe| pat_ident(&pipe.pat)) else {
            return;
        };
        let mut reads = EarlyReads {
            errors,
            scopes: vec![vec![(pipe.clone(), Binding::Pipe)]],
        };
        for stmt in &function.body {
            reads.visit_stmt(stmt);
        }
    }

    fn lookup(&self, ident: &Ident) -> Binding {
        self.scopes
            .iter()
            .rev()
            .flat_map(|scope| scope.iter().rev())
            .find(|(name, _)| name == ident)
            .map_or(Binding::Other, |&(_, binding)| binding)
    }

    fn bind(&mut self, ident: &Ident, binding: Binding) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.push((ident.clone(), binding));
        }
    }

    /// Every name `pat` binds shadows what came before; none is known to be a deferred.
    fn bind_pattern(&mut self, pat: &Pat) {
        struct Names(Vec<Ident>);
        impl<'ast> Visit<'ast> for Names {
            fn visit_pat_ident(&mut self, node: &'ast syn::PatIdent) {
                self.0.push(node.ident.clone());
                visit::visit_pat_ident(self, node);
            }
        }
        let mut names = Names(Vec::new());
        names.visit_pat(pat);
        for name in &names.0 {
            self.bind(name, Binding::Other);
        }
    }

    fn scoped(&mut self, f: impl FnOnce(&mut Self)) {
        self.scopes.push(Vec::new());
        f(self);
        self.scopes.pop();
    }

    /// What `expr` names, when it is a plain local name.
    fn binding_of(&self, expr: &Expr) -> Binding {
        match expr {
            Expr::Path(path) if path.qself.is_none() => path
                .path
                .get_ident()
                .map_or(Binding::Other, |ident| self.lookup(ident)),
            _ => Binding::Other,
        }
    }

    /// `pipe`, `&pipe`, `Some(pipe)` or `Some(&pipe)`: the forms a pipelined function
    /// accepts as its parent.
    fn is_pipe_argument(&self, expr: &Expr) -> bool {
        match unparen(expr) {
            Expr::Reference(reference) => self.is_pipe_argument(&reference.expr),
            Expr::Call(call) => {
                is_path_named(&call.func, "Some")
                    && call.args.len() == 1
                    && self.is_pipe_argument(&call.args[0])
            }
            other => self.binding_of(other) == Binding::Pipe,
        }
    }

    /// Whether `expr` certainly evaluates to a deferred (see the type's documentation).
    fn is_deferred(&self, expr: &Expr) -> bool {
        match unparen(expr) {
            Expr::MethodCall(call) => {
                let method = call.method.to_string();
                if self.binding_of(unparen(&call.receiver)) == Binding::Pipe {
                    !PIPE_METHODS_NOT_DEFERRED.contains(&method.as_str())
                } else if matches!(method.as_str(), "clone" | "to_owned") {
                    self.is_deferred(&call.receiver)
                } else {
                    call.args.iter().any(|arg| self.is_pipe_argument(arg))
                }
            }
            Expr::Call(call) => {
                let Expr::Path(path) = unparen(&call.func) else {
                    return false;
                };
                let is_function = path.path.segments.last().is_some_and(|last| {
                    !last
                        .ident
                        .to_string()
                        .starts_with(|c: char| c.is_ascii_uppercase())
                });
                is_function && call.args.iter().any(|arg| self.is_pipe_argument(arg))
            }
            Expr::Try(try_expr) => match unparen(&try_expr.expr) {
                Expr::MethodCall(call) => {
                    call.method == "check" && self.is_deferred(&call.receiver)
                }
                _ => false,
            },
            other => self.binding_of(other) == Binding::Deferred,
        }
    }

    /// Reports `read` when `operand` is a deferred.
    fn report(&mut self, operand: &Expr, read: impl quote::ToTokens) {
        if !self.is_deferred(operand) {
            return;
        }
        let what = match unparen(operand) {
            Expr::Path(path) => match path.path.get_ident() {
                Some(ident) => format!("`{ident}` is a deferred"),
                None => "this is a deferred".to_owned(),
            },
            _ => "this is a deferred".to_owned(),
        };
        self.errors.push_spanned(
            read,
            format!(
                "{what}: its value is only known after the pipeline executes; read it in \
                 the tail (the last expression) of the #[pipelined] function, which runs \
                 after the round trip"
            ),
        );
    }
}

/// `expr` without parentheses (and invisible groups from `macro_rules!`).
fn unparen(expr: &Expr) -> &Expr {
    match expr {
        Expr::Paren(paren) => unparen(&paren.expr),
        Expr::Group(group) => unparen(&group.expr),
        other => other,
    }
}

/// Whether `expr` is the path `name` (one segment).
fn is_path_named(expr: &Expr, name: &str) -> bool {
    matches!(unparen(expr), Expr::Path(path) if path.qself.is_none() && path.path.is_ident(name))
}

/// Whether `ty` is `Deferred<..>` (any path ending in `Deferred`).
fn is_deferred_type(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(path)
        if path.qself.is_none()
            && path.path.segments.last().is_some_and(|last| last.ident == "Deferred"))
}

/// Whether `expr` is `Deferred::ready(..)`, a deferred whose value is there at once.
fn is_ready_deferred(expr: &Expr) -> bool {
    let Expr::Call(call) = unparen(expr) else {
        return false;
    };
    let Expr::Path(path) = unparen(&call.func) else {
        return false;
    };
    let names: Vec<String> = path
        .path
        .segments
        .iter()
        .map(|segment| segment.ident.to_string())
        .collect();
    matches!(names.as_slice(), [.., ty, f] if ty == "Deferred" && f == "ready")
}

impl<'ast> Visit<'ast> for EarlyReads<'_> {
    fn visit_block(&mut self, node: &'ast syn::Block) {
        self.scoped(|reads| visit::visit_block(reads, node));
    }

    /// `let`: the initialiser is read before the new name exists (`let a = a + 1;` reads
    /// the old `a`), then the name is bound.
    fn visit_local(&mut self, node: &'ast syn::Local) {
        if let Some(init) = &node.init {
            self.visit_expr(&init.expr);
            if let Some((_, diverge)) = &init.diverge {
                self.visit_expr(diverge);
            }
        }
        let (pat, ty) = match &node.pat {
            Pat::Type(typed) => (&*typed.pat, Some(&*typed.ty)),
            other => (other, None),
        };
        let init = node.init.as_ref().map(|init| &*init.expr);
        let deferred = match ty {
            Some(ty) if is_deferred_type(ty) => !init.is_some_and(is_ready_deferred),
            Some(syn::Type::Infer(_)) | None => init.is_some_and(|init| self.is_deferred(init)),
            Some(_) => false,
        };
        match pat {
            Pat::Ident(ident) if deferred && ident.by_ref.is_none() && ident.subpat.is_none() => {
                self.bind(&ident.ident, Binding::Deferred);
            }
            other => self.bind_pattern(other),
        }
    }

    fn visit_expr_unary(&mut self, node: &'ast syn::ExprUnary) {
        self.report(&node.expr, node);
        visit::visit_expr_unary(self, node);
    }

    fn visit_expr_binary(&mut self, node: &'ast syn::ExprBinary) {
        let operand = [&*node.left, &*node.right]
            .into_iter()
            .map(without_references)
            .find(|operand| self.is_deferred(operand));
        if let Some(operand) = operand {
            self.report(operand, node);
        }
        visit::visit_expr_binary(self, node);
    }

    fn visit_expr_method_call(&mut self, node: &'ast ExprMethodCall) {
        let method = node.method.to_string();
        if !DEFERRED_METHODS_NOT_READS.contains(&method.as_str()) {
            self.report(without_references(&node.receiver), node);
        }
        visit::visit_expr_method_call(self, node);
    }

    fn visit_expr_field(&mut self, node: &'ast syn::ExprField) {
        self.report(without_references(&node.base), node);
        visit::visit_expr_field(self, node);
    }

    fn visit_expr_index(&mut self, node: &'ast syn::ExprIndex) {
        self.report(without_references(&node.expr), node);
        visit::visit_expr_index(self, node);
    }

    /// `if let` binds for the `then` branch only.
    fn visit_expr_if(&mut self, node: &'ast syn::ExprIf) {
        self.scoped(|reads| {
            reads.visit_expr(&node.cond);
            reads.visit_block(&node.then_branch);
        });
        if let Some((_, else_branch)) = &node.else_branch {
            self.visit_expr(else_branch);
        }
    }

    fn visit_expr_while(&mut self, node: &'ast syn::ExprWhile) {
        self.scoped(|reads| {
            reads.visit_expr(&node.cond);
            reads.visit_block(&node.body);
        });
    }

    /// The scrutinee of `if let`/`while let` is read before the pattern binds.
    fn visit_expr_let(&mut self, node: &'ast syn::ExprLet) {
        self.visit_expr(&node.expr);
        self.bind_pattern(&node.pat);
    }

    fn visit_expr_for_loop(&mut self, node: &'ast syn::ExprForLoop) {
        self.visit_expr(&node.expr);
        self.scoped(|reads| {
            reads.bind_pattern(&node.pat);
            reads.visit_block(&node.body);
        });
    }

    /// A `match` arm's names (seen by its guard, `Some(x) if x > 0`, and its body).
    fn visit_arm(&mut self, node: &'ast syn::Arm) {
        self.scoped(|reads| {
            reads.bind_pattern(&node.pat);
            if let Pat::Guard(guarded) = &node.pat {
                reads.visit_expr(&guarded.guard);
            }
            reads.visit_expr(&node.body);
        });
    }

    fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
    fn visit_expr_async(&mut self, _: &'ast syn::ExprAsync) {}
    fn visit_item(&mut self, _: &'ast syn::Item) {}
    fn visit_macro(&mut self, _: &'ast Macro) {}
}

/// `&a`, `&&a`, `(&a)`: what a binary operator, a method call, a field or an index reads
/// through the references.
fn without_references(expr: &Expr) -> &Expr {
    match unparen(expr) {
        Expr::Reference(reference) => without_references(&reference.expr),
        other => other,
    }
}
