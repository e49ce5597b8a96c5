//! numpy array benchmark (feature `numpy`): p50 of `snake::Array<f32, Ix2>` calls of 1 MiB and
//! 100 MiB, summed to a scalar in Python and echoed back, beside the `SharedBytes` echo of the
//! same size (the bytes floor of the same path).
//!
//! `cargo bench -p snake-runtime --features numpy --bench arrays`; `SNAKE_BENCH_QUICK=1` (or no
//! `--bench`) cuts the counts by 10x. A report, not a test.

use std::error::Error;
use std::time::{Duration, Instant};

use snake::ndarray::Ix2;
use snake::{Array, PythonChildProcessBuilder, PythonConfig, SharedBytes};

type BoxError = Box<dyn Error>;

/// The array handlers.
#[snake::actor(module = "array_bench")]
pub trait ArrayBench {
    /// `matrix.sum()`.
    fn total(matrix: Array<f32, Ix2>) -> f64;
    /// The array it got.
    fn echo(matrix: Array<f32, Ix2>) -> Array<f32, Ix2>;
}

/// The bytes floor: a `SharedBytes` echoed.
#[snake::actor(module = "array_bench")]
pub trait BytesBench {
    /// The bytes it got.
    fn echo_bytes(data: SharedBytes) -> SharedBytes;
}

fn quick() -> bool {
    std::env::var("SNAKE_BENCH_QUICK").is_ok_and(|v| v == "1") || !std::env::args().any(|a| a == "--bench")
}

fn builder() -> PythonChildProcessBuilder {
    PythonChildProcessBuilder::new(PythonConfig {
        module_path: concat!(env!("CARGO_MANIFEST_DIR"), "/benches/python").to_owned(),
        ..PythonConfig::default()
    })
    .max_frame_size(256 << 20)
}

/// The median of `calls` timings of `call`, after two warm-up calls.
async fn p50<F: Future<Output = Result<(), BoxError>>>(
    calls: usize,
    mut call: impl FnMut() -> F,
) -> Result<Duration, BoxError> {
    call().await?;
    call().await?;
    let mut times = Vec::with_capacity(calls);
    for _ in 0..calls {
        let started = Instant::now();
        call().await?;
        times.push(started.elapsed());
    }
    times.sort_unstable();
    Ok(times[times.len() / 2])
}

#[snake::main]
async fn main() -> Result<(), BoxError> {
    let arrays = ArrayBench::spawn(builder()).await?;
    let bytes = BytesBench::spawn(builder()).await?;
    println!("\n### numpy arrays (float32, p50{})\n", if quick() { ", quick run" } else { "" });
    println!("| size | sum in Python | echo | `SharedBytes` echo, same size |");
    println!("|---|---|---|---|");
    for (label, side, calls) in [("1 MiB", 512usize, 200usize), ("100 MiB", 5120, 20)] {
        let calls = if quick() { (calls / 10).max(3) } else { calls };
        let matrix: Array<f32, Ix2> = snake::ndarray::Array2::from_elem((side, side), 0.5f32).into();
        let expected = (side * side) as f64 * 0.5;
        let sum = p50(calls, || {
            let (arrays, matrix) = (&arrays, matrix.clone());
            async move {
                let total = arrays.total(matrix).await?;
                if total == expected { Ok(()) } else { Err(format!("sum {total}, expected {expected}").into()) }
            }
        })
        .await?;
        let echo = p50(calls, || {
            let (arrays, matrix) = (&arrays, matrix.clone());
            async move {
                let back = arrays.echo(matrix).await?;
                if back.len() == side * side { Ok(()) } else { Err("echo lost elements".into()) }
            }
        })
        .await?;
        let data = SharedBytes::from(vec![7u8; side * side * 4]);
        let floor = p50(calls, || {
            let (bytes, data) = (&bytes, data.clone());
            async move {
                let len = data.len();
                let back = bytes.echo_bytes(data).await?;
                if back.len() == len { Ok(()) } else { Err("echo lost bytes".into()) }
            }
        })
        .await?;
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!("| {label} | {:.2} ms | {:.2} ms | {:.2} ms |", ms(sum), ms(echo), ms(floor));
    }
    Ok(())
}
