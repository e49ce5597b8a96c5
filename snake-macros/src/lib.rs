//! Procedural macros for snake. Use them through the `snake` crate (`#[snake::main]`), which
//! re-exports them; expansions reach the runtime only through `snake::__private`.

mod main_attr;

use proc_macro::TokenStream;

/// Makes `async fn main` the entry point of a snake binary.
///
/// Before any of `main`'s code runs, the generated `fn main` checks whether this process was
/// started as a Python child; if so it serves the requested actor and never returns. Otherwise it
/// builds the tokio runtime and runs the body, as `#[tokio::main]` would.
///
/// | option | default | meaning |
/// |---|---|---|
/// | `flavor = "multi_thread"` / `"current_thread"` | `"multi_thread"` | the parent's runtime |
/// | `worker_threads = N` | tokio's default | worker threads of a multi-thread parent runtime |
/// | `child_init = path` | current-thread runtime | `fn() -> snake::RuntimeConfig`, run first in a child |
/// | `crate = path` | `::snake` | where the `snake` crate is, if renamed |
///
/// ```no_run
/// #[snake::main(flavor = "current_thread")]
/// async fn main() {
///     // spawn Python actors here
/// }
/// ```
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    main_attr::expand(args.into(), item.into()).into()
}
