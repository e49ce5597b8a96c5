//! The declaration as plain data: the trait's options and one [`Method`] per `fn`, keeping the
//! syn nodes for spans. Building it reports every rule a single item can break.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::{Attribute, FnArg, Ident, ItemTrait, Pat, Path, ReturnType, Safety, TraitItem, TraitItemFn};

use super::parse::{self, ActorOptions};
use crate::support::{self, Errors};

/// Rust names the generated handle defines itself.
/// The handle's own methods (`register`, `lookup` and `lookup_all` exist with snake's feature
/// `remote`, `shared_array` with `numpy`; reserved always, so that enabling them breaks no
/// declaration).
pub(super) const RESERVED: &[&str] = &[
    "spawn",
    "pool",
    "actor_ref",
    "with_key",
    "reload",
    "reload_with",
    "metrics",
    "shared_bytes",
    "shared_array",
    "register",
    "lookup",
    "lookup_all",
];

pub(super) struct Actor<'a> {
    pub item: &'a ItemTrait,
    pub krate: Path,
    /// The Python module the child imports.
    pub module: String,
    /// The Python `Protocol` name in the stubs.
    pub python_name: String,
    pub docs: String,
    /// Attributes moved to the handle struct (docs included).
    pub forwarded: Vec<&'a Attribute>,
    pub methods: Vec<Method<'a>>,
}

/// What a method's Python function returns.
pub(super) enum Reply<'a> {
    /// One value.
    Value(&'a syn::Type),
    /// `snake::Stream<item>`: a (async) generator.
    Stream { declared: &'a syn::Type, item: &'a syn::Type },
}

pub(super) struct Method<'a> {
    pub ident: &'a Ident,
    /// Attributes moved to the handle method (docs included).
    pub forwarded: Vec<&'a Attribute>,
    pub docs: String,
    pub python_name: String,
    /// Where the Python name comes from: the `python = "..."` literal or the Rust name.
    pub python_span: Span,
    pub is_async: bool,
    /// The argument's name, reused for the handle method's parameter.
    pub arg: &'a Ident,
    pub request: &'a syn::Type,
    pub reply: Reply<'a>,
    /// `#[snake(retry)]`: sent again, once, to another worker if its worker dies under it.
    pub retry: bool,
}

impl Method<'_> {
    /// The `HandlerMode` variant the Python function must have.
    pub fn mode(&self) -> &'static str {
        match (&self.reply, self.is_async) {
            (Reply::Value(_), false) => "Sync",
            (Reply::Value(_), true) => "Async",
            (Reply::Stream { .. }, false) => "Generator",
            (Reply::Stream { .. }, true) => "AsyncGenerator",
        }
    }

    /// How the Python function is spelled, for the handle's docs.
    pub fn python_kind(&self) -> &'static str {
        match self.mode() {
            "Sync" => "a plain `def`",
            "Async" => "an `async def`",
            "Generator" => "a generator (`def` with `yield`)",
            _ => "an async generator (`async def` with `yield`)",
        }
    }
}

/// Attributes that are not ours are forwarded; `#[cfg]` is refused, because the method list must
/// be the same in every build of parent and child.
fn forwarded<'a>(attrs: &'a [Attribute], what: &str, errors: &mut Errors) -> Vec<&'a Attribute> {
    let mut kept = Vec::new();
    for attr in attrs {
        if support::is_snake_attr(attr) {
            continue;
        }
        if attr.path().is_ident("cfg") {
            errors.on(
                attr,
                format!(
                    "`#[cfg]` is not supported on {what} of a `#[snake::actor]` declaration: \
                     put it before `#[snake::actor]` on the whole declaration"
                ),
            );
            continue;
        }
        kept.push(attr);
    }
    kept
}

pub(super) fn actor<'a>(item: &'a ItemTrait, options: ActorOptions, errors: &mut Errors) -> Actor<'a> {
    if let Some(unsafety) = &item.unsafety {
        errors.on(unsafety, "`#[snake::actor]` declarations cannot be `unsafe trait`: remove `unsafe`");
    }
    if let Some(auto) = &item.modifiers.auto_token {
        errors.on(auto, "`#[snake::actor]` declarations cannot be `auto trait`: remove `auto`");
    }
    if !item.generics.params.is_empty() {
        errors.on(
            &item.generics,
            "`#[snake::actor]` declarations cannot be generic: each method needs concrete request and reply types",
        );
    }
    if let Some(where_clause) = &item.generics.where_clause {
        errors.on(where_clause, "`#[snake::actor]` declarations cannot have a `where` clause: remove it");
    }
    if item.colon_token.is_some() {
        let supertraits = &item.supertraits;
        let colon = item.colon_token;
        errors.on(
            quote::quote!(#colon #supertraits),
            "`#[snake::actor]` declarations cannot have supertraits: the trait is replaced by a struct; remove `: ...`",
        );
    }
    for attr in item.attrs.iter().filter(|attr| support::is_snake_attr(attr)) {
        errors.on(
            attr,
            "`#[snake(...)]` is not read on the declaration: put its options in the macro, \
             `#[snake::actor(module = \"...\")]`",
        );
    }
    let unraw = item.ident.unraw().to_string();
    let module = match &options.module {
        Some(module) => {
            let value = module.value();
            if !support::is_python_module(&value) {
                errors.at(
                    module.span(),
                    format!(
                        "`{value}` is not a Python module name: use identifiers joined with dots, \
                         such as `models.inference`"
                    ),
                );
            }
            value
        }
        None => {
            let value = support::snake_case(&unraw);
            if !support::is_python_module(&value) {
                errors.at(
                    item.ident.span(),
                    format!(
                        "the default Python module of `{unraw}` would be `{value}`, which is not a module name: \
                         name one with `#[snake::actor(module = \"...\")]`"
                    ),
                );
            }
            value
        }
    };
    let python_name = match &options.name {
        Some(name) => {
            let value = name.value();
            if !support::is_python_identifier(&value) {
                errors.at(
                    name.span(),
                    format!(
                        "`{value}` is not a usable Python class name: use an ASCII identifier that is not a keyword"
                    ),
                );
            }
            value
        }
        None => {
            if !support::is_python_identifier(&unraw) {
                errors.at(
                    item.ident.span(),
                    format!(
                        "`{unraw}` is not a usable Python class name: name the protocol with \
                         `#[snake::actor(name = \"...\")]`"
                    ),
                );
            }
            unraw
        }
    };
    let mut methods = Vec::new();
    for trait_item in &item.items {
        match trait_item {
            TraitItem::Fn(function) => {
                if let Some(method) = method(function, errors) {
                    methods.push(method);
                }
            }
            other => errors.on(
                other,
                "a `#[snake::actor]` declaration holds only `fn` declarations, one per Python function: remove this item",
            ),
        }
    }
    Actor {
        item,
        krate: options.krate.unwrap_or_else(support::default_crate),
        module,
        python_name,
        docs: support::docs(&item.attrs),
        forwarded: forwarded(&item.attrs, "the declaration", errors),
        methods,
    }
}

/// One method, or `None` (with errors) when it lacks a piece the expansion needs.
fn method<'a>(function: &'a TraitItemFn, errors: &mut Errors) -> Option<Method<'a>> {
    let sig = &function.sig;
    let name = sig.ident.unraw().to_string();
    let options = parse::method_options(&function.attrs, errors);
    let forwarded = forwarded(&function.attrs, "a method", errors);
    if let Some(constness) = &sig.constness {
        errors.on(constness, "`#[snake::actor]` methods cannot be `const`: remove `const`");
    }
    match &sig.safety {
        Safety::Unsafe(token) => errors.on(token, "`#[snake::actor]` methods cannot be `unsafe`: remove `unsafe`"),
        Safety::Safe(token) => errors.on(token, "`#[snake::actor]` methods cannot be marked `safe`: remove `safe`"),
        Safety::Default => {}
    }
    if let Some(abi) = &sig.abi {
        errors.on(abi, "`#[snake::actor]` methods cannot have an ABI: remove `extern`");
    }
    if let Some(default) = &function.modifiers.defaultness {
        errors.on(default, "`#[snake::actor]` methods cannot be `default`: remove it");
    }
    if !sig.generics.params.is_empty() {
        errors.on(
            &sig.generics,
            "`#[snake::actor]` methods cannot be generic: give the request and reply concrete types",
        );
    }
    if let Some(where_clause) = &sig.generics.where_clause {
        errors.on(where_clause, "`#[snake::actor]` methods cannot have a `where` clause: remove it");
    }
    if let Some(variadic) = &sig.variadic {
        errors.on(variadic, "`#[snake::actor]` methods cannot be variadic: take one request argument");
    }
    if let Some(body) = &function.default {
        errors.on(
            body,
            "a `#[snake::actor]` method is implemented in Python: remove the body and end the declaration with `;`",
        );
    }
    if RESERVED.contains(&name.as_str()) {
        errors.at(
            sig.ident.span(),
            format!(
                "`{name}` is a method of every `#[snake::actor]` handle: rename the Rust method and keep the \
                 Python name with `#[snake(python = \"{name}\")]`"
            ),
        );
    }

    let (python_name, python_span) = support::python_name(
        options.python.as_ref(),
        &sig.ident,
        "name the Python function with `#[snake(python = \"...\")]`",
        errors,
    );

    let mut typed = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(receiver) => errors.on(
                receiver,
                "`#[snake::actor]` methods take no `self`: the generated handle supplies `&self`; \
                 declare only the request argument",
            ),
            FnArg::Typed(arg) => typed.push(arg),
        }
    }
    let argument = match typed.as_slice() {
        [] => {
            errors.at(
                sig.paren_token.span.join(),
                format!(
                    "`#[snake::actor]` method `{name}` takes exactly one argument, the request: \
                     add one (`request: ()` if Python needs no value)"
                ),
            );
            None
        }
        [arg] => Some(*arg),
        [_, extra @ ..] => {
            errors.on(
                quote::quote!(#(#extra)*),
                format!(
                    "`#[snake::actor]` method `{name}` takes exactly one argument, the request: \
                     put these values into one message type"
                ),
            );
            None
        }
    };
    let arg = argument.and_then(|arg| {
        for attr in &arg.attrs {
            errors.on(attr, "attributes on a `#[snake::actor]` method's argument are not supported: remove it");
        }
        let ident = match arg.pat.as_ref() {
            Pat::Ident(pat) if pat.by_ref.is_none() && pat.mutability.is_none() && pat.subpat.is_none() => {
                Some(&pat.ident)
            }
            other => {
                errors.on(
                    other,
                    "the argument of a `#[snake::actor]` method must be a plain identifier, such as \
                     `request: Request`, not a pattern",
                );
                None
            }
        };
        let ty_ok = check_message_type(&arg.ty, "request", errors);
        ident.filter(|_| ty_ok).map(|ident| (ident, arg.ty.as_ref()))
    });

    let reply = match &sig.output {
        ReturnType::Default => {
            errors.at(
                sig.paren_token.span.close(),
                format!(
                    "`#[snake::actor]` method `{name}` has no return type: declare what Python returns \
                     (`-> Reply`, `-> ()` for `None`, `-> snake::Stream<Item>` for a generator)"
                ),
            );
            None
        }
        ReturnType::Type(_, ty) => {
            let reply = match support::last_segment_args(ty, "Stream").as_deref() {
                Some([item]) => Reply::Stream { declared: ty, item },
                _ => Reply::Value(ty),
            };
            let checked = match &reply {
                Reply::Value(ty) => ty,
                Reply::Stream { item, .. } => item,
            };
            check_message_type(checked, "reply", errors).then_some(reply)
        }
    };

    if let (Some(retry), Some(Reply::Stream { .. })) = (&options.retry, &reply) {
        errors.at(
            retry.span(),
            "`#[snake(retry)]` applies to methods that return one value: a stream that has sent items cannot \
             be sent again; remove it",
        );
    }
    let ((arg, request), reply) = (arg?, reply?);
    Some(Method {
        ident: &sig.ident,
        forwarded,
        docs: support::docs(&function.attrs),
        python_name,
        python_span,
        is_async: sig.asyncness.is_some(),
        arg,
        request,
        reply,
        retry: options.retry.is_some(),
    })
}

/// Rejects the shapes that cannot cross a process boundary before the trait checks run, with a
/// message that says why: references and `impl Trait`.
fn check_message_type(ty: &syn::Type, what: &str, errors: &mut Errors) -> bool {
    match ty {
        syn::Type::Reference(_) => {
            errors.on(ty, format!("the {what} crosses into another process, so it is passed by value: remove the `&`"));
            false
        }
        syn::Type::ImplTrait(_) => {
            errors
                .on(ty, format!("the {what} of a `#[snake::actor]` method must be a concrete type, not `impl Trait`"));
            false
        }
        _ => true,
    }
}
