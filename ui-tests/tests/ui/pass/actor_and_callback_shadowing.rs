//! The expansions of `#[snake::actor]` and `#[snake::callback]` use absolute paths: local items
//! named like std's, the runtime's or the generated ones do not break them.

#![allow(dead_code, non_camel_case_types, unused_macros)]

struct Result;
struct Ok;
struct Err;
struct Option;
struct Some;
struct None;
struct Vec;
struct String;
struct Box;
struct Clone;
struct Debug;
struct Into;
struct From;
struct ToOwned;
struct PhantomData;
struct OnceLock;
struct ActorRef;
struct PythonActor;
struct PyMessage;
struct CallbackError;
struct MethodCall;
struct Registry;
struct Type;
mod core {}
mod alloc {}
mod kameo {}
mod schema {}
macro_rules! vec {
    ($($t:tt)*) => {
        compile_error!("the expansion used a local `vec!`")
    };
}
macro_rules! format {
    ($($t:tt)*) => {
        compile_error!("the expansion used a local `format!`")
    };
}
macro_rules! concat {
    ($($t:tt)*) => {
        compile_error!("the expansion used a local `concat!`")
    };
}
macro_rules! module_path {
    ($($t:tt)*) => {
        compile_error!("the expansion used a local `module_path!`")
    };
}
fn __snake_call() {}
fn __snake_describe() {}
fn __snake_declaration() {}
fn __snake_assert_py_message() {}
fn __snake_name() {}

#[derive(::serde::Serialize, ::serde::Deserialize, ::snake::PyMessage)]
struct Request {
    text: std::string::String,
}

#[snake::actor]
trait Shadowed {
    fn call(request: Request) -> std::vec::Vec<u8>;
    async fn call_async(request: Request) -> std::option::Option<u8>;
    fn generate(request: u8) -> snake::Stream<u8>;
    async fn generate_async(request: u8) -> snake::Stream<u8>;
}

#[snake::callback]
async fn shadowed(n: i64) -> std::result::Result<i64, snake::CallbackError> {
    std::result::Result::Ok(n)
}

struct State;

#[snake::callback]
impl State {
    async fn shadowed_state(&self, n: u8) -> u8 {
        n
    }
}

async fn use_it(builder: snake::PythonChildProcessBuilder) -> std::result::Result<(), snake::PythonExecutionError> {
    let actor = Shadowed::spawn(builder).await?;
    let _ = actor.call(Request { text: std::string::String::new() }).await?;
    let _ = actor.call_async(Request { text: std::string::String::new() }).await?;
    let _ = actor.generate(1).await?;
    let _ = actor.generate_async(1).await?;
    std::result::Result::Ok(())
}

fn main() {
    let declarations = snake::schema::Declarations::collect();
    std::assert_eq!(declarations.actors.len(), 1);
    std::assert_eq!(declarations.callbacks.len(), 2);
}
