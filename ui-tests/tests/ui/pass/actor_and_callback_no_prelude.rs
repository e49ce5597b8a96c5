//! The expansions of `#[snake::actor]` and `#[snake::callback]` do not rely on the prelude.

#![no_implicit_prelude]

extern crate serde;
extern crate snake;
extern crate std;

#[derive(::serde::Serialize, ::serde::Deserialize, ::snake::PyMessage)]
struct Request {
    text: ::std::string::String,
}

#[::snake::actor(module = "no_prelude")]
trait NoPrelude {
    /// Docs.
    fn call(request: Request) -> ::std::vec::Vec<u8>;
    async fn call_async(request: Request) -> ::std::option::Option<i32>;
    fn generate(request: u32) -> ::snake::Stream<u32>;
    async fn generate_async(request: u32) -> ::snake::Stream<Request>;
}

#[::snake::callback]
async fn plain(n: i64) -> i64 {
    n
}

#[::snake::callback]
async fn fallible(n: i64) -> ::core::result::Result<i64, ::snake::CallbackError> {
    ::core::result::Result::Ok(n)
}

#[derive(::core::default::Default)]
struct State;

#[::snake::callback]
impl State {
    async fn stateful(&self, n: u8) -> ::std::string::String {
        let _ = n;
        ::std::string::String::new()
    }
}

#[allow(dead_code)]
async fn use_it(
    builder: ::snake::PythonChildProcessBuilder,
) -> ::core::result::Result<(), ::snake::PythonExecutionError> {
    let actor = NoPrelude::spawn(builder).await?;
    let _ = actor.call(Request { text: ::std::string::String::new() }).await?;
    let _ = actor.call_async(Request { text: ::std::string::String::new() }).await?;
    let _ = actor.generate(1).await?;
    let _ = actor.generate_async(1).await?;
    ::core::result::Result::Ok(())
}

fn main() {
    let declarations = ::snake::schema::Declarations::collect();
    ::std::assert_eq!(declarations.actors.len(), 1);
    ::std::assert_eq!(declarations.callbacks.len(), 3);
    let _ = (State, plain, fallible);
}
