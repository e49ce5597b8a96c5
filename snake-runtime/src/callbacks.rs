//! The callbacks a binary declares with `#[snake::callback]`: each registered function, the state
//! provided to them, and how one runs on an encoded argument. The parent's dispatcher
//! ([`crate::parent`]) finds them here by index; the child finds their codecs through the
//! [`registry`](crate::registry).

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use snake_ipc::wire;

use crate::codec::CallbackCodec;
use crate::error::PythonExecutionError;
use crate::message::CallbackError;
use crate::protocol::FrameKind;
use crate::schema::Describe;
use crate::shared_bytes::with_source;

/// The encoded reply of a callback, or why there is none.
pub type CallbackFuture = snake_ipc::CallbackFuture<PythonExecutionError>;

/// State provided to a child's `#[snake::callback]` methods, one value per type.
#[derive(Clone, Default)]
pub(crate) struct States(std::collections::HashMap<std::any::TypeId, Arc<dyn std::any::Any + Send + Sync>>);

impl std::fmt::Debug for States {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("States").field("count", &self.0.len()).finish()
    }
}

impl States {
    pub(crate) fn insert<T: Send + Sync + 'static>(&mut self, state: Arc<T>) {
        self.0.insert(std::any::TypeId::of::<T>(), state);
    }

    /// The provided value of type `T`.
    pub(crate) fn get<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.0.get(&std::any::TypeId::of::<T>()).cloned().and_then(|state| state.downcast::<T>().ok())
    }
}

/// One `#[snake::callback]` function, as the macro registers it.
#[derive(Clone, Copy, Debug)]
pub struct CallbackFn {
    /// Its Python name (in `snake_callbacks`).
    pub name: &'static str,
    /// Converts its argument and reply in the child.
    pub codec: CallbackCodec,
    /// Runs it in the parent: decodes the argument, finds its state, calls it, encodes the reply.
    pub call: fn(&CallbackStates, Bytes) -> CallbackFuture,
}

inventory::collect!(CallbackFn);

/// What a registered callback sees of the state provided to its child.
#[derive(Clone, Debug)]
pub struct CallbackStates(pub(crate) States);

impl CallbackStates {
    /// The provided value of type `T`, or the error Python sees when there is none.
    pub fn get<T: Send + Sync + 'static>(&self, callback: &str) -> Result<Arc<T>, PythonExecutionError> {
        self.0.get::<T>().ok_or_else(|| PythonExecutionError::CallbackFailed {
            callback: callback.to_owned(),
            message: format!(
                "no `{}` was provided to this actor: call `.provide(value)` on its builder",
                std::any::type_name::<T>()
            ),
        })
    }
}

/// Every registered callback, sorted by name: the index of one is the same in parent and child.
pub(crate) fn registered() -> &'static [&'static CallbackFn] {
    static SORTED: std::sync::OnceLock<Vec<&'static CallbackFn>> = std::sync::OnceLock::new();
    SORTED.get_or_init(|| {
        let mut all: Vec<&'static CallbackFn> = inventory::iter::<CallbackFn>.into_iter().collect();
        all.sort_by_key(|callback| callback.name);
        all
    })
}

/// A Python name two registered callbacks share: callbacks are called by index in name order,
/// so such a binary cannot serve them.
pub(crate) fn duplicate_name() -> Option<&'static str> {
    first_duplicate(registered().iter().map(|callback| callback.name))
}

/// The first name that repeats in a sorted sequence of names.
fn first_duplicate<'a>(sorted: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut previous = None;
    for name in sorted {
        if previous == Some(name) {
            return Some(name);
        }
        previous = Some(name);
    }
    None
}

/// Runs a `#[snake::callback]` function on a decoded argument and encodes its reply: the body of
/// every generated [`CallbackFn::call`]. Each body is self-describing when its type's
/// [`Describe::SELF_DESCRIBING`] says so, as the child's [`CallbackCodec::of`] expects.
pub fn run_callback<A, R, Fut>(name: &'static str, arg: &Bytes, f: impl FnOnce(A) -> Fut) -> CallbackFuture
where
    A: serde::de::DeserializeOwned + Describe,
    R: serde::Serialize + Describe + Send + 'static,
    Fut: Future<Output = Result<R, CallbackError>> + Send + 'static,
{
    // A `SharedBytes` in the argument stays a slice of the frame (in shared memory when large).
    let decoded: Result<A, PythonExecutionError> =
        with_source(arg, || wire::decode(arg, A::SELF_DESCRIBING, FrameKind::Callback)).map_err(Into::into);
    let future = decoded.map(f);
    Box::pin(async move {
        let reply = future?.await.map_err(|err| PythonExecutionError::CallbackFailed {
            callback: name.to_owned(),
            message: err.message().to_owned(),
        })?;
        Ok(snake_ipc::ReplyBody::value(reply, R::SELF_DESCRIBING))
    })
}

#[cfg(test)]
mod tests {
    use super::first_duplicate;

    #[test]
    fn repeated_names_are_found() {
        assert_eq!(first_duplicate(["a", "b", "c"]), None);
        assert_eq!(first_duplicate(["a", "b", "b", "c", "c"]), Some("b"));
        assert_eq!(first_duplicate([]), None);
    }
}
