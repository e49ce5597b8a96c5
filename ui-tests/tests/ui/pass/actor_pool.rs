//! A pool behind a typed handle: `pool`, `with_key`, `reload`, `metrics` and `#[snake(retry)]`.

#[snake::actor(module = "inference")]
pub trait Inference {
    /// Safe to run twice.
    #[snake(retry)]
    fn predict(text: String) -> String;
    fn items(count: u32) -> snake::Stream<String>;
}

#[allow(dead_code)]
async fn use_it() -> Result<(), snake::PythonExecutionError> {
    let builder = snake::PythonChildProcessBuilder::new(snake::PythonConfig::default()).workers(2);
    let pool: Inference = Inference::pool(builder).await?;
    let keyed: Inference = pool.with_key("session-1");
    let _: String = keyed.predict("hi".to_owned()).await?;
    let _: snake::ReplyStream<String> = keyed.items(3).await?;
    pool.reload().await?;
    pool.reload_with(snake::PythonConfig::default()).await?;
    let metrics: snake::MetricsSnapshot = pool.metrics().await?;
    let _: Vec<snake::WorkerStatus> = metrics.workers;
    Ok(())
}

fn main() {}
