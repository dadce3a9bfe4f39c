//! The cases of a benchmark with `args`, `consts` or `types`: one case per
//! combination of a type, a const and an argument (threads are multiplied
//! in by the runtime). The function stays as written; the generated items
//! list the cases (`__benchscope_cases`) and run one of them by its index
//! (`__benchscope_run`), calling the function with the case's type, const
//! and argument.
//!
//! Case `i` is combination `i / args` (types outermost, then consts) with
//! argument `i % args`, in the order the lists are written, which is also
//! the order `__benchscope_cases` lists them in.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, GenericParam, ItemFn, Type};

use crate::attr::Options;
use crate::signature::{
    Mode, is_mut_ref_bencher, mentions_bencher, threads_with_bencher, throughput,
};

/// Checks the function against `args`, `consts` and `types`.
pub(crate) fn mode(item: &ItemFn, options: &Options) -> syn::Result<Mode> {
    let sig = &item.sig;
    if let Some(a) = &sig.asyncness {
        return Err(syn::Error::new(
            a.span(),
            "a benchmark with `args`, `consts` or `types` cannot be `async` yet; write a plain `fn f(b: &mut Bencher, arg: T)` that builds a runtime and calls `b.to_async(&runtime).iter(...)`",
        ));
    }
    if sig.constness.is_some() || !matches!(sig.safety, syn::Safety::Default) || sig.abi.is_some() {
        return Err(syn::Error::new_spanned(
            sig.fn_token,
            "a benchmark is a plain `fn`, not `const`, `unsafe` or `extern`",
        ));
    }
    let mut inputs = sig.inputs.iter().peekable();
    let bencher = match inputs.peek() {
        Some(first) if mentions_bencher(first) => {
            if !is_mut_ref_bencher(first) {
                return Err(syn::Error::new_spanned(
                    first,
                    "the bencher is taken as `b: &mut Bencher`",
                ));
            }
            inputs.next();
            true
        }
        _ => false,
    };
    let rest: Vec<&FnArg> = inputs.collect();
    match (&options.args, rest.as_slice()) {
        (Some(_), [FnArg::Typed(_)]) | (None, []) => {}
        (Some((span, _)), []) => {
            return Err(syn::Error::new(
                *span,
                format!(
                    "`args` are passed to the function, and `{}` takes no argument{}; add one, e.g. `n: usize`",
                    sig.ident,
                    if bencher { " after the bencher" } else { "" }
                ),
            ));
        }
        (Some(_), [_, extra, ..]) => {
            return Err(syn::Error::new_spanned(
                extra,
                "a benchmark with `args` takes one argument (after `b: &mut Bencher`, if any): the case's value",
            ));
        }
        (None, [first, ..]) => {
            return Err(syn::Error::new_spanned(
                first,
                "this argument has no values: add `args = [...]` with the values to benchmark it with",
            ));
        }
        (Some(_), [other]) => {
            return Err(syn::Error::new_spanned(
                other,
                "a benchmark takes its argument by value or reference, not `self`",
            ));
        }
    }
    if bencher && let Some((span, _)) = &options.threads {
        return Err(threads_with_bencher(*span));
    }
    if bencher && let syn::ReturnType::Type(_, ty) = &sig.output {
        return Err(syn::Error::new_spanned(
            ty,
            "a benchmark taking `&mut Bencher` returns nothing; return the value from the closure passed to `b.iter`, which black-boxes it",
        ));
    }
    let mut types = 0;
    let mut consts = 0;
    for param in &sig.generics.params {
        match param {
            GenericParam::Lifetime(l) => {
                return Err(syn::Error::new_spanned(
                    l,
                    "a benchmark with cases cannot name lifetimes; let them be elided",
                ));
            }
            GenericParam::Type(_) => types += 1,
            GenericParam::Const(_) => consts += 1,
        }
    }
    let check = |key: &str, given: Option<Span>, params: usize, what: &str| match (given, params) {
        (Some(_), 1) | (None, 0) => Ok(()),
        (Some(span), 0) => Err(syn::Error::new(
            span,
            format!(
                "`{key}` needs a {what} parameter on `{}` to fill, e.g. `fn {}<{}>`",
                sig.ident,
                sig.ident,
                if key == "types" {
                    "T"
                } else {
                    "const N: usize"
                }
            ),
        )),
        (Some(span), _) => Err(syn::Error::new(
            span,
            format!(
                "`{key}` fills one {what} parameter; `{}` has {params}",
                sig.ident
            ),
        )),
        (None, _) => Err(syn::Error::new_spanned(
            &sig.generics,
            format!(
                "the {what} parameter has no values: add `{key} = [...]` with the values to benchmark it with"
            ),
        )),
    };
    check("types", options.types.as_ref().map(|t| t.0), types, "type")?;
    check(
        "consts",
        options.consts.as_ref().map(|t| t.0),
        consts,
        "const",
    )?;
    Ok(Mode::Cases { bencher })
}

/// The items listing and running the cases.
pub(crate) fn expand(
    krate: &TokenStream,
    options: &Options,
    item: &ItemFn,
    bencher: bool,
) -> syn::Result<TokenStream> {
    let sig = &item.sig;
    let f = &sig.ident;
    let types: Vec<Option<&Type>> = match &options.types {
        Some((_, list)) => list.iter().map(Some).collect(),
        None => vec![None],
    };
    let consts: Vec<Option<&syn::Expr>> = match &options.consts {
        Some((_, list)) => list.iter().map(Some).collect(),
        None => vec![None],
    };
    // The argument: its pattern, type and values.
    let arg = sig
        .inputs
        .iter()
        .skip(usize::from(bencher))
        .find_map(|a| match a {
            FnArg::Typed(p) => Some(p),
            FnArg::Receiver(_) => None,
        });
    let values = options.args.as_ref().map(|(_, v)| v.as_slice());
    let n_args = values.map_or(1, <[_]>::len);

    let (impl_generics, _, where_clause) = sig.generics.split_for_impl();
    let generic_params = &sig.generics.params;
    let has_generics = !generic_params.is_empty();
    let args_array = match (arg, values) {
        (Some(arg), Some(values)) => {
            let ty = &arg.ty;
            quote!(let __benchscope_args: [#ty; #n_args] = [#(#values),*];)
        }
        _ => TokenStream::new(),
    };

    // Each combination of a type and a const, with its turbofish and texts.
    let mut combos = Vec::new();
    for ty in &types {
        for konst in &consts {
            let mut generic_args = Vec::new();
            for param in generic_params {
                match param {
                    GenericParam::Type(_) => generic_args.push(quote!(#ty)),
                    GenericParam::Const(_) => generic_args.push(quote!({ #konst })),
                    GenericParam::Lifetime(_) => {}
                }
            }
            let turbofish = if has_generics {
                quote!(::<#(#generic_args),*>)
            } else {
                TokenStream::new()
            };
            let text = |tokens: Option<TokenStream>| match tokens {
                Some(t) => {
                    let t = tidy(&t.to_string());
                    quote!(::core::option::Option::Some(#t))
                }
                None => quote!(::core::option::Option::None),
            };
            combos.push((
                turbofish,
                text(ty.map(|t| quote!(#t))),
                text(konst.map(|c| quote!(#c))),
            ));
        }
    }

    let spec_lists = combos.iter().map(
        |(turbofish, ty, konst)| quote!(out.extend(__benchscope_specs #turbofish (#ty, #konst));),
    );
    let run_arms = combos.iter().enumerate().map(
        |(i, (turbofish, _, _))| quote!(#i => __benchscope_case #turbofish (b, arg, threads),),
    );

    // The spec of each argument: its text, and its throughput.
    let specs_body = match (arg, values) {
        (Some(arg), Some(_)) => {
            let pat = &arg.pat;
            let ty = &arg.ty;
            let throughput = match &options.throughput {
                Some((kind, n)) => {
                    let t = throughput(krate, kind, n);
                    quote!({
                        #[allow(unused_variables)]
                        let #pat: #ty = ::core::clone::Clone::clone(arg);
                        ::core::option::Option::Some(#t)
                    })
                }
                None => quote!(::core::option::Option::None),
            };
            quote! {
                #args_array
                __benchscope_args
                    .iter()
                    .map(|arg| {
                        #[allow(unused_imports)]
                        use #krate::__private::{ViaDebug as _, ViaDisplay as _};
                        #krate::__private::CaseSpec {
                            type_name,
                            konst,
                            param: ::core::option::Option::Some(
                                (&&#krate::__private::ParamText(arg)).param_text(),
                            ),
                            throughput: #throughput,
                        }
                    })
                    .collect()
            }
        }
        _ => quote! {
            ::std::vec![#krate::__private::CaseSpec {
                type_name,
                konst,
                ..::core::default::Default::default()
            }]
        },
    };

    // Running one case: the function called with the case's argument,
    // cloned per call (free for sizes and references).
    let call_arg = if values.is_some() {
        quote!(::core::clone::Clone::clone(&__benchscope_args[arg]))
    } else {
        TokenStream::new()
    };
    let generic_turbofish = {
        let names = generic_params.iter().filter_map(|p| match p {
            GenericParam::Type(t) => {
                let id = &t.ident;
                Some(quote!(#id))
            }
            GenericParam::Const(c) => {
                let id = &c.ident;
                Some(quote!(#id))
            }
            GenericParam::Lifetime(_) => None,
        });
        if has_generics {
            quote!(::<#(#names),*>)
        } else {
            TokenStream::new()
        }
    };
    let case_body = if bencher {
        quote!(#f #generic_turbofish (b, #call_arg))
    } else if options.threads.is_some() {
        quote!(b.iter_threads(threads, || #f #generic_turbofish (#call_arg)))
    } else {
        quote!(b.iter(|| #f #generic_turbofish (#call_arg)))
    };
    let split = if values.is_some() {
        quote!((case / #n_args, case % #n_args))
    } else {
        quote!((case, 0usize))
    };
    let span = f.span();
    Ok(quote_spanned! {span=>
        fn __benchscope_cases() -> ::std::vec::Vec<#krate::__private::CaseSpec> {
            let mut out = ::std::vec::Vec::new();
            #(#spec_lists)*
            out
        }
        #[allow(unused_variables, clippy::needless_borrow)]
        fn __benchscope_specs #impl_generics (
            type_name: ::core::option::Option<&'static str>,
            konst: ::core::option::Option<&'static str>,
        ) -> ::std::vec::Vec<#krate::__private::CaseSpec> #where_clause {
            #specs_body
        }
        fn __benchscope_run(b: &mut #krate::Bencher<'_>, case: usize, threads: usize) {
            let (combo, arg) = #split;
            match combo {
                #(#run_arms)*
                _ => {}
            }
        }
        #[allow(unused_variables)]
        fn __benchscope_case #impl_generics (
            b: &mut #krate::Bencher<'_>,
            arg: usize,
            threads: usize,
        ) #where_clause {
            #args_array
            #case_body
        }
    })
}

/// A type or const as written, without the spaces tokens print with:
/// `Vec < u8 >` reads `Vec<u8>`.
fn tidy(text: &str) -> String {
    let mut out = text.to_owned();
    for (from, to) in [
        (" < ", "<"),
        (" <", "<"),
        ("< ", "<"),
        (" >", ">"),
        (" ,", ","),
        (" :: ", "::"),
        (":: ", "::"),
        ("& ", "&"),
        ("[ ", "["),
        (" ]", "]"),
        (" ;", ";"),
        ("( ", "("),
        (" )", ")"),
    ] {
        out = out.replace(from, to);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn types_read_as_written() {
        assert_eq!(super::tidy("Vec < u8 >"), "Vec<u8>");
        assert_eq!(
            super::tidy("std :: string :: String"),
            "std::string::String"
        );
        assert_eq!(super::tidy("[u8 ; 4]"), "[u8; 4]");
        assert_eq!(super::tidy("& str"), "&str");
    }
}
