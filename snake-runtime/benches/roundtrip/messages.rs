//! The messages the benchmark sends, registered so that its children (copies of this binary)
//! serve them.

use serde::{Deserialize, Serialize};

/// The request every handler echoes.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Ping {
    pub(crate) seq: u64,
    pub(crate) payload: String,
}

impl snake::ChildMessage for Ping {
    type Reply = Pong;
}

/// The echoed request, converted back from the Python dict.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Pong {
    pub(crate) seq: u64,
    pub(crate) payload: String,
}

snake::register_actor!(Ping);

/// Asks a handler to time `iters` callbacks into Rust itself.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct TimeCallbacks {
    pub(crate) iters: u32,
    pub(crate) payload: String,
}

impl snake::ChildMessage for TimeCallbacks {
    /// Each callback's round trip, in nanoseconds, as Python's `perf_counter_ns` measured it.
    type Reply = Vec<u64>;
}

/// What a timed callback sends, and gets back unchanged.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Echoed {
    pub(crate) seq: u64,
    pub(crate) payload: String,
}

impl snake::ChildCallbackMessage for Echoed {
    type Reply = Echoed;
}

snake::register_actor!(TimeCallbacks, Echoed);

/// Answers every callback with its own message.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EchoCallbacks;

impl snake::CallbackHandler<Echoed> for EchoCallbacks {
    async fn handle(&mut self, msg: Echoed) -> Result<Echoed, snake::CallbackError> {
        Ok(msg)
    }
}

/// Asks a generator for `n` small items.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct CountTo {
    pub(crate) n: u64,
}

impl snake::ChildMessage for CountTo {
    type Reply = u64;
}

snake::register_actor!(CountTo);

/// A payload Python reads in place and returns (`echo_sync` sends the dict back as it came).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Blob {
    pub(crate) seq: u64,
    pub(crate) data: snake::SharedBytes,
}

impl snake::ChildMessage for Blob {
    type Reply = Blob;
}

snake::register_actor!(Blob);

/// A float32 matrix for Python to sum (`array_sum`): to Python, `arr.sum()`, back as a scalar.
#[cfg(feature = "numpy")]
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ArraySum {
    pub(crate) matrix: snake::Array<f32, snake::ndarray::Ix2>,
}

#[cfg(feature = "numpy")]
impl snake::ChildMessage for ArraySum {
    type Reply = f64;
}

#[cfg(feature = "numpy")]
snake::register_actor!(ArraySum);

/// A float32 matrix Python returns as it came (`echo_sync`).
#[cfg(feature = "numpy")]
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ArrayEcho {
    pub(crate) seq: u64,
    pub(crate) matrix: snake::Array<f32, snake::ndarray::Ix2>,
}

#[cfg(feature = "numpy")]
impl snake::ChildMessage for ArrayEcho {
    type Reply = ArrayEcho;
}

#[cfg(feature = "numpy")]
snake::register_actor!(ArrayEcho);
