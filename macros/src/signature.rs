//! What both kinds of benchmark expansion share: how the attribute treats
//! a function, the shape of its bencher argument, and the tokens of a
//! throughput. `expand.rs` and `cases.rs` both build on this.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, Type};

/// How the attribute treats the function.
pub(crate) enum Mode {
    /// `fn f()`: registered as a benchmark, and instrumented when called.
    Bench,
    /// `fn f(b: &mut Bencher)`: registered as a benchmark.
    BenchWithBencher,
    /// `async fn f()` with `runtime = "..."`: registered as a benchmark run
    /// on that runtime, and instrumented when called.
    AsyncBench,
    /// A function with `args`, `consts` or `types`: one benchmark case per
    /// combination; `bencher` when it takes `b: &mut Bencher` first.
    Cases { bencher: bool },
    /// Anything else: each call is timed.
    App,
}

/// `Throughput::Bytes(expr as u64)` or `Elements(...)`.
pub(crate) fn throughput(krate: &TokenStream, kind: &syn::Ident, n: &syn::Expr) -> TokenStream {
    let variant = if kind == "bytes" {
        quote!(Bytes)
    } else {
        quote!(Elements)
    };
    quote_spanned!(n.span()=> #krate::Throughput::#variant(#krate::__private::units(#n)))
}

/// `threads` with a `&mut Bencher`: the closure it is given cannot be
/// shared between threads; the bencher has its own form.
pub(crate) fn threads_with_bencher(span: Span) -> syn::Error {
    syn::Error::new(
        span,
        "`threads` applies to a benchmark that does not take a `Bencher`; with one, call `b.iter_threads(n, || ...)` in its body",
    )
}

/// Whether the argument's type is `Bencher` (by any path, behind any
/// reference): `BencherConfig` or `MyBencher` is not.
pub(crate) fn mentions_bencher(arg: &FnArg) -> bool {
    let FnArg::Typed(pat) = arg else {
        return false;
    };
    let mut ty = &*pat.ty;
    while let Type::Reference(r) = ty {
        ty = &r.elem;
    }
    is_bencher_path(ty)
}

fn is_bencher_path(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Bencher"))
}

pub(crate) fn is_mut_ref_bencher(arg: &FnArg) -> bool {
    let FnArg::Typed(pat) = arg else {
        return false;
    };
    let Type::Reference(r) = &*pat.ty else {
        return false;
    };
    r.mutability.is_some() && is_bencher_path(&r.elem)
}
