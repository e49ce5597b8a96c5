//! The calling side: the hosts found under a name, which one a call goes to, the application
//! deadline on every ask, and what a failure does (the host is marked down; later calls fail at
//! once until a lookup, at most once per retry interval, finds the name again).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use kameo::actor::RemoteActorRef;
use kameo::error::RemoteSendError;
use serde_bytes::ByteBuf;
use tracing::Instrument;

use super::endpoint::{Answer, Endpoint, Kind, Request};
use super::node::{self, Settings};
use crate::error::{ConversionDirection, PythonExecutionError, RemoteCause};

/// Whether calls go to the first host that answers (`lookup`) or are spread over all
/// (`lookup_all`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Spread {
    Failover,
    RoundRobin,
}

struct Host {
    actor: RemoteActorRef<Endpoint>,
    peer: String,
    down: bool,
}

struct Hosts {
    list: Vec<Host>,
    cursor: usize,
    last_lookup: Instant,
}

/// The hosts behind a looked-up name; clones share them.
#[derive(Clone)]
#[doc(hidden)]
pub struct Remote {
    name: Arc<str>,
    spread: Spread,
    hosts: Arc<Mutex<Hosts>>,
    /// Held by the one call that looks the name up again; others fail fast meanwhile.
    looking: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hosts = self.hosts.lock().map(|hosts| hosts.list.len()).unwrap_or(0);
        f.debug_struct("Remote").field("name", &self.name).field("spread", &self.spread).field("hosts", &hosts).finish()
    }
}

fn settings(name: &str) -> Result<&'static node::Shared, PythonExecutionError> {
    node::shared().ok_or_else(|| unavailable(name, None, RemoteCause::NoNode))
}

fn unavailable(name: &str, peer: Option<String>, cause: RemoteCause) -> PythonExecutionError {
    PythonExecutionError::RemoteUnavailable { name: name.to_owned(), peer, cause }
}

/// Every host registered under `name` that a lookup finds within the request timeout.
async fn find(name: &str, settings: &Settings) -> Vec<Host> {
    let mut found = Vec::new();
    let mut lookup = RemoteActorRef::<Endpoint>::lookup_all(name.to_owned());
    let deadline = tokio::time::Instant::now() + settings.request_timeout;
    while let Ok(Some(next)) = tokio::time::timeout_at(deadline, lookup.next()).await {
        match next {
            Ok(actor) => {
                let peer = actor.id().peer_id().map(ToString::to_string).unwrap_or_default();
                if !found.iter().any(|host: &Host| host.actor.id() == actor.id()) {
                    found.push(Host { actor, peer, down: false });
                }
            }
            Err(err) => tracing::debug!(name, error = %err, "a remote lookup step failed"),
        }
    }
    found
}

impl Remote {
    /// Looks `name` up; fails with `RemoteUnavailable { cause: NotFound }` when no host answers.
    pub(crate) async fn lookup(name: &str, spread: Spread) -> Result<Self, PythonExecutionError> {
        let shared = settings(name)?;
        let list = find(name, &shared.settings).await;
        if list.is_empty() {
            return Err(unavailable(name, None, RemoteCause::NotFound));
        }
        Ok(Self {
            name: Arc::from(name),
            spread,
            hosts: Arc::new(Mutex::new(Hosts { list, cursor: 0, last_lookup: Instant::now() })),
            looking: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// The name this handle was looked up under.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// How many hosts answer now (not marked down).
    pub(crate) fn live_hosts(&self) -> usize {
        self.hosts.lock().map(|hosts| hosts.list.iter().filter(|host| !host.down).count()).unwrap_or(0)
    }

    /// A host not marked down, by the handle's spread; `None` when all are down.
    fn pick(&self) -> Option<(RemoteActorRef<Endpoint>, String)> {
        let mut hosts = self.hosts.lock().ok()?;
        let count = hosts.list.len();
        let start = match self.spread {
            Spread::Failover => 0,
            Spread::RoundRobin => {
                hosts.cursor = hosts.cursor.wrapping_add(1);
                hosts.cursor
            }
        };
        (0..count).map(|i| (start + i) % count).find(|&i| !hosts.list[i].down).map(|i| {
            let host = &hosts.list[i];
            (host.actor.clone(), host.peer.clone())
        })
    }

    fn mark_down(&self, actor: &RemoteActorRef<Endpoint>) {
        if let Ok(mut hosts) = self.hosts.lock() {
            for host in hosts.list.iter_mut().filter(|host| host.actor.id() == actor.id()) {
                host.down = true;
            }
        }
    }

    /// A live host, looking the name up again (re-dialing first) when all are down and the
    /// retry interval has passed since the last lookup; otherwise fails at once.
    async fn host(&self, shared: &node::Shared) -> Result<(RemoteActorRef<Endpoint>, String), PythonExecutionError> {
        if let Some(host) = self.pick() {
            return Ok(host);
        }
        let due = self.hosts.lock().map(|hosts| hosts.last_lookup.elapsed() >= shared.settings.retry_interval);
        let down = || unavailable(&self.name, None, RemoteCause::Down);
        if !due.unwrap_or(false) {
            return Err(down());
        }
        let Ok(_looking) = self.looking.try_lock() else {
            return Err(down());
        };
        let started = tokio::time::Instant::now();
        shared.redial(shared.settings.request_timeout / 2).await;
        let remaining = shared.settings.request_timeout.saturating_sub(started.elapsed());
        let settings = Settings { request_timeout: remaining.max(Duration::from_millis(1)), ..shared.settings };
        let list = find(&self.name, &settings).await;
        if let Ok(mut hosts) = self.hosts.lock() {
            hosts.last_lookup = Instant::now();
            if !list.is_empty() {
                hosts.list = list;
            }
        }
        self.pick().ok_or_else(down)
    }

    /// Sends `kind` to a host and waits, at most the request timeout, for its answer.
    pub(crate) async fn ask(&self, kind: Kind, caller: &tracing::Span) -> Result<Answer, PythonExecutionError> {
        let shared = settings(&self.name)?;
        let timeout = shared.settings.request_timeout;
        let (actor, peer) = self.host(shared).await?;
        self.ask_host(&actor, peer, kind, caller, timeout).await
    }

    async fn ask_host(
        &self,
        actor: &RemoteActorRef<Endpoint>,
        peer: String,
        kind: Kind,
        caller: &tracing::Span,
        timeout: Duration,
    ) -> Result<Answer, PythonExecutionError> {
        let span = tracing::info_span!(parent: caller, "snake.remote.call", name = %self.name, peer = %peer);
        #[cfg(feature = "otel")]
        let trace = crate::parent::context_of(&span);
        #[cfg(not(feature = "otel"))]
        let trace = None;
        let request = Request { kind, trace };
        let asked = tokio::time::timeout(timeout, actor.ask(&request).into_future()).instrument(span).await;
        let cause = match asked {
            Ok(Ok(answer)) => return Ok(answer),
            Ok(Err(RemoteSendError::HandlerError(err))) => return Err(err),
            Ok(Err(
                RemoteSendError::DialFailure
                | RemoteSendError::ConnectionClosed
                | RemoteSendError::NetworkTimeout
                | RemoteSendError::ActorNotRunning
                | RemoteSendError::ActorStopped
                | RemoteSendError::Io(_),
            )) => RemoteCause::ConnectionLost,
            Ok(Err(err)) => RemoteCause::Transport { message: err.to_string() },
            Err(_) => RemoteCause::Timeout { timeout },
        };
        self.mark_down(actor);
        Err(unavailable(&self.name, Some(peer), cause))
    }

    /// Refuses a request body over the transport limit before it is sent.
    pub(crate) fn check_request(&self, size: usize) -> Result<(), PythonExecutionError> {
        let limit = settings(&self.name)?.settings.max_request_size;
        let size = size as u64;
        if size > limit {
            return Err(PythonExecutionError::RemoteTooLarge { direction: ConversionDirection::Request, size, limit });
        }
        Ok(())
    }

    /// A call of `method` with its encoded request; the encoded reply.
    pub(crate) async fn call(
        &self,
        method: u32,
        key: Option<u64>,
        retry: bool,
        body: Vec<u8>,
        caller: &tracing::Span,
    ) -> Result<Bytes, PythonExecutionError> {
        self.check_request(body.len())?;
        match self.ask(Kind::Call { method, key, retry, body }, caller).await? {
            Answer::Reply(body) => Ok(Bytes::from(body)),
            _ => Err(unexpected()),
        }
    }

    /// Opens a stream of generator `method` on one host; its items are pulled from that host.
    pub(crate) async fn open(
        &self,
        method: u32,
        key: Option<u64>,
        body: Vec<u8>,
        caller: &tracing::Span,
    ) -> Result<RemoteStream, PythonExecutionError> {
        self.check_request(body.len())?;
        let shared = settings(&self.name)?;
        let settings = shared.settings;
        let (actor, peer) = self.host(shared).await?;
        let answer = self
            .ask_host(&actor, peer.clone(), Kind::Open { method, key, body }, caller, settings.request_timeout)
            .await?;
        let Answer::Opened { stream } = answer else {
            return Err(unexpected());
        };
        Ok(RemoteStream {
            remote: self.clone(),
            actor,
            peer,
            stream,
            batch: settings.stream_batch,
            timeout: settings.request_timeout,
            buffered: std::collections::VecDeque::new(),
            pending: None,
            finished: false,
            span: caller.clone(),
        })
    }
}

fn unexpected() -> PythonExecutionError {
    crate::error::ProtocolError::Encode { message: "the remote node answered with the wrong kind of answer".into() }
        .into()
}

type Pull = Pin<Box<dyn Future<Output = Result<Answer, PythonExecutionError>> + Send>>;

/// A stream served by another node: items are pulled in batches (the credit: at most
/// `stream_batch` items in flight), one pull at a time; dropping it tells the host to release
/// the generator.
pub(crate) struct RemoteStream {
    remote: Remote,
    actor: RemoteActorRef<Endpoint>,
    peer: String,
    stream: u64,
    batch: u32,
    timeout: Duration,
    buffered: std::collections::VecDeque<Result<Bytes, PythonExecutionError>>,
    pending: Option<Pull>,
    finished: bool,
    span: tracing::Span,
}

impl std::fmt::Debug for RemoteStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteStream")
            .field("name", &self.remote.name)
            .field("peer", &self.peer)
            .field("stream", &self.stream)
            .finish()
    }
}

impl futures_core::Stream for RemoteStream {
    type Item = Result<Bytes, PythonExecutionError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(item) = this.buffered.pop_front() {
                return Poll::Ready(Some(item));
            }
            if this.finished {
                return Poll::Ready(None);
            }
            if this.pending.is_none() {
                let (remote, actor, peer) = (this.remote.clone(), this.actor.clone(), this.peer.clone());
                let (kind, span, timeout) =
                    (Kind::Pull { stream: this.stream, max: this.batch }, this.span.clone(), this.timeout);
                this.pending = Some(Box::pin(async move { remote.ask_host(&actor, peer, kind, &span, timeout).await }));
            }
            let Some(pending) = this.pending.as_mut() else { continue };
            let answer = std::task::ready!(pending.as_mut().poll(cx));
            this.pending = None;
            match answer {
                Ok(Answer::Items { items, error, end }) => {
                    this.buffered.extend(items.into_iter().map(|item: ByteBuf| Ok(Bytes::from(item.into_vec()))));
                    if let Some(err) = error {
                        this.buffered.push_back(Err(err));
                    }
                    this.finished = end;
                }
                Ok(_) => {
                    this.buffered.push_back(Err(unexpected()));
                    this.finished = true;
                }
                Err(err) => {
                    this.buffered.push_back(Err(err));
                    this.finished = true;
                }
            }
        }
    }
}

impl Drop for RemoteStream {
    fn drop(&mut self) {
        // Also after the end: the host keeps a finished stream until it is closed or idle.
        let (actor, stream, timeout) = (self.actor.clone(), self.stream, self.timeout);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let request = Request { kind: Kind::Close { stream }, trace: None };
                let _ = tokio::time::timeout(timeout, actor.ask(&request).into_future()).await;
            });
        }
    }
}
