//! The item as the derive sees it: plain structs that keep the syn nodes (for spans) next to the
//! parsed options and the serialized names serde will use.

use syn::ext::IdentExt;
use syn::{DeriveInput, Ident, Path};

use super::parse::{self, Level, RenameRule, SerdeContainer, SerdeField, SerdeVariant};
use crate::support::Errors;

/// How a struct or variant holds its fields, as serde classifies them.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Style {
    /// `{ a: A }`
    Struct,
    /// `(A, B)`
    Tuple,
    /// `(A)`
    Newtype,
    /// no fields
    Unit,
}

pub(super) struct Input<'a> {
    pub original: &'a DeriveInput,
    pub ident: &'a Ident,
    pub docs: String,
    /// `::snake` unless `#[snake(crate = ...)]`.
    pub krate: Path,
    /// The Python name (of the generic base, for generic types).
    pub python_name: String,
    /// `#[snake(self_describing)]`.
    pub self_describing: bool,
    /// `#[snake(allow_unknown_keys)]`.
    pub allow_unknown_keys: bool,
    pub serde: SerdeContainer,
    pub data: Data<'a>,
}

pub(super) enum Data<'a> {
    Struct(Style, Vec<Field<'a>>),
    Enum(Vec<Variant<'a>>),
}

pub(super) struct Variant<'a> {
    pub ident: &'a Ident,
    pub docs: String,
    pub style: Style,
    pub fields: Vec<Field<'a>>,
    pub serde: SerdeVariant,
    /// The serialized name (tag value).
    pub wire_name: String,
}

pub(super) struct Field<'a> {
    pub original: &'a syn::Field,
    pub ty: &'a syn::Type,
    pub docs: String,
    pub serde: SerdeField,
    /// `#[snake(as = Type)]`.
    pub as_ty: Option<syn::Type>,
    /// The serialized key (named fields).
    pub wire_name: String,
}

impl Field<'_> {
    /// The type whose description the field takes.
    pub fn described_ty(&self) -> &syn::Type {
        self.as_ty.as_ref().unwrap_or(self.ty)
    }
}

impl Variant<'_> {
    /// serde serializes a newtype variant whose only field is skipped as a unit variant.
    pub fn effective_style(&self) -> Style {
        match self.style {
            Style::Newtype if self.fields[0].serde.skip_serializing => Style::Unit,
            style => style,
        }
    }
}

fn fields<'a>(fields: &'a syn::Fields, rule: Option<RenameRule>, errors: &mut Errors) -> (Style, Vec<Field<'a>>) {
    let style = match fields {
        syn::Fields::Named(_) => Style::Struct,
        syn::Fields::Unnamed(unnamed) if unnamed.unnamed.len() == 1 => Style::Newtype,
        syn::Fields::Unnamed(_) => Style::Tuple,
        syn::Fields::Unit => Style::Unit,
    };
    let fields = fields
        .iter()
        .map(|field| {
            let serde = parse::serde_field(&field.attrs, errors);
            let snake = parse::snake_options(&field.attrs, Level::Field, errors);
            // Tuple fields have no key.
            let wire_name = field.ident.as_ref().map_or_else(String::new, |ident| {
                let rust = ident.unraw().to_string();
                serde.rename.clone().unwrap_or_else(|| rule.map_or(rust.clone(), |r| r.apply_to_field(&rust)))
            });
            Field {
                original: field,
                ty: &field.ty,
                docs: crate::support::docs(&field.attrs),
                serde,
                as_ty: snake.as_ty,
                wire_name,
            }
        })
        .collect();
    (style, fields)
}

/// Builds the model, recording every attribute error; `None` for unions, which have no serde
/// shape.
pub(super) fn input<'a>(original: &'a DeriveInput, errors: &mut Errors) -> Option<Input<'a>> {
    let snake = parse::snake_options(&original.attrs, Level::Container, errors);
    let serde = parse::serde_container(&original.attrs, errors);
    let data = match &original.data {
        syn::Data::Struct(data) => {
            let (style, fields) = fields(&data.fields, serde.rename_all, errors);
            Data::Struct(style, fields)
        }
        syn::Data::Enum(data) => {
            let variants = data
                .variants
                .iter()
                .map(|variant| {
                    let serde_variant = parse::serde_variant(&variant.attrs, errors);
                    // Variants take no options; this reports any that are given.
                    parse::snake_options(&variant.attrs, Level::Variant, errors);
                    let rule = serde_variant.rename_all.or(serde.rename_all_fields.map(|(rule, _)| rule));
                    let (style, fields) = fields(&variant.fields, rule, errors);
                    let rust = variant.ident.unraw().to_string();
                    let wire_name = serde_variant
                        .rename
                        .clone()
                        .unwrap_or_else(|| serde.rename_all.map_or(rust.clone(), |r| r.apply_to_variant(&rust)));
                    Variant {
                        ident: &variant.ident,
                        docs: crate::support::docs(&variant.attrs),
                        style,
                        fields,
                        serde: serde_variant,
                        wire_name,
                    }
                })
                .collect();
            Data::Enum(variants)
        }
        syn::Data::Union(data) => {
            errors.at(
                data.union_token.span,
                "#[derive(PyMessage)] does not support unions: serde cannot serialize them; use a struct or an enum",
            );
            return None;
        }
    };
    Some(Input {
        original,
        ident: &original.ident,
        docs: crate::support::docs(&original.attrs),
        krate: snake.krate.unwrap_or_else(|| syn::parse_quote!(::snake)),
        python_name: snake.name.map_or_else(|| original.ident.unraw().to_string(), |name| name.value()),
        self_describing: snake.self_describing,
        allow_unknown_keys: snake.allow_unknown_keys,
        serde,
        data,
    })
}
