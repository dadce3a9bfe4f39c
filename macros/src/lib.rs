//! The `#[monitored_bench]` attribute of [benchscope](https://docs.rs/benchscope).
//! Use it through `benchscope::monitored_bench`, where it is documented.
//!
//! The crate is split as the work is: `attr.rs` parses the options,
//! `expand.rs` generates the registration and the calls into the runtime,
//! `cases.rs` the cases of a benchmark with `args`, `consts` or `types`, on
//! what `signature.rs` says about the function.

mod attr;
mod cases;
mod expand;
mod signature;

use proc_macro::TokenStream;

/// Marks a benchmark function or instruments an ordinary one; see
/// `benchscope::monitored_bench` for the options and the two modes.
#[proc_macro_attribute]
pub fn monitored_bench(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut options = attr::Options::default();
    let parser = syn::meta::parser(|meta| options.parse_one(meta));
    if let Err(e) = syn::parse::Parser::parse(parser, attr) {
        return with_item(e, item);
    }
    if let Err(e) = options.validate() {
        return with_item(e, item);
    }
    let function: syn::ItemFn = match syn::parse(item.clone()) {
        Ok(f) => f,
        Err(_) => {
            let e = syn::Error::new(
                proc_macro2::Span::call_site(),
                "#[monitored_bench] goes on a function",
            );
            return with_item(e, item);
        }
    };
    match expand::expand(options, function) {
        Ok(tokens) => tokens.into(),
        Err(e) => with_item(e, item),
    }
}

/// The error, followed by the item unchanged, so one mistake does not turn
/// into a cascade of "cannot find function" errors.
fn with_item(error: syn::Error, item: TokenStream) -> TokenStream {
    let mut out: TokenStream = error.into_compile_error().into();
    out.extend(item);
    out
}
