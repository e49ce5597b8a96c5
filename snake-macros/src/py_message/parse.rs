//! Reading the attributes: `#[snake(...)]` options (strict: unknown or repeated options are
//! errors), the `#[serde(...)]` attributes that change the Python shape or decide whether postcard
//! can carry the type (lenient: serde owns that attribute and validates it, so other keys are
//! skipped), and doc comments.

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::meta::ParseNestedMeta;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, Ident, LitStr, Path, Token};

use crate::support::{self, Errors};

/// Where an attribute sits; decides which `#[snake]` options are allowed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Level {
    Container,
    Variant,
    Field,
}

impl Level {
    fn allowed(self) -> &'static str {
        match self {
            Self::Container => "`crate`, `name`, `self_describing` or `allow_unknown_keys`",
            Self::Variant => "nothing (variants take no `#[snake]` options)",
            Self::Field => "`as`",
        }
    }
}

/// The `#[snake(...)]` options of one item.
#[derive(Default)]
pub(super) struct SnakeOptions {
    /// `crate = path`: where the runtime is.
    pub krate: Option<Path>,
    /// `name = "Name"`: the Python name.
    pub name: Option<LitStr>,
    /// `as = Type` (fields): describe the field as this type.
    pub as_ty: Option<syn::Type>,
    /// `self_describing`: always carry values self-describingly.
    pub self_describing: bool,
    /// `allow_unknown_keys`: dicts from Python may carry keys the type does not have.
    pub allow_unknown_keys: bool,
}

/// One `key = value` of `#[snake(...)]`.
enum SnakeOption {
    Crate(Span, Path),
    Name(Span, LitStr),
    As(Span, syn::Type),
    SelfDescribing(Span),
    AllowUnknownKeys(Span),
}

impl SnakeOption {
    fn key(&self) -> (&'static str, Span) {
        match self {
            Self::Crate(span, _) => ("crate", *span),
            Self::Name(span, _) => ("name", *span),
            Self::As(span, _) => ("as", *span),
            Self::SelfDescribing(span) => ("self_describing", *span),
            Self::AllowUnknownKeys(span) => ("allow_unknown_keys", *span),
        }
    }
}

impl Parse for SnakeOption {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        // `crate` and `as` are keywords, so read any identifier and match on its text.
        let key = input.call(Ident::parse_any).map_err(|err| {
            syn::Error::new(err.span(), "expected a `#[snake]` option such as `crate = ...` or `name = \"...\"`")
        })?;
        let text = key.to_string();
        if !matches!(text.as_str(), "crate" | "name" | "as" | "self_describing" | "allow_unknown_keys") {
            return Err(syn::Error::new(
                key.span(),
                format!(
                    "unknown `#[snake]` option `{text}`: expected `crate`, `name`, `self_describing` or \
                     `allow_unknown_keys` on the type, `as` on a field"
                ),
            ));
        }
        if text == "self_describing" || text == "allow_unknown_keys" {
            if input.peek(Token![=]) {
                return Err(syn::Error::new(input.span(), format!("`#[snake({text})]` takes no value")));
            }
            return Ok(if text == "self_describing" {
                Self::SelfDescribing(key.span())
            } else {
                Self::AllowUnknownKeys(key.span())
            });
        }
        input.parse::<Token![=]>()?;
        match text.as_str() {
            "crate" => {
                // `crate = ::snake`, or `crate = "::snake"` as serde and pyo3 spell it.
                let path =
                    if input.peek(LitStr) { input.parse::<LitStr>()?.parse()? } else { Path::parse_mod_style(input)? };
                Ok(Self::Crate(key.span(), path))
            }
            "name" => Ok(Self::Name(key.span(), input.parse()?)),
            _ => Ok(Self::As(key.span(), input.parse()?)),
        }
    }
}

/// Reads every `#[snake(...)]` on an item.
pub(super) fn snake_options(attrs: &[Attribute], level: Level, errors: &mut Errors) -> SnakeOptions {
    let mut options = SnakeOptions::default();
    for attr in attrs.iter().filter(|attr| attr.path().is_ident("snake")) {
        let parsed = match attr.parse_args_with(Punctuated::<SnakeOption, Token![,]>::parse_terminated) {
            Ok(parsed) => parsed,
            Err(err) => {
                errors.push(err);
                continue;
            }
        };
        for option in parsed {
            let (key, span) = option.key();
            let allowed = match option {
                SnakeOption::Crate(..)
                | SnakeOption::Name(..)
                | SnakeOption::SelfDescribing(_)
                | SnakeOption::AllowUnknownKeys(_) => level == Level::Container,
                SnakeOption::As(..) => level == Level::Field,
            };
            if !allowed {
                let here = match level {
                    Level::Container => "on the type",
                    Level::Variant => "on a variant",
                    Level::Field => "on a field",
                };
                errors.at(span, format!("`#[snake({key})]` is not allowed {here}: expected {}", level.allowed()));
                continue;
            }
            let duplicate = match option {
                SnakeOption::Crate(_, path) => options.krate.replace(path).is_some(),
                SnakeOption::Name(_, name) => {
                    check_python_name(&name, errors);
                    options.name.replace(name).is_some()
                }
                SnakeOption::As(_, ty) => options.as_ty.replace(ty).is_some(),
                SnakeOption::SelfDescribing(_) => std::mem::replace(&mut options.self_describing, true),
                SnakeOption::AllowUnknownKeys(_) => std::mem::replace(&mut options.allow_unknown_keys, true),
            };
            if duplicate {
                errors.at(span, format!("duplicate `#[snake]` option `{key}`: give it once"));
            }
        }
    }
    options
}

/// A `name = "..."` must be usable as a Python class name.
fn check_python_name(name: &LitStr, errors: &mut Errors) {
    let text = name.value();
    if !support::is_python_identifier(&text) {
        errors.at(
            name.span(),
            format!("`{text}` is not a usable Python name: use an ASCII identifier that is not a Python keyword"),
        );
    }
}

/// serde's `rename_all` rules, with serde's exact algorithms (`serde_derive/src/internals/case.rs`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum RenameRule {
    Lower,
    Upper,
    Pascal,
    Camel,
    Snake,
    ScreamingSnake,
    Kebab,
    ScreamingKebab,
}

const RULES: &[(&str, RenameRule)] = &[
    ("lowercase", RenameRule::Lower),
    ("UPPERCASE", RenameRule::Upper),
    ("PascalCase", RenameRule::Pascal),
    ("camelCase", RenameRule::Camel),
    ("snake_case", RenameRule::Snake),
    ("SCREAMING_SNAKE_CASE", RenameRule::ScreamingSnake),
    ("kebab-case", RenameRule::Kebab),
    ("SCREAMING-KEBAB-CASE", RenameRule::ScreamingKebab),
];

fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_ascii_lowercase().to_string() + chars.as_str()).unwrap_or_default()
}

impl RenameRule {
    /// The serialized name of a variant called `variant` in Rust.
    pub fn apply_to_variant(self, variant: &str) -> String {
        match self {
            Self::Pascal => variant.to_owned(),
            Self::Lower => variant.to_ascii_lowercase(),
            Self::Upper => variant.to_ascii_uppercase(),
            Self::Camel => lower_first(variant),
            Self::Snake => {
                let mut snake = String::new();
                for (i, ch) in variant.char_indices() {
                    if i > 0 && ch.is_uppercase() {
                        snake.push('_');
                    }
                    snake.push(ch.to_ascii_lowercase());
                }
                snake
            }
            Self::ScreamingSnake => Self::Snake.apply_to_variant(variant).to_ascii_uppercase(),
            Self::Kebab => Self::Snake.apply_to_variant(variant).replace('_', "-"),
            Self::ScreamingKebab => Self::ScreamingSnake.apply_to_variant(variant).replace('_', "-"),
        }
    }

    /// The serialized name of a field called `field` in Rust.
    pub fn apply_to_field(self, field: &str) -> String {
        match self {
            Self::Lower | Self::Snake => field.to_owned(),
            Self::Upper | Self::ScreamingSnake => field.to_ascii_uppercase(),
            Self::Pascal => {
                let mut pascal = String::new();
                let mut capitalize = true;
                for ch in field.chars() {
                    if ch == '_' {
                        capitalize = true;
                    } else if capitalize {
                        pascal.push(ch.to_ascii_uppercase());
                        capitalize = false;
                    } else {
                        pascal.push(ch);
                    }
                }
                pascal
            }
            Self::Camel => lower_first(&Self::Pascal.apply_to_field(field)),
            Self::Kebab => field.replace('_', "-"),
            Self::ScreamingKebab => Self::ScreamingSnake.apply_to_field(field).replace('_', "-"),
        }
    }
}

/// The serde attributes of a container that change its Python shape.
#[derive(Default)]
pub(super) struct SerdeContainer {
    pub rename: Option<String>,
    pub rename_all: Option<RenameRule>,
    pub rename_all_fields: Option<(RenameRule, Span)>,
    pub tag: Option<(String, Span)>,
    pub content: Option<(String, Span)>,
    pub untagged: Option<Span>,
    pub transparent: Option<Span>,
    pub into: Option<syn::Type>,
    /// `from` or `try_from`: deserialized through another type, whose needs are unknown.
    pub from: bool,
    pub remote: Option<Span>,
}

/// The serde attributes of a variant that change its Python shape or its wire form.
#[derive(Default)]
pub(super) struct SerdeVariant {
    pub rename: Option<String>,
    pub rename_all: Option<RenameRule>,
    pub skip_serializing: bool,
    pub skip_deserializing: bool,
    pub untagged: bool,
    pub serialize_with: Option<Span>,
    pub deserialize_with: bool,
}

/// The serde attributes of a field that change its Python shape or its wire form.
#[derive(Default)]
pub(super) struct SerdeField {
    pub rename: Option<String>,
    pub skip_serializing: bool,
    pub skip_deserializing: bool,
    pub skip_serializing_if: Option<Span>,
    pub flatten: Option<Span>,
    pub serialize_with: Option<Span>,
    pub deserialize_with: bool,
}

/// `key = "value"`, or `key(serialize = "value", deserialize = "...")`: the serialize side, which
/// is what Python receives.
fn serialize_name(meta: &ParseNestedMeta<'_>) -> syn::Result<Option<LitStr>> {
    if meta.input.peek(Token![=]) {
        return meta.value()?.parse().map(Some);
    }
    let mut name = None;
    meta.parse_nested_meta(|inner| {
        let value: LitStr = inner.value()?.parse()?;
        if inner.path.is_ident("serialize") {
            name = Some(value);
        }
        Ok(())
    })?;
    Ok(name)
}

fn rename_rule(meta: &ParseNestedMeta<'_>, errors: &mut Errors) -> syn::Result<Option<(RenameRule, Span)>> {
    let Some(lit) = serialize_name(meta)? else { return Ok(None) };
    let text = lit.value();
    match RULES.iter().find(|(name, _)| *name == text) {
        Some((_, rule)) => Ok(Some((*rule, lit.span()))),
        None => {
            let expected: Vec<String> = RULES.iter().map(|(name, _)| format!("{name:?}")).collect();
            errors.at(
                lit.span(),
                format!("unknown rename rule `rename_all = {text:?}`: expected one of {}", expected.join(", ")),
            );
            Ok(None)
        }
    }
}

/// Consumes the value of a serde key that does not change the shape (`default = "..."`,
/// `bound(serialize = "...")`, `alias = "..."`, ...).
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        content.parse::<TokenStream>()?;
    }
    Ok(())
}

fn key(meta: &ParseNestedMeta<'_>) -> String {
    meta.path.get_ident().map(|ident| ident.unraw().to_string()).unwrap_or_default()
}

/// Reads every `#[serde(...)]` on an item with `on_key`, which returns `false` for keys it does
/// not handle (their values are skipped).
fn serde_attrs(
    attrs: &[Attribute],
    errors: &mut Errors,
    mut on_key: impl FnMut(&str, &ParseNestedMeta<'_>, &mut Errors) -> syn::Result<bool>,
) {
    for attr in attrs.iter().filter(|attr| attr.path().is_ident("serde")) {
        let outcome = attr.parse_nested_meta(|meta| {
            if !on_key(&key(&meta), &meta, errors)? {
                skip_value(&meta)?;
            }
            Ok(())
        });
        if let Err(err) = outcome {
            errors.at(err.span(), format!("#[derive(PyMessage)] could not read this `#[serde(...)]` attribute: {err}"));
        }
    }
}

pub(super) fn serde_container(attrs: &[Attribute], errors: &mut Errors) -> SerdeContainer {
    let mut out = SerdeContainer::default();
    serde_attrs(attrs, errors, |key, meta, errors| {
        let span = meta.path.span();
        match key {
            "rename" => out.rename = serialize_name(meta)?.map(|lit| lit.value()),
            "rename_all" => out.rename_all = rename_rule(meta, errors)?.map(|(rule, _)| rule),
            "rename_all_fields" => out.rename_all_fields = rename_rule(meta, errors)?.map(|(rule, _)| (rule, span)),
            "tag" => out.tag = Some((meta.value()?.parse::<LitStr>()?.value(), span)),
            "content" => out.content = Some((meta.value()?.parse::<LitStr>()?.value(), span)),
            "untagged" => out.untagged = Some(span),
            "transparent" => out.transparent = Some(span),
            "into" => out.into = Some(meta.value()?.parse::<LitStr>()?.parse()?),
            "from" | "try_from" => {
                skip_value(meta)?;
                out.from = true;
            }
            "remote" => {
                skip_value(meta)?;
                out.remote = Some(span);
            }
            _ => return Ok(false),
        }
        Ok(true)
    });
    out
}

pub(super) fn serde_variant(attrs: &[Attribute], errors: &mut Errors) -> SerdeVariant {
    let mut out = SerdeVariant::default();
    serde_attrs(attrs, errors, |key, meta, errors| {
        match key {
            "rename" => out.rename = serialize_name(meta)?.map(|lit| lit.value()),
            "rename_all" => out.rename_all = rename_rule(meta, errors)?.map(|(rule, _)| rule),
            "skip" => (out.skip_serializing, out.skip_deserializing) = (true, true),
            "skip_serializing" => out.skip_serializing = true,
            "skip_deserializing" => out.skip_deserializing = true,
            "untagged" => out.untagged = true,
            "serialize_with" | "with" => {
                skip_value(meta)?;
                out.serialize_with = Some(meta.path.span());
                out.deserialize_with |= key == "with";
            }
            "deserialize_with" => {
                skip_value(meta)?;
                out.deserialize_with = true;
            }
            _ => return Ok(false),
        }
        Ok(true)
    });
    out
}

pub(super) fn serde_field(attrs: &[Attribute], errors: &mut Errors) -> SerdeField {
    let mut out = SerdeField::default();
    serde_attrs(attrs, errors, |key, meta, _| {
        match key {
            "rename" => out.rename = serialize_name(meta)?.map(|lit| lit.value()),
            "skip" => (out.skip_serializing, out.skip_deserializing) = (true, true),
            "skip_serializing" => out.skip_serializing = true,
            "skip_deserializing" => out.skip_deserializing = true,
            "skip_serializing_if" => {
                skip_value(meta)?;
                out.skip_serializing_if = Some(meta.path.span());
            }
            "flatten" => out.flatten = Some(meta.path.span()),
            "serialize_with" | "with" => {
                skip_value(meta)?;
                out.serialize_with = Some(meta.path.span());
                out.deserialize_with |= key == "with";
            }
            "deserialize_with" => {
                skip_value(meta)?;
                out.deserialize_with = true;
            }
            _ => return Ok(false),
        }
        Ok(true)
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rename_rules_match_serde() {
        // The cases of serde_derive's own `rename_variants` and `rename_fields` tests.
        for (original, lower, upper, camel, snake, screaming, kebab, screaming_kebab) in [
            ("Outcome", "outcome", "OUTCOME", "outcome", "outcome", "OUTCOME", "outcome", "OUTCOME"),
            (
                "VeryTasty",
                "verytasty",
                "VERYTASTY",
                "veryTasty",
                "very_tasty",
                "VERY_TASTY",
                "very-tasty",
                "VERY-TASTY",
            ),
            ("A", "a", "A", "a", "a", "A", "a", "A"),
            ("Z42", "z42", "Z42", "z42", "z42", "Z42", "z42", "Z42"),
        ] {
            assert_eq!(RenameRule::Lower.apply_to_variant(original), lower);
            assert_eq!(RenameRule::Upper.apply_to_variant(original), upper);
            assert_eq!(RenameRule::Pascal.apply_to_variant(original), original);
            assert_eq!(RenameRule::Camel.apply_to_variant(original), camel);
            assert_eq!(RenameRule::Snake.apply_to_variant(original), snake);
            assert_eq!(RenameRule::ScreamingSnake.apply_to_variant(original), screaming);
            assert_eq!(RenameRule::Kebab.apply_to_variant(original), kebab);
            assert_eq!(RenameRule::ScreamingKebab.apply_to_variant(original), screaming_kebab);
        }
        for (original, upper, pascal, camel, screaming, kebab, screaming_kebab) in [
            ("outcome", "OUTCOME", "Outcome", "outcome", "OUTCOME", "outcome", "OUTCOME"),
            ("very_tasty", "VERY_TASTY", "VeryTasty", "veryTasty", "VERY_TASTY", "very-tasty", "VERY-TASTY"),
            ("a", "A", "A", "a", "A", "a", "A"),
            ("z42", "Z42", "Z42", "z42", "Z42", "z42", "Z42"),
        ] {
            assert_eq!(RenameRule::Upper.apply_to_field(original), upper);
            assert_eq!(RenameRule::Pascal.apply_to_field(original), pascal);
            assert_eq!(RenameRule::Camel.apply_to_field(original), camel);
            assert_eq!(RenameRule::Snake.apply_to_field(original), original);
            assert_eq!(RenameRule::ScreamingSnake.apply_to_field(original), screaming);
            assert_eq!(RenameRule::Kebab.apply_to_field(original), kebab);
            assert_eq!(RenameRule::ScreamingKebab.apply_to_field(original), screaming_kebab);
        }
    }
}
