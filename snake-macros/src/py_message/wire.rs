//! The `SELF_DESCRIBING` constant: whether postcard can carry the type between the processes.
//!
//! postcard writes a value without its shape and reads it back by following the type, so it
//! breaks on every serde attribute that makes the serialized shape depend on the value, reads it
//! back with `deserialize_any`, or makes the two sides disagree on the fields or variant numbers.
//! The constant is `true` when the item itself uses one of them and otherwise the OR of its
//! fields' constants. The list errs on the side of `true`, which is always correct, only larger.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Ident, Path};

use super::model::{Data, Field, Input, Style, Variant};

/// The expression of `const SELF_DESCRIBING: bool`.
pub(super) fn constant(input: &Input<'_>, krate: &Path) -> TokenStream {
    if own_attributes_need_it(input) {
        return quote!(true);
    }
    let mut types: Vec<syn::Type> = Vec::new();
    match &input.data {
        // serde serializes a newtype struct's field even when it is marked skipped.
        Data::Struct(Style::Newtype, fields) => types.extend(fields.iter().map(|f| f.described_ty().clone())),
        Data::Struct(_, fields) => types.extend(crossing(fields).map(|f| f.described_ty().clone())),
        Data::Enum(variants) => {
            for variant in variants.iter().filter(|v| !v.serde.skip_serializing) {
                types.extend(crossing(&variant.fields).map(|f| f.described_ty().clone()));
            }
        }
    }
    // `into` serializes the target type; the item's own fields still decide deserialization.
    types.extend(input.serde.into.clone());
    let schema = quote!(#krate::schema);
    let mut replace = ReplaceSelf { ident: input.ident, with: syn::parse_quote!(#krate::__private::SelfReference) };
    let terms = types.into_iter().map(|mut ty| {
        let span = ty.span();
        replace.visit_type_mut(&mut ty);
        quote_spanned!(span=> <#ty as #schema::Describe>::SELF_DESCRIBING)
    });
    quote!(false #(|| #terms)*)
}

/// The fields that are written and read.
fn crossing<'f, 'a>(fields: &'f [Field<'a>]) -> impl Iterator<Item = &'f Field<'a>> {
    fields.iter().filter(|f| !(f.serde.skip_serializing && f.serde.skip_deserializing))
}

fn own_attributes_need_it(input: &Input<'_>) -> bool {
    let serde = &input.serde;
    if input.self_describing || serde.tag.is_some() || serde.untagged.is_some() || serde.from {
        return true;
    }
    match &input.data {
        Data::Struct(_, fields) => fields.iter().any(field_needs_it),
        Data::Enum(variants) => variants_need_it(variants),
    }
}

fn field_needs_it(field: &Field<'_>) -> bool {
    let serde = &field.serde;
    if serde.skip_serializing && serde.skip_deserializing {
        return false;
    }
    // Skipped on one side only: the two sides disagree on the fields.
    serde.skip_serializing != serde.skip_deserializing
        || serde.skip_serializing_if.is_some()
        || serde.flatten.is_some()
        // A custom function may write any shape and read it back with `deserialize_any`.
        || serde.serialize_with.is_some()
        || serde.deserialize_with
}

fn variants_need_it(variants: &[Variant<'_>]) -> bool {
    // serde numbers variants in declaration order when serializing but leaves out the ones it
    // does not deserialize when reading a number back, so a skipped variant before a read one
    // shifts the numbers postcard carries.
    let shifted = variants.iter().skip_while(|v| !v.serde.skip_deserializing).any(|v| !v.serde.skip_deserializing);
    shifted
        || variants.iter().any(|variant| {
            let serde = &variant.serde;
            let crosses = !(serde.skip_serializing && serde.skip_deserializing);
            crosses
                && (serde.untagged
                    || serde.serialize_with.is_some()
                    || serde.deserialize_with
                    || variant.fields.iter().any(field_needs_it))
        })
}

/// Replaces the item's own type (`Tree`, `Tree<T>`, `Self`) with a stand-in whose constant is
/// `false`, so a recursive type's constant does not refer to itself (a cycle rustc rejects). The
/// result is the same: a type is self-describing through itself only if it already is through
/// something else. Only single-segment paths are replaced; `other::Tree` may be another type.
struct ReplaceSelf<'i> {
    ident: &'i Ident,
    with: syn::Type,
}

impl VisitMut for ReplaceSelf<'_> {
    fn visit_type_mut(&mut self, ty: &mut syn::Type) {
        if let syn::Type::Path(path) = ty
            && path.qself.is_none()
            && path.path.leading_colon.is_none()
            && path.path.segments.len() == 1
            && (path.path.segments[0].ident == *self.ident || path.path.segments[0].ident == "Self")
        {
            *ty = self.with.clone();
            return;
        }
        syn::visit_mut::visit_type_mut(self, ty);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::py_message::model;
    use crate::support::Errors;

    fn constant_of(source: &str) -> String {
        let item: syn::DeriveInput = syn::parse_str(source).expect("an item");
        let mut errors = Errors::default();
        let input = model::input(&item, &mut errors).expect("a struct or enum");
        assert!(errors.is_empty());
        constant(&input, &syn::parse_quote!(::snake)).to_string()
    }

    #[test]
    fn own_attributes_decide_alone() {
        for source in [
            r#"#[serde(tag = "t")] enum E { A { x: u8 } }"#,
            r#"#[serde(untagged)] enum E { A(u8) }"#,
            r#"enum E { A(u8), #[serde(untagged)] B(String) }"#,
            r#"#[serde(tag = "kind")] struct S { x: u8 }"#,
            r#"struct S { #[serde(flatten)] inner: Inner }"#,
            r#"struct S { #[serde(skip_serializing_if = "Option::is_none")] x: Option<u8> }"#,
            r#"struct S { #[serde(skip_serializing)] x: u8 }"#,
            r#"struct S { #[serde(skip_deserializing)] x: u8 }"#,
            r#"struct S { #[serde(deserialize_with = "f")] x: u8 }"#,
            r#"#[serde(from = "String")] struct S { x: u8 }"#,
            r#"enum E { #[serde(skip)] A, B }"#,
            r#"#[snake(self_describing)] struct S { x: u8 }"#,
        ] {
            assert_eq!(constant_of(source), "true", "{source}");
        }
    }

    #[test]
    fn otherwise_fields_decide() {
        assert_eq!(constant_of("struct S;"), "false");
        // Fields skipped on both sides do not cross; a skipped last variant shifts nothing.
        assert_eq!(constant_of("struct S { #[serde(skip)] x: Untagged }"), "false");
        assert_eq!(constant_of("enum E { A, #[serde(skip)] B(Untagged) }"), "false");
        assert_eq!(
            constant_of("struct S { x: Vec<Other>, y: u8 }"),
            "false || < Vec < Other > as :: snake :: schema :: Describe > :: SELF_DESCRIBING \
             || < u8 as :: snake :: schema :: Describe > :: SELF_DESCRIBING"
        );
    }

    #[test]
    fn the_item_itself_is_replaced_in_its_fields() {
        assert_eq!(
            constant_of("enum Tree<T> { Leaf(T), Node(Vec<Tree<T>>, Box<Self>, other::Tree) }"),
            "false || < T as :: snake :: schema :: Describe > :: SELF_DESCRIBING \
             || < Vec < :: snake :: __private :: SelfReference > as :: snake :: schema :: Describe > :: SELF_DESCRIBING \
             || < Box < :: snake :: __private :: SelfReference > as :: snake :: schema :: Describe > :: SELF_DESCRIBING \
             || < other :: Tree as :: snake :: schema :: Describe > :: SELF_DESCRIBING"
        );
    }
}
