//! The generated code: `Describe` (with its `SELF_DESCRIBING` constant from [`super::wire`]; and,
//! where the shape allows, `DescribeFields` and `DescribeKey`), a check that the type is a
//! `PyMessage`, and the `inventory` submission.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{GenericParam, Generics, Ident, Path, WherePredicate};

use super::check::is_transparent_candidate;
use super::model::{Data, Field, Input, Style, Variant};

/// How the enum is tagged, as decided by serde's container attributes (already checked).
enum Representation<'a> {
    External,
    Internal(&'a str),
    Adjacent(&'a str, &'a str),
    Untagged,
}

fn representation<'a>(input: &'a Input<'_>) -> Representation<'a> {
    match (&input.serde.untagged, &input.serde.tag, &input.serde.content) {
        (Some(_), _, _) => Representation::Untagged,
        (None, Some((tag, _)), Some((content, _))) => Representation::Adjacent(tag, content),
        (None, Some((tag, _)), None) => Representation::Internal(tag),
        (None, None, _) => Representation::External,
    }
}

fn string(text: &str) -> TokenStream {
    quote!(<::std::string::String as ::core::convert::From<&str>>::from(#text))
}

/// The names of the generic type and const parameters, which the Python name depends on.
fn type_param_names(generics: &Generics) -> Vec<&Ident> {
    generics.type_params().map(|param| &param.ident).collect()
}

/// Whether a type mentions one of `params` (then its bounds go on the impl).
fn mentions(ty: &syn::Type, params: &[&Ident]) -> bool {
    struct Finder<'p> {
        params: &'p [&'p Ident],
        found: bool,
    }
    impl<'ast> Visit<'ast> for Finder<'_> {
        fn visit_path(&mut self, path: &'ast syn::Path) {
            if path.segments.first().is_some_and(|segment| self.params.iter().any(|p| segment.ident == **p)) {
                self.found = true;
            }
            syn::visit::visit_path(self, path);
        }
    }
    let mut finder = Finder { params, found: false };
    finder.visit_type(ty);
    finder.found
}

/// Type parameters used as the key of a `HashMap`/`BTreeMap` in a field need `DescribeKey`.
fn map_key_params<'p>(ty: &syn::Type, params: &[&'p Ident], out: &mut Vec<&'p Ident>) {
    struct Finder<'p, 'o> {
        params: &'o [&'p Ident],
        out: &'o mut Vec<&'p Ident>,
    }
    impl<'ast> Visit<'ast> for Finder<'_, '_> {
        fn visit_path_segment(&mut self, segment: &'ast syn::PathSegment) {
            if (segment.ident == "HashMap" || segment.ident == "BTreeMap")
                && let syn::PathArguments::AngleBracketed(args) = &segment.arguments
                && let Some(syn::GenericArgument::Type(syn::Type::Path(key))) = args.args.first()
                && let Some(ident) = key.path.get_ident()
                && let Some(param) = self.params.iter().find(|p| **p == ident)
                && !self.out.contains(param)
            {
                self.out.push(param);
            }
            syn::visit::visit_path_segment(self, segment);
        }
    }
    Finder { params, out }.visit_type(ty);
}

struct Expander<'i, 'a> {
    input: &'i Input<'a>,
    krate: &'i Path,
    /// `T`, for every generic type parameter.
    params: Vec<&'i Ident>,
}

impl Expander<'_, '_> {
    fn schema(&self) -> TokenStream {
        let krate = self.krate;
        quote!(#krate::schema)
    }

    /// `<T as Describe>::describe(registry)`, spanned on the field's type so a missing
    /// implementation is reported there.
    fn describe(&self, ty: &syn::Type) -> TokenStream {
        let schema = self.schema();
        quote_spanned!(ty.span()=> <#ty as #schema::Describe>::describe(__snake_registry))
    }

    fn describe_fields(&self, ty: &syn::Type) -> TokenStream {
        let schema = self.schema();
        quote_spanned!(ty.span()=> <#ty as #schema::DescribeFields>::describe_fields(__snake_registry))
    }

    /// Bounds the shape needs beyond `T: Describe`: `DescribeKey` for type parameters used as
    /// map keys, `DescribeFields` for flattened or merged types that mention a parameter.
    fn shape_predicates(&self) -> Vec<TokenStream> {
        let schema = self.schema();
        let mut predicates = Vec::new();
        let mut key_params = Vec::new();
        for field in self.fields() {
            map_key_params(field.described_ty(), &self.params, &mut key_params);
            if field.serde.flatten.is_some() && mentions(field.ty, &self.params) {
                let ty = field.ty;
                predicates.push(quote!(#ty: #schema::DescribeFields));
            }
        }
        if let Data::Enum(variants) = &self.input.data
            && matches!(representation(self.input), Representation::Internal(_))
        {
            let merged = variants
                .iter()
                .filter(|v| !v.serde.skip_serializing && !v.serde.untagged && v.effective_style() == Style::Newtype);
            for variant in merged {
                let ty = variant.fields[0].described_ty();
                if mentions(ty, &self.params) {
                    predicates.push(quote!(#ty: #schema::DescribeFields));
                }
            }
        }
        for param in key_params {
            predicates.push(quote!(#param: #schema::DescribeKey));
        }
        predicates
    }

    /// The item's own `where` predicates.
    fn own_predicates(&self) -> Vec<TokenStream> {
        let clause = self.input.original.generics.where_clause.as_ref();
        clause.map(|clause| clause.predicates.iter().map(ToTokens::to_token_stream).collect()).unwrap_or_default()
    }

    /// The `where` clause of the impls: the item's own predicates, `T: Describe` for each type
    /// parameter, the [`shape_predicates`](Self::shape_predicates) and `extra`.
    fn where_clause(&self, extra: &[WherePredicate]) -> TokenStream {
        let schema = self.schema();
        let mut predicates = self.own_predicates();
        predicates.extend(self.params.iter().map(|param| quote!(#param: #schema::Describe)));
        predicates.extend(self.shape_predicates());
        predicates.extend(extra.iter().map(ToTokens::to_token_stream));
        if predicates.is_empty() { TokenStream::new() } else { quote!(where #(#predicates,)*) }
    }

    /// Every field of the item, in every variant.
    fn fields(&self) -> Box<dyn Iterator<Item = &Field<'_>> + '_> {
        match &self.input.data {
            Data::Struct(_, fields) => Box::new(fields.iter().filter(|f| !f.serde.skip_serializing)),
            Data::Enum(variants) => Box::new(
                variants
                    .iter()
                    .filter(|v| !v.serde.skip_serializing)
                    .flat_map(|v| v.fields.iter())
                    .filter(|f| !f.serde.skip_serializing),
            ),
        }
    }

    /// The Python name: a string literal, or the base name and the arguments' fragments.
    fn name(&self) -> TokenStream {
        let schema = self.schema();
        let base = &self.input.python_name;
        let generics = &self.input.original.generics;
        let arguments: Vec<TokenStream> = generics
            .params
            .iter()
            .filter_map(|param| match param {
                GenericParam::Type(param) => {
                    let ident = &param.ident;
                    Some(quote! {
                        #schema::Type::name_fragment(&<#ident as #schema::Describe>::describe(__snake_registry))
                    })
                }
                GenericParam::Const(param) => {
                    let ident = &param.ident;
                    Some(quote!(::std::string::ToString::to_string(&#ident)))
                }
                GenericParam::Lifetime(_) => None,
            })
            .collect();
        if arguments.is_empty() { string(base) } else { quote!(#schema::Type::generic_name(#base, &[#(#arguments),*])) }
    }

    /// The keys of named fields: a block evaluating to `Vec<Field>`.
    fn field_list(&self, fields: &[Field<'_>], tag: Option<(&str, &str)>) -> TokenStream {
        let schema = self.schema();
        let mut pushes = Vec::new();
        if let Some((key, value)) = tag {
            pushes.push(quote! {
                ::std::vec::Vec::push(&mut __snake_fields, #schema::Field::new(
                    #key, #schema::Type::Literal(<::std::string::String as ::core::convert::From<&str>>::from(#value)), "",
                ));
            });
        }
        for field in fields.iter().filter(|f| !f.serde.skip_serializing) {
            let optional = field.serde.skip_serializing_if.is_some();
            if field.serde.flatten.is_some() {
                let merged = self.describe_fields(field.described_ty());
                let merged = if optional { quote!(#schema::Field::all_optional(#merged)) } else { merged };
                pushes.push(quote!(::core::iter::Extend::extend(&mut __snake_fields, #merged);));
            } else {
                let (wire, docs) = (&field.wire_name, &field.docs);
                let ty = self.describe(field.described_ty());
                let mut new = quote!(#schema::Field::new(#wire, #ty, #docs));
                if optional {
                    new = quote!(#schema::Field::optional(#new));
                }
                pushes.push(quote!(::std::vec::Vec::push(&mut __snake_fields, #new);));
            }
        }
        quote! {{
            let mut __snake_fields: ::std::vec::Vec<#schema::Field> = ::std::vec::Vec::new();
            #(#pushes)*
            __snake_fields
        }}
    }

    /// `vec![...]` of the descriptions of the serialized fields of a tuple.
    fn items(&self, fields: &[Field<'_>]) -> TokenStream {
        let items = fields.iter().filter(|f| !f.serde.skip_serializing).map(|f| self.describe(f.described_ty()));
        quote!(::std::vec![#(#items),*])
    }

    fn variant(&self, variant: &Variant<'_>, representation: &Representation<'_>) -> TokenStream {
        let schema = self.schema();
        let shape = match variant.effective_style() {
            Style::Unit => quote!(#schema::VariantShape::Unit),
            Style::Newtype => {
                let ty = variant.fields[0].described_ty();
                if matches!(representation, Representation::Internal(_)) && !variant.serde.untagged {
                    // serde merges the content's keys into the tagged dict.
                    let fields = self.describe_fields(ty);
                    quote!(#schema::VariantShape::Struct(#fields))
                } else {
                    let ty = self.describe(ty);
                    quote!(#schema::VariantShape::Newtype(#ty))
                }
            }
            Style::Tuple => {
                let items = self.items(&variant.fields);
                quote!(#schema::VariantShape::Tuple(#items))
            }
            Style::Struct => {
                let fields = self.field_list(&variant.fields, None);
                quote!(#schema::VariantShape::Struct(#fields))
            }
        };
        let name = string(&variant.wire_name);
        let rust_name = string(&variant.ident.to_string());
        let docs = string(&variant.docs);
        let untagged = variant.serde.untagged;
        quote! {
            #schema::Variant { name: #name, rust_name: #rust_name, docs: #docs, untagged: #untagged, shape: #shape }
        }
    }

    /// The expression of the definition's `Kind`.
    fn kind(&self) -> TokenStream {
        let schema = self.schema();
        match &self.input.data {
            Data::Struct(style, fields) => {
                if self.input.serde.transparent.is_some() {
                    let inner =
                        fields.iter().find(|f| is_transparent_candidate(f)).map(|f| self.describe(f.described_ty()));
                    return quote!(#schema::Kind::Newtype { inner: #inner });
                }
                match style {
                    Style::Struct => quote! {
                        #schema::Kind::Struct {
                            fields: <Self as #schema::DescribeFields>::describe_fields(__snake_registry),
                        }
                    },
                    // serde serializes a newtype struct's field even when it is marked skipped.
                    Style::Newtype => {
                        let inner = self.describe(fields[0].described_ty());
                        quote!(#schema::Kind::Newtype { inner: #inner })
                    }
                    Style::Tuple => {
                        let items = self.items(fields);
                        quote!(#schema::Kind::TupleStruct { items: #items })
                    }
                    Style::Unit => quote!(#schema::Kind::UnitStruct),
                }
            }
            Data::Enum(variants) => {
                let representation = representation(self.input);
                let repr = match &representation {
                    Representation::External => quote!(#schema::Representation::External),
                    Representation::Internal(tag) => {
                        let tag = string(tag);
                        quote!(#schema::Representation::Internal { tag: #tag })
                    }
                    Representation::Adjacent(tag, content) => {
                        let (tag, content) = (string(tag), string(content));
                        quote!(#schema::Representation::Adjacent { tag: #tag, content: #content })
                    }
                    Representation::Untagged => quote!(#schema::Representation::Untagged),
                };
                let variants = variants
                    .iter()
                    .filter(|v| !v.serde.skip_serializing)
                    .map(|variant| self.variant(variant, &representation));
                quote!(#schema::Kind::Enum { representation: #repr, variants: ::std::vec![#(#variants),*] })
            }
        }
    }

    /// `DescribeFields` for structs with named fields and unit structs.
    fn describe_fields_impl(&self) -> Option<TokenStream> {
        let schema = self.schema();
        let input = self.input;
        if input.serde.transparent.is_some() || input.serde.into.is_some() {
            return None;
        }
        let body = match &input.data {
            Data::Struct(Style::Struct, fields) => {
                let tag = input.serde.tag.as_ref().map(|(tag, _)| {
                    let name = input.serde.rename.clone().unwrap_or_else(|| input.ident.unraw().to_string());
                    (tag.clone(), name)
                });
                self.field_list(fields, tag.as_ref().map(|(k, v)| (k.as_str(), v.as_str())))
            }
            Data::Struct(Style::Unit, _) => quote!(::std::vec::Vec::new()),
            _ => return None,
        };
        let ident = input.ident;
        let (impl_generics, ty_generics, _) = input.original.generics.split_for_impl();
        let where_clause = self.where_clause(&[]);
        Some(quote! {
            #[automatically_derived]
            impl #impl_generics #schema::DescribeFields for #ident #ty_generics #where_clause {
                fn describe_fields(
                    __snake_registry: &mut #schema::Registry,
                ) -> ::std::vec::Vec<#schema::Field> {
                    #body
                }
            }
        })
    }

    /// `DescribeKey` for shapes that are a `str` or `int` in Python: newtypes of keys (the bound
    /// is behind `for<'__snake>` so an impl for a non-key newtype is never usable rather than an
    /// error) and enums of unit variants.
    fn describe_key_impl(&self) -> Option<TokenStream> {
        let schema = self.schema();
        let input = self.input;
        let inner: Option<&syn::Type> = match &input.data {
            _ if input.serde.into.is_some() => input.serde.into.as_ref(),
            Data::Struct(_, fields) if input.serde.transparent.is_some() => {
                fields.iter().find(|f| is_transparent_candidate(f)).map(Field::described_ty)
            }
            Data::Struct(Style::Newtype, fields) => Some(fields[0].described_ty()),
            Data::Enum(variants) => {
                let unit_only = matches!(representation(input), Representation::External)
                    && variants.iter().any(|v| !v.serde.skip_serializing)
                    && variants
                        .iter()
                        .filter(|v| !v.serde.skip_serializing)
                        .all(|v| !v.serde.untagged && v.effective_style() == Style::Unit);
                if !unit_only {
                    return None;
                }
                None
            }
            Data::Struct(..) => return None,
        };
        let extra: Vec<WherePredicate> =
            inner.map(|ty| syn::parse_quote!(for<'__snake> #ty: #schema::DescribeKey)).into_iter().collect();
        let ident = input.ident;
        let (impl_generics, ty_generics, _) = input.original.generics.split_for_impl();
        let where_clause = self.where_clause(&extra);
        Some(quote! {
            #[automatically_derived]
            impl #impl_generics #schema::DescribeKey for #ident #ty_generics #where_clause {}
        })
    }

    fn describe_impl(&self) -> TokenStream {
        let schema = self.schema();
        let input = self.input;
        let body = if let Some(into) = &input.serde.into {
            // serde serializes the `Into` target instead.
            self.describe(into)
        } else {
            let name = self.name();
            let docs = &input.docs;
            let kind = self.kind();
            quote! {
                let __snake_name = #name;
                #schema::Registry::define(
                    __snake_registry,
                    __snake_name,
                    ::core::any::type_name::<Self>(),
                    #docs,
                    |__snake_registry: &mut #schema::Registry| #kind,
                )
            }
        };
        let self_describing = super::wire::constant(input, self.krate);
        let ident = input.ident;
        let (impl_generics, ty_generics, _) = input.original.generics.split_for_impl();
        let where_clause = self.where_clause(&[]);
        quote! {
            #[automatically_derived]
            impl #impl_generics #schema::Describe for #ident #ty_generics #where_clause {
                const SELF_DESCRIBING: bool = #self_describing;

                fn describe(__snake_registry: &mut #schema::Registry) -> #schema::Type {
                    #body
                }
            }
        }
    }

    /// `Self` with every lifetime `'static`, as a `PyMessage` must be.
    fn static_self(&self) -> TokenStream {
        let ident = self.input.ident;
        let generics = &self.input.original.generics;
        if generics.params.is_empty() {
            return quote!(#ident);
        }
        let arguments = generics.params.iter().map(|param| match param {
            GenericParam::Lifetime(_) => quote!('static),
            GenericParam::Type(param) => param.ident.to_token_stream(),
            GenericParam::Const(param) => param.ident.to_token_stream(),
        });
        quote!(#ident<#(#arguments),*>)
    }

    /// Fails to compile, on the type's name, when it is not `Serialize + DeserializeOwned + Send
    /// + 'static` (for generic types: whenever its parameters are).
    fn assertion(&self) -> TokenStream {
        let krate = self.krate;
        let input = self.input;
        let span = input.ident.span();
        let this = self.static_self();
        let check = quote_spanned!(span=> __snake_assert_py_message::<#this>);
        let generics = &input.original.generics;
        let has_params = generics.type_params().next().is_some() || generics.const_params().next().is_some();
        let assert_fn = quote! {
            fn __snake_assert_py_message<__SnakeT: #krate::PyMessage>() {}
        };
        if !has_params {
            return quote! {
                #assert_fn
                const _: fn() = #check;
            };
        }
        let params = generics.params.iter().filter_map(|param| match param {
            GenericParam::Lifetime(_) => None,
            GenericParam::Type(param) => {
                let ident = &param.ident;
                let bounds = &param.bounds;
                let colon = param.colon_token.map(|_| quote!(+));
                Some(quote!(#ident: #krate::PyMessage #colon #bounds))
            }
            GenericParam::Const(param) => {
                let (ident, ty) = (&param.ident, &param.ty);
                Some(quote!(const #ident: #ty))
            }
        });
        let lifetimes = generics.lifetimes().map(|param| {
            let (lifetime, bounds) = (&param.lifetime, &param.bounds);
            let colon = param.colon_token.map(|_| quote!(:));
            quote!(#lifetime #colon #bounds)
        });
        let params = lifetimes.chain(params);
        let mut predicates = self.own_predicates();
        predicates.extend(self.shape_predicates());
        let where_clause = if predicates.is_empty() { TokenStream::new() } else { quote!(where #(#predicates,)*) };
        quote! {
            #[allow(dead_code)]
            #assert_fn
            #[allow(dead_code)]
            fn __snake_assert_generic<#(#params),*>() #where_clause {
                #check();
            }
        }
    }

    /// Keys that `serde_py` must let this type's dicts carry beyond the fields serde lists, under
    /// the name serde hands the deserializer (generic types too: every instance has that one
    /// name): any key for `#[snake(allow_unknown_keys)]`, the tag of a `#[serde(tag)]` struct.
    fn allow_unknown_keys(&self) -> Option<TokenStream> {
        let input = self.input;
        let krate = self.krate;
        let name = input.serde.rename.clone().unwrap_or_else(|| input.ident.unraw().to_string());
        let ident = input.ident.unraw().to_string();
        let rust_path = quote!(::core::concat!(::core::module_path!(), "::", #ident));
        let entry = if input.allow_unknown_keys {
            quote!(#krate::__private::AllowUnknownKeys::any(#name, #rust_path))
        } else if let (Data::Struct(..), Some((tag, _))) = (&input.data, &input.serde.tag) {
            quote!(#krate::__private::AllowUnknownKeys::only(#name, #rust_path, &[#tag]))
        } else {
            return None;
        };
        Some(quote! {
            #krate::__private::inventory::submit! { #entry }
        })
    }

    /// Non-generic types are listed for the stubs even when no declaration uses them.
    fn submission(&self) -> Option<TokenStream> {
        let generics = &self.input.original.generics;
        if generics.type_params().next().is_some() || generics.const_params().next().is_some() {
            return None;
        }
        let krate = self.krate;
        let this = self.static_self();
        Some(quote! {
            #krate::__private::inventory::submit! {
                #krate::schema::TypeEntry::new(<#this as #krate::schema::Describe>::describe)
            }
        })
    }
}

/// The derive's output for a checked item.
pub(super) fn expand(input: &Input<'_>) -> TokenStream {
    let expander = Expander { input, krate: &input.krate, params: type_param_names(&input.original.generics) };
    let describe = expander.describe_impl();
    let describe_fields = expander.describe_fields_impl();
    let describe_key = expander.describe_key_impl();
    let assertion = expander.assertion();
    let submission = expander.submission();
    let allow_unknown_keys = expander.allow_unknown_keys();
    quote! {
        #[allow(non_local_definitions, clippy::all, clippy::pedantic)]
        const _: () = {
            #describe
            #describe_fields
            #describe_key
            #assertion
            #submission
            #allow_unknown_keys
        };
    }
}

/// What is emitted next to the errors: `Describe` (and `DescribeFields` where the shape would
/// have it) with bodies that are never run, so uses of the type elsewhere do not add errors.
pub(super) fn fallback(original: &syn::DeriveInput, krate: Option<&Path>) -> TokenStream {
    let default: Path = syn::parse_quote!(::snake);
    let krate = krate.unwrap_or(&default);
    let ident = &original.ident;
    let (impl_generics, ty_generics, where_clause) = original.generics.split_for_impl();
    let fields_impl = matches!(&original.data, syn::Data::Struct(data)
        if matches!(data.fields, syn::Fields::Named(_) | syn::Fields::Unit))
    .then(|| {
        quote! {
            #[automatically_derived]
            impl #impl_generics #krate::schema::DescribeFields for #ident #ty_generics #where_clause {
                fn describe_fields(_: &mut #krate::schema::Registry) -> ::std::vec::Vec<#krate::schema::Field> {
                    ::core::unreachable!("#[derive(PyMessage)] failed to compile")
                }
            }
        }
    });
    let span = Span::call_site();
    quote_spanned! {span=>
        #[allow(non_local_definitions, clippy::all, clippy::pedantic)]
        const _: () = {
            #[automatically_derived]
            impl #impl_generics #krate::schema::Describe for #ident #ty_generics #where_clause {
                fn describe(_: &mut #krate::schema::Registry) -> #krate::schema::Type {
                    ::core::unreachable!("#[derive(PyMessage)] failed to compile")
                }
            }
            #fields_impl
        };
    }
}
