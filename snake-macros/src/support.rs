//! Pieces shared by the macros: the error accumulator, Python names, doc comments and the
//! `crate = path` option.

use proc_macro2::{Span, TokenStream};
use syn::parse::ParseStream;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, ExprLit, Lit, LitStr, Meta, Path};

/// Every error of one macro invocation, reported together (serde's `Ctxt`); the only
/// accumulator of the crate.
#[derive(Default)]
pub(crate) struct Errors(Vec<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        self.0.push(error);
    }

    /// An error spanned on `span`.
    pub(crate) fn at(&mut self, span: proc_macro2::Span, message: impl std::fmt::Display) {
        self.0.push(syn::Error::new(span, message));
    }

    /// An error spanned on every token of `tokens` (a range, even on stable).
    pub(crate) fn on(&mut self, tokens: impl quote::ToTokens, message: impl std::fmt::Display) {
        self.0.push(syn::Error::new_spanned(tokens, message));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn to_compile_errors(&self) -> TokenStream {
        self.0.iter().map(syn::Error::to_compile_error).collect()
    }
}

/// Python 3.11 keywords (soft keywords such as `match` and `type` are valid names).
const PYTHON_KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del",
    "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal",
    "not", "or", "pass", "raise", "return", "try", "while", "with", "yield",
];

/// Whether `name` is a plain Python name: an ASCII identifier that is not a keyword.
pub(crate) fn is_python_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !PYTHON_KEYWORDS.contains(&name)
}

/// Whether `name` is an importable module path: identifiers joined with dots.
pub(crate) fn is_python_module(name: &str) -> bool {
    name.split('.').all(is_python_identifier)
}

/// `HttpClient` -> `http_client`, `MLModel` -> `ml_model`, `Model2Go` -> `model2_go`.
pub(crate) fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev != '_' && (prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_lower)) {
                out.push('_');
            }
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// The Python name of a declared function: `explicit` if given, else the Rust name. Either must be
/// a usable Python identifier; an unusable one is reported on its token, and `how_to_rename`
/// says how to give another (e.g. `` `#[snake(python = "...")]` ``).
pub(crate) fn python_name(
    explicit: Option<&syn::LitStr>,
    rust: &syn::Ident,
    how_to_rename: &str,
    errors: &mut Errors,
) -> (String, proc_macro2::Span) {
    let (value, span, fix) = match explicit {
        Some(explicit) => (explicit.value(), explicit.span(), "use an ASCII identifier that is not a keyword"),
        None => (syn::ext::IdentExt::unraw(rust).to_string(), rust.span(), how_to_rename),
    };
    if !is_python_identifier(&value) {
        errors.at(span, format!("`{value}` is not a usable Python function name: {fix}"));
    }
    (value, span)
}

/// The doc comment: one line per `///` line, without the space after `///`, blank edges trimmed.
pub(crate) fn docs(attrs: &[Attribute]) -> String {
    let mut lines = Vec::new();
    for attr in attrs {
        let Meta::NameValue(meta) = &attr.meta else { continue };
        if !meta.path.is_ident("doc") {
            continue;
        }
        // `#[doc = include_str!(...)]` is not expanded yet when the macro runs; skip it.
        let Expr::Lit(ExprLit { lit: Lit::Str(text), .. }) = &meta.value else { continue };
        let text = text.value();
        // A blank `///` line is `#[doc = ""]`, which `lines()` would drop: it separates paragraphs.
        if text.is_empty() {
            lines.push(String::new());
        }
        for line in text.lines() {
            lines.push(line.strip_prefix(' ').unwrap_or(line).trim_end().to_owned());
        }
    }
    while lines.first().is_some_and(String::is_empty) {
        lines.remove(0);
    }
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines.join("\n")
}

/// The value of `crate = ...`: a path, or a string holding one as serde and pyo3 spell it.
pub(crate) fn crate_path(input: ParseStream<'_>) -> syn::Result<Path> {
    if input.peek(LitStr) { input.parse::<LitStr>()?.parse() } else { Path::parse_mod_style(input) }
}

/// The default runtime path.
pub(crate) fn default_crate() -> Path {
    syn::parse_quote!(::snake)
}

/// The type arguments of `ty` when it is a path whose last segment is `name<...>`.
pub(crate) fn last_segment_args<'t>(ty: &'t syn::Type, name: &str) -> Option<Vec<&'t syn::Type>> {
    let syn::Type::Path(path) = ty else { return None };
    if path.qself.is_some() {
        return None;
    }
    let last = path.path.segments.last()?;
    if last.ident != name {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else { return Some(Vec::new()) };
    Some(
        args.args
            .iter()
            .filter_map(|arg| match arg {
                syn::GenericArgument::Type(ty) => Some(ty),
                _ => None,
            })
            .collect(),
    )
}

/// Whether an attribute is the helper `#[snake(...)]`.
pub(crate) fn is_snake_attr(attr: &Attribute) -> bool {
    attr.path().is_ident("snake")
}

/// The token that says what an item is (`struct`, `fn`, `impl`...), where "not a trait" points.
pub(crate) fn keyword_span(item: &syn::Item) -> Span {
    match item {
        syn::Item::Const(item) => item.const_token.span,
        syn::Item::Enum(item) => item.enum_token.span,
        syn::Item::Fn(item) => item.sig.fn_token.span,
        syn::Item::Impl(item) => item.impl_token.span,
        syn::Item::Mod(item) => item.mod_token.span,
        syn::Item::Static(item) => item.static_token.span,
        syn::Item::Struct(item) => item.struct_token.span,
        syn::Item::TraitAlias(item) => item.trait_token.span,
        syn::Item::Type(item) => item.type_token.span,
        syn::Item::Union(item) => item.union_token.span,
        syn::Item::Use(item) => item.use_token.span,
        other => other.span(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_drop_the_leading_space_and_blank_edges_and_keep_paragraphs() {
        let item: syn::DeriveInput = syn::parse_quote! {
            #[doc = ""]
            #[doc = " First line."]
            #[doc = ""]
            #[doc = "   indented"]
            #[doc = include_str!("x")]
            struct S;
        };
        assert_eq!(docs(&item.attrs), "First line.\n\n  indented");
    }

    #[test]
    fn snake_case_splits_words_and_acronyms() {
        assert_eq!(snake_case("Inference"), "inference");
        assert_eq!(snake_case("HttpClient"), "http_client");
        assert_eq!(snake_case("MLModel"), "ml_model");
        assert_eq!(snake_case("Model2Go"), "model2_go");
        assert_eq!(snake_case("ABC"), "abc");
        assert_eq!(snake_case("already_snake"), "already_snake");
    }

    #[test]
    fn docs_keep_paragraphs_and_drop_blank_edges() {
        let item: syn::ItemFn = syn::parse_quote! {
            #[doc = ""]
            #[doc = " First line."]
            #[doc = ""]
            #[doc = "   indented"]
            #[doc = include_str!("x")]
            #[doc = ""]
            fn f() {}
        };
        assert_eq!(docs(&item.attrs), "First line.\n\n  indented");
    }

    #[test]
    fn python_names() {
        assert!(is_python_identifier("stream_tokens"));
        assert!(is_python_identifier("_private"));
        assert!(is_python_identifier("match"));
        assert!(!is_python_identifier("class"));
        assert!(!is_python_identifier("2fast"));
        assert!(!is_python_identifier("kebab-case"));
        assert!(!is_python_identifier(""));
        assert!(!is_python_identifier("café"));
        assert!(is_python_module("models.inference"));
        assert!(!is_python_module("models..inference"));
        assert!(!is_python_module(".inference"));
        assert!(!is_python_module("models.import"));
    }

    #[test]
    fn last_segment_args_reads_the_type_arguments() {
        let ty: syn::Type = syn::parse_quote!(snake::Stream<Token>);
        let args = last_segment_args(&ty, "Stream").expect("a Stream");
        assert_eq!(args.len(), 1);
        let ty: syn::Type = syn::parse_quote!(std::io::Result<u8>);
        assert!(last_segment_args(&ty, "Stream").is_none());
        assert_eq!(last_segment_args(&ty, "Result").map(|args| args.len()), Some(1));
    }
}
