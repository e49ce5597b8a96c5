//! The options: `#[snake::callback(name = "...", crate = path)]` on the item and, in an `impl`
//! block, `#[snake(name = "...")]` or `#[snake(skip)]` on a method. Unknown and repeated options
//! are errors, a repeat reported at its second occurrence.

use proc_macro2::{Span, TokenStream};
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Attribute, Ident, LitStr, Path, Token};

use crate::support::{self, Errors};

/// The options of `#[snake::callback(...)]`.
#[derive(Default)]
pub(super) struct CallbackOptions {
    /// `name = "python_name"` and where it was written.
    pub name: Option<(Span, LitStr)>,
    /// `crate = path`: where the runtime is.
    pub krate: Option<Path>,
}

enum CallbackOption {
    Name(Ident, LitStr),
    Crate(Token![crate], Path),
}

impl Parse for CallbackOption {
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
        if key != "name" {
            return Err(syn::Error::new(
                key.span(),
                format!("unknown `#[snake::callback]` option `{key}`: expected `name` or `crate`"),
            ));
        }
        input.parse::<Token![=]>()?;
        Ok(Self::Name(key, input.parse()?))
    }
}

fn duplicate(span: Span, key: &str) -> syn::Error {
    syn::Error::new(span, format!("duplicate `#[snake::callback]` option `{key}`: give it once"))
}

/// Reads the attribute's arguments. A syntax error stops the reading, not the checks of the item.
pub(super) fn callback_options(args: TokenStream, errors: &mut Errors) -> CallbackOptions {
    let mut options = CallbackOptions::default();
    let parsed = match Punctuated::<CallbackOption, Token![,]>::parse_terminated.parse2(args) {
        Ok(parsed) => parsed,
        Err(err) => {
            errors.push(err);
            return options;
        }
    };
    for option in parsed {
        match option {
            CallbackOption::Name(key, value) => {
                if options.name.is_some() {
                    errors.push(duplicate(key.span(), "name"));
                } else {
                    options.name = Some((key.span(), value));
                }
            }
            CallbackOption::Crate(key, value) => {
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

/// The `#[snake(...)]` options of a method in an `impl` block.
#[derive(Default)]
pub(super) struct MethodOptions {
    /// `name = "python_name"`.
    pub name: Option<LitStr>,
    /// `skip`: not a callback, an ordinary method.
    pub skip: Option<Span>,
}

enum MethodOption {
    Name(Ident, LitStr),
    Skip(Ident),
}

impl Parse for MethodOption {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let key: Ident = input.call(syn::ext::IdentExt::parse_any)?;
        match key.to_string().as_str() {
            "name" => {
                input.parse::<Token![=]>()?;
                Ok(Self::Name(key, input.parse()?))
            }
            "skip" => Ok(Self::Skip(key)),
            other => Err(syn::Error::new(
                key.span(),
                format!(
                    "unknown `#[snake]` option `{other}` on a `#[snake::callback]` method: \
                     expected `name = \"...\"` or `skip`"
                ),
            )),
        }
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
            let (key, repeated) = match option {
                MethodOption::Name(key, value) => {
                    let repeated = options.name.is_some();
                    options.name.get_or_insert(value);
                    (key, repeated)
                }
                MethodOption::Skip(key) => {
                    let repeated = options.skip.is_some();
                    options.skip.get_or_insert(key.span());
                    (key, repeated)
                }
            };
            if repeated {
                errors.at(key.span(), format!("duplicate `#[snake]` option `{key}`: give it once"));
            }
        }
    }
    options
}
