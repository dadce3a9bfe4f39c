//! Generates code for `#[monitored_bench]`: a registration in the suite's
//! distributed slice plus calls into `benchscope`'s runtime. No measuring
//! logic is generated here; the runtime holds all of it.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, ReturnType};

use crate::attr::Options;
use crate::cases;
use crate::signature::{
    Mode, is_mut_ref_bencher, mentions_bencher, threads_with_bencher, throughput,
};

pub fn expand(options: Options, item: ItemFn) -> syn::Result<TokenStream> {
    let mode = mode(&item, &options)?;
    let krate = options
        .krate
        .as_ref()
        .map_or_else(|| quote!(::benchscope), |path| quote!(#path));
    if let Mode::App = mode
        && let Some((option, span)) = options.bench_only.first()
    {
        return Err(syn::Error::new(
            *span,
            format!(
                "`{option}` applies to benchmarks only; `{}` is instrumented in application mode because it {}. Only `name` and `labels` apply here{}",
                item.sig.ident,
                app_reason(&item),
                if item.sig.asyncness.is_some() && item.sig.inputs.is_empty() {
                    "; to benchmark this async fn, add `runtime = \"tokio\"`"
                } else {
                    ""
                }
            ),
        ));
    }
    let name = options
        .name
        .as_ref()
        .map_or_else(|| item.sig.ident.to_string(), |n| n.value());
    let labels = options.labels.iter().map(|(k, v)| {
        let k = k.to_string();
        quote!((#k, #v))
    });
    let labels = quote!(&[#(#labels),*]);

    Ok(match mode {
        Mode::App => {
            let mut item = item;
            let site = site(&krate, &name, &labels);
            let stmts = &item.block.stmts;
            item.block = syn::parse_quote!({ #site #(#stmts)* });
            quote!(#item)
        }
        Mode::BenchWithBencher => {
            let run = &item.sig.ident;
            let registration = registration(
                &krate,
                &options,
                &name,
                quote!(|b: &mut #krate::Bencher<'_>, _: usize, _: usize| #run(b)),
                None,
                item.sig.ident.span(),
            );
            quote!(#item #registration)
        }
        Mode::Cases { bencher } => {
            let cases = cases::expand(&krate, &options, &item, bencher)?;
            let registration = registration(
                &krate,
                &options,
                &name,
                quote!(__benchscope_run),
                Some(cases),
                item.sig.ident.span(),
            );
            quote!(#item #registration)
        }
        Mode::Bench | Mode::AsyncBench => {
            let ItemFn {
                attrs,
                vis,
                modifiers: _,
                sig,
                block,
            } = item;
            // The body moves into a hidden function that the runner
            // measures; the function itself stays callable and is timed
            // like application code.
            let body_fn = format_ident!("__benchscope_body_{}", sig.ident);
            let output = &sig.output;
            let site = site(&krate, &name, &labels);
            let (run, asyncness, call) = match &options.runtime {
                Some(runtime) => (
                    run_on_runtime(&krate, runtime, &body_fn),
                    quote!(async),
                    quote!(#body_fn().await),
                ),
                None if options.threads.is_some() => (
                    quote!(|b: &mut #krate::Bencher<'_>, _: usize, threads: usize| {
                        b.iter_threads(threads, #body_fn)
                    }),
                    TokenStream::new(),
                    quote!(#body_fn()),
                ),
                None => (
                    quote!(|b: &mut #krate::Bencher<'_>, _: usize, _: usize| b.iter(#body_fn)),
                    TokenStream::new(),
                    quote!(#body_fn()),
                ),
            };
            let registration = registration(&krate, &options, &name, run, None, sig.ident.span());
            quote! {
                #(#attrs)*
                #vis #sig {
                    #site
                    #call
                }
                #[doc(hidden)]
                #asyncness fn #body_fn() #output #block
                #registration
            }
        }
    })
}

/// What the runner calls for an `async fn` benchmark: the runtime is built
/// before measuring starts, outside every timed region, and the body is
/// awaited through `to_async`. Without benchscope's `tokio` feature the
/// runtime's macro is a compile error pointing at `runtime = "..."`.
fn run_on_runtime(krate: &TokenStream, runtime: &syn::LitStr, body_fn: &syn::Ident) -> TokenStream {
    let multi = runtime.value() == "tokio-multi-thread";
    let span = runtime.span();
    let krate_here: TokenStream = krate
        .clone()
        .into_iter()
        .map(|mut token| {
            token.set_span(span);
            token
        })
        .collect();
    let build = quote_spanned!(span=> #krate_here::__tokio_runtime!(#multi));
    quote!(|b: &mut #krate::Bencher<'_>, _: usize, _: usize| {
        let runtime = #build;
        b.to_async(&runtime).iter(#body_fn)
    })
}

/// The static call site and the guard that times the rest of the body.
fn site(krate: &TokenStream, name: &str, labels: &TokenStream) -> TokenStream {
    quote! {
        static __BENCHSCOPE_SITE: #krate::__private::CallSite =
            #krate::__private::CallSite::new(#name, #labels);
        let __benchscope_guard = __BENCHSCOPE_SITE.enter();
    }
}

/// The benchmark's entry in the suite's distributed slice, its options as
/// one `BenchOptions` literal, and the duplicate-name guard.
fn registration(
    krate: &TokenStream,
    options: &Options,
    name: &str,
    run: TokenStream,
    cases: Option<TokenStream>,
    fn_span: Span,
) -> TokenStream {
    let group = match &options.group {
        Some(g) => quote!(::core::option::Option::Some(#g)),
        None => quote!(::core::option::Option::None),
    };
    let some = |field: &str, span: Span, value: TokenStream| {
        let field = syn::Ident::new(field, span);
        quote_spanned!(span=> #field: ::core::option::Option::Some(#value),)
    };
    let mut fields = TokenStream::new();
    if let Some(n) = &options.samples {
        // Checked against the runtime's bound while the crate compiles: an
        // out-of-range count is a compile error at the literal.
        fields.extend(some(
            "samples",
            n.span(),
            quote_spanned!(n.span()=> {
                const SAMPLES: u32 = #krate::__private::BenchOptions::checked_samples(#n);
                SAMPLES
            }),
        ));
    }
    for (field, opt) in [
        ("warmup", &options.warmup),
        ("min_time", &options.min_time),
        ("max_time", &options.max_time),
    ] {
        if let Some(d) = opt {
            let nanos = d.nanos;
            fields.extend(some(
                field,
                d.span,
                quote!(#krate::__private::Duration::from_nanos(#nanos)),
            ));
        }
    }
    // With `args`, throughput may depend on the argument: each case
    // computes its own.
    if let Some((kind, n)) = &options.throughput
        && options.args.is_none()
    {
        fields.extend(some("throughput", kind.span(), throughput(krate, kind, n)));
    }
    if let Some((_, counts)) = &options.threads {
        fields.extend(quote!(threads: &[#(#counts),*],));
    }
    if !options.labels.is_empty() {
        let labels = options.labels.iter().map(|(k, v)| {
            let k = k.to_string();
            quote!((#k, #v))
        });
        fields.extend(quote!(labels: &[#(#labels),*],));
    }

    let full_name = match &options.group {
        Some(g) => format!("{}/{name}", g.value()),
        None => name.to_owned(),
    };
    let dup_span = options.name.as_ref().map_or(fn_span, |n| n.span());
    let dup_guard = duplicate_guard(&full_name, dup_span);
    let line = quote_spanned!(fn_span=> ::core::line!());
    let (cases_fn, cases_items) = match cases {
        Some(items) => (
            quote!(::core::option::Option::Some(__benchscope_cases)),
            items,
        ),
        None => (quote!(::core::option::Option::None), TokenStream::new()),
    };
    quote! {
        #dup_guard
        const _: () = {
            #[#krate::__private::linkme::distributed_slice(#krate::__private::BENCHES)]
            #[linkme(crate = #krate::__private::linkme)]
            static __BENCHSCOPE_ENTRY: #krate::__private::Benchmark =
                #krate::__private::Benchmark::__new(
                    #name,
                    #group,
                    ::core::module_path!(),
                    ::core::file!(),
                    #line,
                    __benchscope_options,
                    #cases_fn,
                    #run,
                );
            fn __benchscope_options() -> #krate::__private::BenchOptions {
                #krate::__private::BenchOptions {
                    #fields
                    ..::core::default::Default::default()
                }
            }
            #cases_items
        };
    }
}

/// A module-level item named after the benchmark: two benchmarks of the same
/// name in one module then fail to compile, pointing at the second name.
fn duplicate_guard(full_name: &str, span: Span) -> TokenStream {
    let sanitized: String = full_name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let suffix = if sanitized == full_name {
        String::new()
    } else {
        // Keep `a-b` and `a_b` apart.
        full_name
            .bytes()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let ident = syn::Ident::new(
        &format!("__benchscope_benchmark_named_{sanitized}{suffix}"),
        span,
    );
    quote_spanned! {span=>
        #[doc(hidden)]
        #[allow(non_upper_case_globals, dead_code)]
        const #ident: () = ();
    }
}

fn mode(item: &ItemFn, options: &Options) -> syn::Result<Mode> {
    let sig = &item.sig;
    if let Some(runtime) = &options.runtime {
        if let Some((span, _)) = &options.threads {
            return Err(syn::Error::new(
                *span,
                "`threads` does not apply to an async benchmark: its runtime has its own threads; use `runtime = \"tokio-multi-thread\"`",
            ));
        }
        if options.has_cases() {
            return Err(syn::Error::new_spanned(
                runtime,
                "an async benchmark cannot have `args`, `consts` or `types` yet; write a plain `fn f(b: &mut Bencher, arg: T)` that builds its runtime and calls `b.to_async(&runtime).iter(...)`",
            ));
        }
        return async_mode(item, runtime);
    }
    if options.has_cases() {
        return cases::mode(item, options);
    }
    let bencher_arg = sig.inputs.iter().find(|arg| mentions_bencher(arg));
    if let Some(arg) = bencher_arg {
        let shape_ok = sig.inputs.len() == 1 && is_mut_ref_bencher(arg);
        if !shape_ok {
            let message =
                "a benchmark that takes a bencher takes exactly one argument, `b: &mut Bencher`";
            // Point at what is wrong: the extra argument, or the bencher's type.
            let culprit = sig
                .inputs
                .iter()
                .find(|a| !mentions_bencher(a))
                .unwrap_or(arg);
            return Err(match culprit {
                FnArg::Typed(pat) if sig.inputs.len() == 1 => {
                    syn::Error::new_spanned(&pat.ty, message)
                }
                other => syn::Error::new_spanned(other, message),
            });
        }
        if let Some(a) = &sig.asyncness {
            return Err(syn::Error::new(
                a.span(),
                "a benchmark taking `&mut Bencher` cannot be `async`; make it a plain `fn`, build a runtime in its body and call `b.to_async(&runtime).iter(|| async { ... })`",
            ));
        }
        if !sig.generics.params.is_empty() {
            return Err(syn::Error::new_spanned(
                &sig.generics,
                "a benchmark cannot be generic: the runner cannot choose its type arguments; write one benchmark per type",
            ));
        }
        if let ReturnType::Type(_, ty) = &sig.output {
            return Err(syn::Error::new_spanned(
                ty,
                "a benchmark taking `&mut Bencher` returns nothing; return the value from the closure passed to `b.iter`, which black-boxes it",
            ));
        }
        if let Some((span, _)) = &options.threads {
            return Err(threads_with_bencher(*span));
        }
        return Ok(Mode::BenchWithBencher);
    }
    if sig.inputs.is_empty()
        && sig.asyncness.is_none()
        && sig.generics.params.is_empty()
        && sig.constness.is_none()
        && matches!(sig.safety, syn::Safety::Default)
        && sig.abi.is_none()
    {
        Ok(Mode::Bench)
    } else {
        Ok(Mode::App)
    }
}

/// The checks of `runtime = "..."`: it makes an `async fn` without
/// arguments a benchmark, and means nothing on anything else.
fn async_mode(item: &ItemFn, runtime: &syn::LitStr) -> syn::Result<Mode> {
    let sig = &item.sig;
    if sig.asyncness.is_none() {
        return Err(syn::Error::new(
            runtime.span(),
            format!(
                "`runtime` is for `async fn` benchmarks, and `{}` is not async; drop `runtime`, or make it `async fn`",
                sig.ident
            ),
        ));
    }
    if let Some(arg) = sig.inputs.first() {
        let message = if mentions_bencher(arg) {
            "an async benchmark takes no arguments; to set up outside the timed region, write a plain `fn f(b: &mut Bencher)` that builds its runtime and calls `b.to_async(&runtime).iter(...)`"
        } else {
            "an async benchmark takes no arguments: the runner has nothing to pass; drop `runtime` to instrument this function in application mode instead"
        };
        return Err(syn::Error::new_spanned(&sig.inputs, message));
    }
    if !sig.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &sig.generics,
            "a benchmark cannot be generic: the runner cannot choose its type arguments; write one benchmark per type",
        ));
    }
    if sig.constness.is_some() || !matches!(sig.safety, syn::Safety::Default) || sig.abi.is_some() {
        return Err(syn::Error::new_spanned(
            sig,
            "an async benchmark is a plain `async fn`, not `const`, `unsafe` or `extern`",
        ));
    }
    Ok(Mode::AsyncBench)
}

fn app_reason(item: &ItemFn) -> &'static str {
    let sig = &item.sig;
    if sig.asyncness.is_some() {
        "is `async`"
    } else if !sig.generics.params.is_empty() {
        "is generic"
    } else if !sig.inputs.is_empty() {
        "takes arguments"
    } else {
        "is `const`, `unsafe` or `extern`"
    }
}
