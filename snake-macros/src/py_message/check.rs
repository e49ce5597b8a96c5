//! Rules that span several attributes: the combinations serde rejects (so the description never
//! has to guess) and the serde features whose Python shape this derive cannot see.

use syn::spanned::Spanned;

use super::model::{Data, Field, Input, Style, Variant};
use crate::support::Errors;

pub(super) fn check(input: &Input<'_>, errors: &mut Errors) {
    let serde = &input.serde;
    if let Some(span) = serde.remote {
        errors.at(
            span,
            "#[derive(PyMessage)] does not support #[serde(remote)]: derive it on a local type with the same shape",
        );
    }
    match &input.data {
        Data::Struct(style, fields) => {
            check_struct(input, *style, fields, errors);
            for field in fields {
                check_field(field, *style, errors);
            }
        }
        Data::Enum(variants) => {
            check_enum(input, variants, errors);
            for variant in variants {
                if let Some(span) = variant.serde.serialize_with {
                    errors.at(
                        span,
                        "#[derive(PyMessage)] cannot see what `#[serde(serialize_with)]` makes of a variant: \
                         give the variant a type that serializes that way instead",
                    );
                }
                for field in &variant.fields {
                    check_field(field, variant.style, errors);
                }
            }
        }
    }
}

fn check_struct(input: &Input<'_>, style: Style, fields: &[Field<'_>], errors: &mut Errors) {
    let serde = &input.serde;
    if let Some(span) = serde.untagged {
        errors.at(span, "#[serde(untagged)] can only be used on enums");
    }
    if let Some((_, span)) = &serde.content {
        errors.at(*span, "#[serde(content = \"...\")] can only be used on enums");
    }
    if let Some((_, span)) = &serde.rename_all_fields {
        errors.at(*span, "#[serde(rename_all_fields)] can only be used on enums");
    }
    if let Some((_, span)) = &serde.tag
        && style != Style::Struct
    {
        errors.at(*span, "#[serde(tag = \"...\")] can only be used on enums and structs with named fields");
    }
    if let Some(span) = serde.transparent {
        if serde.into.is_some() {
            errors.at(span, "#[serde(transparent)] is not allowed with #[serde(into = \"...\")]");
        }
        if style == Style::Unit {
            errors.at(span, "#[serde(transparent)] is not allowed on a unit struct");
        } else if fields.iter().filter(|field| is_transparent_candidate(field)).count() != 1 {
            errors
                .at(span, "#[serde(transparent)] requires exactly one field that is not skipped and not `PhantomData`");
        }
    }
}

/// serde's rule: the transparent field is the one that is serialized and not `PhantomData`.
pub(super) fn is_transparent_candidate(field: &Field<'_>) -> bool {
    let phantom = matches!(field.ty, syn::Type::Path(path)
        if path.path.segments.last().is_some_and(|segment| segment.ident == "PhantomData"));
    !field.serde.skip_serializing && !phantom
}

fn check_enum(input: &Input<'_>, variants: &[Variant<'_>], errors: &mut Errors) {
    let serde = &input.serde;
    if let Some(span) = serde.transparent {
        errors.at(span, "#[serde(transparent)] is not allowed on an enum");
    }
    match (serde.untagged, &serde.tag, &serde.content) {
        (Some(untagged), Some((_, tag)), _) => {
            errors.at(untagged, "an enum cannot be both untagged and tagged");
            errors.at(*tag, "an enum cannot be both untagged and tagged");
        }
        (Some(untagged), None, Some((_, content))) => {
            errors.at(untagged, "an untagged enum cannot have #[serde(content = \"...\")]");
            errors.at(*content, "an untagged enum cannot have #[serde(content = \"...\")]");
        }
        (None, None, Some((_, content))) => {
            errors.at(*content, "#[serde(tag = \"...\", content = \"...\")] must be used together");
        }
        (None, Some((tag, tag_span)), Some((content, _))) if tag == content => {
            errors.at(*tag_span, format!("enum tags `{tag}` for type and content conflict with each other"));
        }
        (None, Some((tag, _)), None) => {
            for variant in variants.iter().filter(|v| !v.serde.untagged && !v.serde.skip_serializing) {
                if variant.style == Style::Tuple {
                    errors.at(variant.ident.span(), "#[serde(tag = \"...\")] cannot be used with tuple variants");
                }
                let clash = variant.style == Style::Struct
                    && variant.fields.iter().any(|f| !f.serde.skip_serializing && f.wire_name == *tag);
                if clash {
                    errors.at(variant.ident.span(), format!("variant field name `{tag}` conflicts with internal tag"));
                }
            }
        }
        _ => {}
    }
}

fn check_field(field: &Field<'_>, style: Style, errors: &mut Errors) {
    if field.serde.skip_serializing {
        return;
    }
    if let Some(span) = field.serde.serialize_with
        && field.as_ty.is_none()
    {
        errors.at(
            span,
            "#[derive(PyMessage)] cannot see what `#[serde(with)]`/`serialize_with` makes of this field: \
             add `#[snake(as = Type)]` naming a type that serializes the same way",
        );
    }
    match (style, field.serde.flatten, field.serde.skip_serializing_if) {
        (Style::Tuple, Some(span), _) => {
            errors.at(span, "#[serde(flatten)] cannot be used on tuple structs or variants");
        }
        (Style::Newtype, Some(span), _) => {
            errors.at(span, "#[serde(flatten)] cannot be used on newtype structs or variants");
        }
        (Style::Tuple, _, Some(span)) => errors.at(
            span,
            "#[derive(PyMessage)] does not support #[serde(skip_serializing_if)] in a tuple: the tuple's length \
             would vary, which no Python type describes",
        ),
        _ => {}
    }
    if field.serde.flatten.is_some() && field.as_ty.is_some() {
        errors.at(field.original.span(), "`#[snake(as = ...)]` cannot be combined with #[serde(flatten)]");
    }
}
