//! The function `#[pipelined]` is applied to, split into the parts the expansion needs.

use proc_macro2::{Span, TokenStream};
use syn::spanned::Spanned;
use syn::{
    Expr, ExprMacro, FnArg, GenericArgument, ItemFn, Lifetime, Pat, PathArguments, ReturnType,
    Stmt, Type,
};

/// What the function declares it returns, which decides the form of the expansion.
pub(crate) enum Output {
    /// No return type, or `()`: the function only queues; a tail, if any, is the combine
    /// step.
    Unit,
    /// `T`: the tail is the combine step and its value fills the `Deferred<T>`.
    Plain(Type),
    /// `Deferred<T>`: no combine step; the tail is a deferred returned as is.
    Deferred(Type),
    /// `Result<T, E>`: `?` in the body and the tail; `ok` is `T`.
    Result { declared: Box<Type>, ok: Box<Type> },
}

impl Output {
    fn of(output: &ReturnType) -> Output {
        let ty = match output {
            ReturnType::Default => return Output::Unit,
            ReturnType::Type(_, ty) => &**ty,
        };
        if let Type::Tuple(tuple) = ty {
            if tuple.elems.is_empty() {
                return Output::Unit;
            }
        }
        match last_segment(ty) {
            Some(("Deferred", _)) => Output::Deferred(ty.clone()),
            Some(("Result", Some(ok))) => Output::Result {
                declared: Box::new(ty.clone()),
                ok: Box::new(ok.clone()),
            },
            _ => Output::Plain(ty.clone()),
        }
    }

    /// `T` of the `Deferred<T>` the rewritten function returns, or `None` when the declared
    /// type already is a deferred.
    pub(crate) fn value_type(&self) -> Option<TokenStream> {
        use quote::ToTokens;
        match self {
            Output::Unit => Some(quote::quote!(())),
            Output::Plain(ty) => Some(ty.to_token_stream()),
            Output::Result { ok, .. } => Some(ok.to_token_stream()),
            Output::Deferred(_) => None,
        }
    }
}

/// The name of a path type's last segment and its first generic type argument.
fn last_segment(ty: &Type) -> Option<(&'static str, Option<&Type>)> {
    let Type::Path(path) = ty else { return None };
    let segment = path.path.segments.last()?;
    let name = ["Deferred", "Result"]
        .into_iter()
        .find(|name| segment.ident == name)?;
    let first = match &segment.arguments {
        PathArguments::AngleBracketed(args) => args.args.iter().find_map(|arg| match arg {
            GenericArgument::Type(ty) => Some(ty),
            _ => None,
        }),
        _ => None,
    };
    first.map(|ty| (name, Some(ty)))
}

/// The pipeline parameter: its position, its pattern (the name the body uses) and the
/// lifetime written on its reference, if any.
pub(crate) struct PipeParam {
    pub(crate) index: usize,
    pub(crate) pat: Box<Pat>,
    pub(crate) lifetime: Option<Lifetime>,
    /// The user's spelling of the pipeline type (`Pipeline`, `redpipe::Pipeline`).
    pub(crate) ty: Type,
    pub(crate) span: Span,
}

/// For `&Pipeline`, `&redpipe::Pipeline`, `&'a Pipeline`: the lifetime and the type.
fn is_pipeline_ref(ty: &Type) -> Option<(Option<Lifetime>, Type)> {
    let Type::Reference(reference) = ty else {
        return None;
    };
    if reference.mutability.is_some() {
        return None;
    }
    let Type::Path(path) = &*reference.elem else {
        return None;
    };
    let segment = path.path.segments.last()?;
    (segment.ident == "Pipeline" && segment.arguments.is_empty())
        .then(|| (reference.lifetime.clone(), (*reference.elem).clone()))
}

/// The parsed function.
pub(crate) struct Function {
    pub(crate) item: ItemFn,
    pub(crate) output: Output,
    /// Every `&Pipeline` parameter (validation wants exactly one).
    pub(crate) pipes: Vec<PipeParam>,
    /// The statements before the tail.
    pub(crate) body: Vec<Stmt>,
    /// The tail expression (no semicolon after it).
    pub(crate) tail: Option<Expr>,
}

impl Function {
    pub(crate) fn new(item: ItemFn) -> Function {
        let output = Output::of(&item.sig.output);
        let pipes = item
            .sig
            .inputs
            .iter()
            .enumerate()
            .filter_map(|(index, arg)| match arg {
                FnArg::Typed(typed) => is_pipeline_ref(&typed.ty).map(|(lifetime, ty)| PipeParam {
                    index,
                    pat: typed.pat.clone(),
                    lifetime,
                    ty,
                    span: typed.span(),
                }),
                FnArg::Receiver(_) => None,
            })
            .collect();
        let mut body = item.block.stmts.clone();
        let tail = match body.pop() {
            Some(Stmt::Expr(expr, None)) => Some(expr),
            Some(Stmt::Macro(mac)) if mac.semi_token.is_none() => Some(Expr::Macro(ExprMacro {
                attrs: mac.attrs,
                mac: mac.mac,
            })),
            Some(other) => {
                body.push(other);
                None
            }
            None => None,
        };
        Function {
            item,
            output,
            pipes,
            body,
            tail,
        }
    }
}
