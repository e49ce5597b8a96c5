//! The callbacks as plain data, keeping the syn nodes for spans: one for an `async fn`, one per
//! `async fn name(&self, arg)` of an `impl` block. Building them reports every rule a single
//! function breaks.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::{FnArg, Ident, ImplItem, ItemFn, ItemImpl, LitStr, Path, ReceiverKind, ReturnType, Safety, Signature};

use super::parse::{self, CallbackOptions};
use crate::support::{self, Errors};

pub(super) struct Callbacks<'a> {
    pub krate: Path,
    pub callbacks: Vec<Callback<'a>>,
}

/// How the callback's `Result` is turned into the reply.
pub(super) enum Output<'a> {
    /// `-> R` (or no return type: `()`): always a reply.
    Plain(Box<syn::Type>),
    /// `-> Result<R, E>` or `-> Result<R>` (an alias that fixes `E`, `error` is `None`): an
    /// `Err` reaches Python as `snake.CallbackError`.
    Fallible { reply: &'a syn::Type, error: Option<&'a syn::Type>, returned: &'a syn::Type },
}

impl Output<'_> {
    pub fn reply(&self) -> &syn::Type {
        match self {
            Self::Plain(ty) => ty,
            Self::Fallible { reply, .. } => reply,
        }
    }
}

pub(super) struct Callback<'a> {
    pub ident: &'a Ident,
    /// The Python name in `snake_callbacks`.
    pub name: String,
    pub name_span: Span,
    pub docs: String,
    pub arg: &'a syn::Type,
    pub output: Output<'a>,
    /// The `impl` block's type for `&self` methods (the state provided to the child).
    pub state: Option<&'a syn::Type>,
}

const SHAPE: &str = "`async fn name(arg: Arg) -> Reply`";

/// The checks every callback signature shares. `None` (with errors) when a piece is missing.
fn signature<'a>(
    sig: &'a Signature,
    name: Option<&LitStr>,
    state: Option<&'a syn::Type>,
    docs: String,
    errors: &mut Errors,
) -> Option<Callback<'a>> {
    let rust_name = sig.ident.unraw().to_string();
    if sig.asyncness.is_none() {
        errors.on(
            sig.fn_token,
            format!("`#[snake::callback]` functions are `async fn`: add `async` (the shape is {SHAPE})"),
        );
    }
    if let Some(constness) = &sig.constness {
        errors.on(constness, "`#[snake::callback]` functions cannot be `const`: remove `const`");
    }
    match &sig.safety {
        Safety::Unsafe(token) => errors.on(token, "`#[snake::callback]` functions cannot be `unsafe`: remove `unsafe`"),
        Safety::Safe(token) => {
            errors.on(token, "`#[snake::callback]` functions cannot be marked `safe`: remove `safe`")
        }
        Safety::Default => {}
    }
    if let Some(abi) = &sig.abi {
        errors.on(abi, "`#[snake::callback]` functions cannot have an ABI: remove `extern`");
    }
    if !sig.generics.params.is_empty() {
        errors.on(
            &sig.generics,
            "`#[snake::callback]` functions cannot be generic: Python calls one concrete argument and reply type",
        );
    }
    if let Some(where_clause) = &sig.generics.where_clause {
        errors.on(where_clause, "`#[snake::callback]` functions cannot have a `where` clause: remove it");
    }
    if let Some(variadic) = &sig.variadic {
        errors.on(variadic, "`#[snake::callback]` functions cannot be variadic: take one argument");
    }

    let (name, name_span) = support::python_name(name, &sig.ident, "name the callback with `name = \"...\"`", errors);

    let mut typed = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(receiver) => {
                if state.is_none() {
                    errors.on(
                        receiver,
                        "a free `#[snake::callback]` function takes no `self`: put `#[snake::callback]` on the \
                         `impl` block for callbacks with state",
                    );
                }
            }
            FnArg::Typed(arg) => typed.push(arg),
        }
    }
    let arg = match typed.as_slice() {
        [] => {
            errors.at(
                sig.paren_token.span.join(),
                format!(
                    "`#[snake::callback]` function `{rust_name}` takes exactly one argument, the value Python \
                     passes: add one (`_: ()` if Python passes `None`)"
                ),
            );
            None
        }
        [arg] => Some(&arg.ty),
        [_, extra @ ..] => {
            errors.on(
                quote::quote!(#(#extra)*),
                format!(
                    "`#[snake::callback]` function `{rust_name}` takes exactly one argument, the value Python \
                     passes: put these values into one message type"
                ),
            );
            None
        }
    };
    let arg = arg.and_then(|ty| match ty.as_ref() {
        syn::Type::Reference(_) => {
            errors.on(
                ty,
                "the argument of a `#[snake::callback]` comes from another process, so it is owned: remove the `&`",
            );
            None
        }
        syn::Type::ImplTrait(_) => {
            errors.on(ty, "`#[snake::callback]` functions cannot be generic: give the argument a concrete type");
            None
        }
        ty => Some(ty),
    });

    let output = match &sig.output {
        ReturnType::Default => Output::Plain(Box::new(syn::parse_quote!(()))),
        ReturnType::Type(_, ty) => match support::last_segment_args(ty, "Result").as_deref() {
            Some([reply, error]) => Output::Fallible { reply, error: Some(error), returned: ty },
            Some([reply]) => Output::Fallible { reply, error: None, returned: ty },
            _ => Output::Plain(ty.clone()),
        },
    };
    if let syn::Type::Reference(_) = output.reply() {
        errors.on(
            output.reply(),
            "the reply of a `#[snake::callback]` goes to another process, so it is owned: remove the `&`",
        );
        return None;
    }

    Some(Callback { ident: &sig.ident, name, name_span, docs, arg: arg?, output, state })
}

pub(super) fn free<'a>(function: &'a ItemFn, options: CallbackOptions, errors: &mut Errors) -> Callbacks<'a> {
    for attr in function.attrs.iter().filter(|attr| support::is_snake_attr(attr)) {
        errors.on(
            attr,
            "`#[snake(...)]` is not read on a free callback: put its options in the macro, \
             `#[snake::callback(name = \"...\")]`",
        );
    }
    let name = options.name.as_ref().map(|(_, name)| name);
    let callback = signature(&function.sig, name, None, support::docs(&function.attrs), errors);
    Callbacks { krate: options.krate.unwrap_or_else(support::default_crate), callbacks: callback.into_iter().collect() }
}

pub(super) fn methods<'a>(item: &'a ItemImpl, options: CallbackOptions, errors: &mut Errors) -> Callbacks<'a> {
    if let Some((key, _)) = &options.name {
        errors.at(*key, "`name` names one function: in an `impl` block put `#[snake(name = \"...\")]` on the method");
    }
    if let Some(unsafety) = &item.unsafety {
        errors.on(unsafety, "`#[snake::callback]` goes on an inherent `impl` block, not an `unsafe impl`");
    }
    if let Some((path, for_token)) = &item.trait_ {
        errors.on(
            quote::quote!(#path #for_token),
            "`#[snake::callback]` goes on an inherent `impl` block (`impl State { ... }`), not a trait implementation",
        );
    }
    if !item.generics.params.is_empty() {
        errors.on(
            &item.generics,
            "`#[snake::callback]` impl blocks cannot be generic: the state is looked up by its concrete type",
        );
    }
    if let Some(where_clause) = &item.generics.where_clause {
        errors.on(where_clause, "`#[snake::callback]` impl blocks cannot have a `where` clause: remove it");
    }
    let mut callbacks = Vec::new();
    let mut candidates = 0usize;
    for impl_item in &item.items {
        let ImplItem::Fn(function) = impl_item else { continue };
        let options = parse::method_options(&function.attrs, errors);
        let sig = &function.sig;
        let Some(FnArg::Receiver(receiver)) = sig.inputs.first() else { continue };
        if options.skip.is_some() {
            if let Some(name) = &options.name {
                errors.at(name.span(), "a method marked `#[snake(skip)]` is not a callback: remove `name`");
            }
            continue;
        }
        if sig.asyncness.is_none() {
            continue;
        }
        candidates += 1;
        let usable = match &receiver.kind {
            ReceiverKind::Reference(_, _, None) => true,
            ReceiverKind::Reference(_, _, Some(_)) => {
                errors.on(
                    receiver,
                    "`#[snake::callback]` methods run concurrently on shared state: take `&self` and use \
                     interior mutability (a `Mutex`, atomics) instead of `&mut self`",
                );
                false
            }
            _ => {
                errors.on(
                    receiver,
                    "`#[snake::callback]` methods borrow the state the child was given with `.provide(value)`: \
                     take `&self`",
                );
                false
            }
        };
        let callback =
            signature(sig, options.name.as_ref(), Some(&item.self_ty), support::docs(&function.attrs), errors);
        if let Some(callback) = callback.filter(|_| usable) {
            callbacks.push(callback);
        }
    }
    if candidates == 0 {
        errors.on(
            item.impl_token,
            "`#[snake::callback]` found no callback in this `impl` block: it registers every \
             `async fn name(&self, arg: Arg) -> Reply`",
        );
    }
    Callbacks { krate: options.krate.unwrap_or_else(support::default_crate), callbacks }
}
