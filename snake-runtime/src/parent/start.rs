//! Starting an actor's first children and the actor over them (`PythonChildProcessBuilder`'s
//! spawn, once the builder has made its [`Launch`]).

use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use kameo::actor::{ActorRef, Spawn};

use super::actor::PythonActor;
use super::pool::{Direct, Event, Pool, PoolEvent, PoolOptions, Target};
use super::process::Launch;
use crate::error::PythonExecutionError;
use crate::metrics::ActorMetrics;

/// Starts `size` children (at once, each on its own task) and the actor over them, once
/// `min_ready` are warm; the others join as they come. Fails with the first start's error when
/// too few can start, stopping those that did.
pub(super) async fn start_pool<M: Send + 'static, C: Send + 'static>(
    launch: Launch,
    options: PoolOptions,
    metrics: Arc<ActorMetrics>,
    size: usize,
    stream_window: u32,
) -> Result<(ActorRef<PythonActor<M, C>>, Arc<Direct>), PythonExecutionError> {
    let min_ready = options.min_ready.unwrap_or(size);
    let mut starts: FuturesUnordered<_> = (0..size)
        .map(|slot| {
            let launch = launch.clone();
            async move { (slot, launch.start().await) }
        })
        .collect();
    let mut done = Vec::with_capacity(size);
    let mut ready = 0;
    while ready < min_ready && ready + starts.len() >= min_ready {
        let Some((slot, result)) = starts.next().await else { break };
        ready += usize::from(result.is_ok());
        done.push((slot, result));
    }
    let refused = if ready < min_ready {
        let first = done.iter().find_map(|(_, result)| result.as_ref().err().cloned());
        Some(first.unwrap_or(PythonExecutionError::ActorStopped))
    } else {
        let pid = done.iter().find_map(|(_, result)| result.as_ref().ok()).map(|child| child.info.pid);
        pid.and_then(super::pool::resident_bytes).and_then(|rss| options.check_rss(rss).err())
    };
    if let Some(err) = refused {
        drop(starts);
        let stops = done.into_iter().filter_map(|(_, result)| result.ok()).map(|child| async move {
            child.connection.terminate().await;
        });
        futures_util::future::join_all(stops).await;
        return Err(err);
    }
    let retry = options.retry;
    let pool = Pool::new(launch, options, Arc::clone(&metrics), size, done);
    let direct = Arc::clone(pool.direct());
    let actor = PythonActor::spawn(PythonActor::new(pool, metrics, stream_window, retry));
    if !starts.is_empty() {
        let weak = actor.downgrade();
        tokio::spawn(async move {
            while let Some((slot, result)) = starts.next().await {
                match weak.upgrade() {
                    Some(actor) => {
                        let _ =
                            actor.tell(PoolEvent(Event::Started { target: Target::Slot(slot), result })).send().await;
                    }
                    None => {
                        if let Ok(child) = result {
                            child.connection.terminate().await;
                        }
                    }
                }
            }
        });
    }
    // The actor places the warm workers in its `on_start`: once that ran, they are published
    // for the direct path, and a handle's first calls (and `shared_bytes`) can take it.
    actor.wait_for_startup().await;
    Ok((actor, direct))
}
