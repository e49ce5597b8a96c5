//! The options: `#[snake::actor(module = "...", name = "...", crate = path)]` on the trait and
//! `#[snake(python = "...")]` on a method. Unknown and repeated options are errors, a repeat
//! reported at its second occurrence.

use proc_macro2::{Span, TokenStream};
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Attribute, Ident, LitStr, Path, Token};

use crate::support::{self, Errors};

/// The options of `#[snake::actor(...)]`.
#[derive(Default)]
pub(super) struct ActorOptions {
    /// `module = "package.module"`: the Python module the child imports.
    pub module: Option<LitStr>,
    /// `name = "Name"`: the Python `Protocol` class in the stubs.
    pub name: Option<LitStr>,
    /// `crate = path`: where the runtime is.
    pub krate: Option<Path>,
}

enum ActorOption {
    Module(Ident, LitStr),
    Name(Ident, LitStr),
    Crate(Token![crate], Path),
}

impl Parse for ActorOption {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let lookahead = input.lookahead1();
        if lookahead.peek(Token![crate]) {
            let key: Token![crate] = input.parse()?;
            input.parse::<Token![=]>()?;
            return Ok(Self::Crate(key, support::crate_path(input)?));
        }
        if !lookahead.peek(Ident) {
            return Err(lookahead.error());
        }
        let key: Ident = input.parse()?;
        match key.to_string().as_str() {
            "module" => {
                input.parse::<Token![=]>()?;
                Ok(Self::Module(key, input.parse()?))
            }
            "name" => {
                input.parse::<Token![=]>()?;
                Ok(Self::Name(key, input.parse()?))
            }
            other => Err(syn::Error::new(
                key.span(),
                format!("unknown `#[snake::actor]` option `{other}`: expected `module`, `name` or `crate`"),
            )),
        }
    }
}

fn duplicate(span: Span, key: &str) -> syn::Error {
    syn::Error::new(span, format!("duplicate `#[snake::actor]` option `{key}`: give it once"))
}

/// Reads the attribute's arguments. A syntax error stops the reading (the rest of the stream
/// cannot be trusted) but not the checks of the trait.
pub(super) fn actor_options(args: TokenStream, errors: &mut Errors) -> ActorOptions {
    let mut options = ActorOptions::default();
    let parsed = match Punctuated::<ActorOption, Token![,]>::parse_terminated.parse2(args) {
        Ok(parsed) => parsed,
        Err(err) => {
            errors.push(err);
            return options;
        }
    };
    for option in parsed {
        match option {
            ActorOption::Module(key, value) => {
                if options.module.is_some() {
                    errors.push(duplicate(key.span(), "module"));
                } else {
                    options.module = Some(value);
                }
            }
            ActorOption::Name(key, value) => {
                if options.name.is_some() {
                    errors.push(duplicate(key.span(), "name"));
                } else {
                    options.name = Some(value);
                }
            }
            ActorOption::Crate(key, value) => {
                if options.krate.is_some() {
                    errors.push(duplicate(key.span, "crate"));
                } else {
                    options.krate = Some(value);
                }
            }
        }
    }
    options
}

/// The `#[snake(...)]` options of one method.
#[derive(Default)]
pub(super) struct MethodOptions {
    /// `python = "name"`: the function's name in the Python module.
    pub python: Option<LitStr>,
    /// `retry`: the call is sent again, once, to another worker if its worker dies under it.
    pub retry: Option<Ident>,
}

enum MethodOption {
    Python { key: Ident, value: LitStr },
    Retry(Ident),
}

impl Parse for MethodOption {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let key: Ident = input.call(syn::ext::IdentExt::parse_any)?;
        if key == "retry" {
            return Ok(Self::Retry(key));
        }
        if key != "python" {
            return Err(syn::Error::new(
                key.span(),
                format!(
                    "unknown `#[snake]` option `{key}` on a `#[snake::actor]` method: expected `python = \"name\"` \
                     or `retry`"
                ),
            ));
        }
        input.parse::<Token![=]>()?;
        Ok(Self::Python { key, value: input.parse()? })
    }
}

/// Reads every `#[snake(...)]` of a method.
pub(super) fn method_options(attrs: &[Attribute], errors: &mut Errors) -> MethodOptions {
    let mut options = MethodOptions::default();
    for attr in attrs.iter().filter(|attr| support::is_snake_attr(attr)) {
        let parsed = match attr.parse_args_with(Punctuated::<MethodOption, Token![,]>::parse_terminated) {
            Ok(parsed) => parsed,
            Err(err) => {
                errors.push(err);
                continue;
            }
        };
        for option in parsed {
            match option {
                MethodOption::Python { key, .. } if options.python.is_some() => {
                    errors.at(key.span(), "duplicate `#[snake]` option `python`: give it once");
                }
                MethodOption::Python { value, .. } => options.python = Some(value),
                MethodOption::Retry(key) if options.retry.is_some() => {
                    errors.at(key.span(), "duplicate `#[snake]` option `retry`: give it once");
                }
                MethodOption::Retry(key) => options.retry = Some(key),
            }
        }
    }
    options
}
