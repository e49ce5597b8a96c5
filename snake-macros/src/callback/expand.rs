//! The generated code, next to the user's item (kept as written): per callback, the
//! `CallbackFn` the parent dispatches to, the `CallbackEntry` declaration for the stubs and the
//! `PyMessage` checks.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::model::{Callback, Callbacks, Output};

fn registration(krate: &syn::Path, callback: &Callback<'_>) -> TokenStream {
    let private = quote!(#krate::__private);
    let schema = quote!(#krate::schema);
    let (name, docs, ident) = (&callback.name, &callback.docs, callback.ident);
    let (arg, reply) = (callback.arg, callback.output.reply());
    let callback_error = quote!(#krate::CallbackError);

    // The user's function on the decoded argument, spanned on its name so that a future that
    // is not `Send` is reported there. A missing state is an `Err`, which Python sees as
    // `snake.CallbackError`.
    let span = ident.span();
    let (lookup, call) = match callback.state {
        None => (None, quote_spanned!(span=> #ident(__snake_arg).await)),
        Some(state) => (
            Some(quote_spanned!(state.span()=> let __snake_state = __snake_states.get::<#state>(#name);)),
            quote_spanned!(span=> <#state>::#ident(&*__snake_state?, __snake_arg).await),
        ),
    };
    let states = if callback.state.is_some() { quote!(__snake_states) } else { quote!(_) };
    let (error_type, result_parts, result) = match &callback.output {
        Output::Plain(_) => (
            quote!(
                type Error = ::core::convert::Infallible;
            ),
            None,
            quote!(::core::result::Result::Ok(#call)),
        ),
        Output::Fallible { error, returned, .. } => {
            // `Result<R, E>` names `E`; for an alias such as `io::Result<R>` it is read off the type.
            let error = match error {
                Some(error) => quote_spanned!(error.span()=> type Error = #error;),
                None => quote_spanned!(returned.span()=> type Error = <#returned as __SnakeResult>::Error;),
            };
            let parts = quote! {
                trait __SnakeResult {
                    type Error;
                }
                impl<__SnakeT, __SnakeE> __SnakeResult for ::core::result::Result<__SnakeT, __SnakeE> {
                    type Error = __SnakeE;
                }
            };
            (error, Some(parts), call)
        }
    };
    let future = quote!(
        impl ::core::future::Future<Output = ::core::result::Result<Self::Reply, #callback_error>>
            + ::core::marker::Send
            + 'static
    );
    let call_fn = quote_spanned! {span=>
        fn call(#states: &#private::CallbackStates, __snake_arg: Self::Arg) -> #future {
            #lookup
            async move { <Self as __SnakeCallback>::convert(#result) }
        }
    };
    // The `PyMessage` bounds are checked once, at the impl, spanned on the user's types; the
    // registration only names the projections, whose bounds hold by the trait's definition.
    let arg_type = quote_spanned!(arg.span()=> type Arg = #arg;);
    let reply_type = quote_spanned!(reply.span()=> type Reply = #reply;);

    quote! {
        #[allow(non_local_definitions, clippy::all, clippy::pedantic)]
        const _: () = {
            /// The callback's types and call; the registration is written once against them.
            trait __SnakeCallback {
                type Arg: #krate::PyMessage;
                type Reply: #krate::PyMessage;
                type Error: ::core::convert::Into<#callback_error>;

                fn convert(
                    result: ::core::result::Result<Self::Reply, Self::Error>,
                ) -> ::core::result::Result<Self::Reply, #callback_error> {
                    ::core::result::Result::map_err(result, ::core::convert::Into::into)
                }

                fn call(states: &#private::CallbackStates, arg: Self::Arg) -> #future;

                const CALLBACK: #private::CallbackFn = #private::CallbackFn {
                    name: #name,
                    codec: #private::CallbackCodec::of::<Self::Arg, Self::Reply>(__snake_name),
                    call: |__snake_states, __snake_bytes| {
                        #private::run_callback::<Self::Arg, Self::Reply, _>(
                            #name,
                            &__snake_bytes,
                            |__snake_arg| <Self as __SnakeCallback>::call(__snake_states, __snake_arg),
                        )
                    },
                };

                /// The declaration, for the stubs and the actors' fingerprints.
                fn declaration(__snake_registry: &mut #schema::Registry) -> #schema::CallbackDecl {
                    #schema::CallbackDecl {
                        name: ::std::borrow::ToOwned::to_owned(#name),
                        docs: ::std::borrow::ToOwned::to_owned(#docs),
                        arg: __snake_registry.describe::<Self::Arg>(),
                        reply: __snake_registry.describe::<Self::Reply>(),
                        streaming: false,
                    }
                }
            }

            fn __snake_name() -> &'static str {
                #name
            }

            #result_parts

            enum __SnakeThis {}

            impl __SnakeCallback for __SnakeThis {
                #arg_type
                #reply_type
                #error_type
                #call_fn
            }

            #private::inventory::submit! { <__SnakeThis as __SnakeCallback>::CALLBACK }
            #private::inventory::submit! { #schema::CallbackEntry::new(<__SnakeThis as __SnakeCallback>::declaration) }
        };
    }
}

pub(super) fn expand(item: &TokenStream, callbacks: &Callbacks<'_>) -> TokenStream {
    let registrations = callbacks.callbacks.iter().map(|callback| registration(&callbacks.krate, callback));
    quote! {
        #item
        #(#registrations)*
    }
}
