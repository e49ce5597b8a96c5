//! Every mistake is reported in one run, and the stand-in handle keeps code that uses it quiet.

#[snake::actor(module = "bad module")]
trait Inference {
    fn predict(&self, text: String) -> String;
    fn tokenize(text: &str) -> Vec<String>;
    fn missing(text: String);
    #[snake(python = "predict")]
    fn again(text: String) -> String;
}

async fn use_it(inference: Inference) -> Result<(), snake::PythonExecutionError> {
    let _: String = inference.again(String::new()).await?;
    let _: Vec<String> = inference.tokenize("a").await?;
    Ok(())
}

fn main() {
    let _ = use_it;
}
