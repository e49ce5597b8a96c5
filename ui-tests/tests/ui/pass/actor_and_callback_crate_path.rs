//! `crate = ...` when the runtime is known under another name.

extern crate snake as renamed_snake;

#[renamed_snake::actor(crate = ::renamed_snake, module = "renamed")]
trait Renamed {
    fn call(request: String) -> String;
    fn generate(request: u8) -> renamed_snake::Stream<u8>;
}

#[renamed_snake::callback(crate = "renamed_snake")]
async fn renamed_callback(n: i64) -> i64 {
    n
}

struct State;

#[renamed_snake::callback(crate = renamed_snake)]
impl State {
    async fn renamed_state(&self, n: u8) -> u8 {
        n
    }
}

#[allow(dead_code)]
async fn use_it(builder: renamed_snake::PythonChildProcessBuilder) -> Result<(), renamed_snake::PythonExecutionError> {
    let actor = Renamed::spawn(builder).await?;
    let _: String = actor.call(String::new()).await?;
    let _: renamed_snake::ReplyStream<u8> = actor.generate(1).await?;
    Ok(())
}

fn main() {
    let declarations = renamed_snake::schema::Declarations::collect();
    assert_eq!(declarations.actors[0].module, "renamed");
    assert_eq!(declarations.callbacks.len(), 2);
    let _ = State;
}
