//! Across machines (feature `remote`): Python workers served to other nodes on kameo's remote
//! actors.
//!
//! A process starts its node with [`NodeBuilder`] (a libp2p swarm: TCP, noise, yamux; it listens
//! only where asked and dials the peers it is given). A hosting node serves a handle under a name
//! (`handle.register("name")` on a `#[snake::actor]` handle, [`serve`] for a low-level actor); a
//! calling node looks the name up (`Handle::lookup("name")`, [`RemotePythonActor::lookup`]) and
//! calls it as it would a local one. Requests and replies cross as the postcard bodies snake
//! encodes anyway, in one concrete kameo remote message, with the caller's W3C trace context.
//!
//! Every remote call has an application deadline (the node's `request_timeout`); when a host
//! dies or the network drops, calls in flight fail with
//! [`PythonExecutionError::RemoteUnavailable`],
//! and later ones fail at once until a lookup (re-dialing the configured peers, at most once per
//! `retry_interval`) finds the name again.
//!
//! Enabling the feature turns on kameo's `remote` feature, which makes kameo's own
//! `ActorRef::register`/`lookup` swarm-backed for the whole build (features unify).

mod client;
mod endpoint;
mod node;

use std::marker::PhantomData;

use futures_util::StreamExt;

pub use self::endpoint::serve;
pub use self::node::{Node, NodeBuilder, NodeError};
pub use libp2p::{Multiaddr, PeerId};

pub(crate) use self::client::{Remote, Spread};

use crate::error::PythonExecutionError;
use crate::message::ChildMessage;
use crate::parent::{Encoding, ReplyStream, decode};

/// A low-level [`PythonActor`](crate::PythonActor) served by another node, found by name.
///
/// ```no_run
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Serialize, Deserialize)] struct Add { a: i64, b: i64 }
/// # impl snake::ChildMessage for Add { type Reply = i64; }
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// snake::remote::NodeBuilder::new().dial("/ip4/127.0.0.1/tcp/7000")?.start().await?;
/// let adder = snake::remote::RemotePythonActor::<Add>::lookup("adder").await?;
/// assert_eq!(adder.call(Add { a: 2, b: 3 }).await?, 5);
/// # Ok(()) }
/// ```
pub struct RemotePythonActor<M> {
    remote: Remote,
    _message: PhantomData<fn() -> M>,
}

impl<M> Clone for RemotePythonActor<M> {
    fn clone(&self) -> Self {
        Self { remote: self.remote.clone(), _message: PhantomData }
    }
}

impl<M> std::fmt::Debug for RemotePythonActor<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemotePythonActor").field("remote", &self.remote).finish()
    }
}

impl<M: ChildMessage> RemotePythonActor<M> {
    /// Finds a node serving `name`; calls go to the first host that answers (failing over to the
    /// next when several serve the name).
    pub async fn lookup(name: &str) -> Result<Self, PythonExecutionError> {
        Ok(Self { remote: Remote::lookup(name, Spread::Failover).await?, _message: PhantomData })
    }

    /// Finds every node serving `name`; calls are spread over them, skipping those that stopped
    /// answering.
    pub async fn lookup_all(name: &str) -> Result<Self, PythonExecutionError> {
        Ok(Self { remote: Remote::lookup(name, Spread::RoundRobin).await?, _message: PhantomData })
    }

    /// The name it was looked up under.
    pub fn name(&self) -> &str {
        self.remote.name()
    }

    /// How many of the hosts found answer now.
    pub fn live_hosts(&self) -> usize {
        self.remote.live_hosts()
    }

    /// Sends `msg` to the Python function on the hosting node and waits for its reply.
    pub async fn call(&self, msg: M) -> Result<M::Reply, PythonExecutionError> {
        let body = encode(msg, Encoding::POSTCARD)?;
        let reply = self.remote.call(0, None, false, body, &tracing::Span::current()).await?;
        decode::<M::Reply, false>(&reply)
    }

    /// Calls a generator function on the hosting node and streams its items.
    pub async fn stream(&self, msg: M) -> Result<ReplyStream<M::Reply>, PythonExecutionError> {
        let body = encode(msg, Encoding::POSTCARD)?;
        let stream = self.remote.open(0, None, body, &tracing::Span::current()).await?;
        Ok(ReplyStream::remote(stream.boxed(), decode::<M::Reply, false>))
    }
}

/// A request as the child reads it: postcard of its `wire::Body`.
pub(crate) fn encode<T: serde::Serialize>(request: T, encoding: Encoding) -> Result<Vec<u8>, PythonExecutionError> {
    let body = snake_ipc::wire::Body::new(request, encoding.request)?;
    postcard::to_stdvec(&body).map_err(|err| crate::error::ProtocolError::Encode { message: err.to_string() }.into())
}
