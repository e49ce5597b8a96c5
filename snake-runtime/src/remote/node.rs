//! The node: a libp2p swarm built by hand (TCP with nodelay, noise, yamux; no mDNS, no QUIC),
//! carrying kameo's remote behaviour, driven by one task. One node per process (kameo keeps
//! one global swarm).

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use futures_util::StreamExt;
use kameo::remote;
use libp2p::core::ConnectedPoint;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, noise, tcp, yamux};
use tokio::sync::{mpsc, watch};

/// Commands the node's task takes from handles and lookups.
const COMMANDS: usize = 64;

/// How long `start` waits for the swarm to report its listen addresses.
const LISTEN_WAIT: Duration = Duration::from_secs(5);

/// Why a node could not start, or could not dial.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// A node runs in this process already (kameo keeps one swarm per process).
    #[error("a remote node runs in this process already")]
    AlreadyStarted,
    /// An address is not a libp2p multiaddr (`/ip4/127.0.0.1/tcp/7000`).
    #[error("`{address}` is not a multiaddr: {message}")]
    BadAddress {
        /// The address as given.
        address: String,
        /// Why it does not parse.
        message: String,
    },
    /// An option has a value that cannot work.
    #[error("invalid option `{option}`: {message}")]
    InvalidConfig {
        /// The builder method.
        option: &'static str,
        /// Why the value cannot work.
        message: String,
    },
    /// libp2p refused to build the transport, listen or dial.
    #[error("libp2p: {message}")]
    Transport {
        /// libp2p's error, as text.
        message: String,
    },
    /// The node's task has stopped.
    #[error("the remote node's task has stopped")]
    Stopped,
}

/// What calls read of the node's configuration.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Settings {
    pub(crate) request_timeout: Duration,
    pub(crate) max_request_size: u64,
    pub(crate) max_response_size: u64,
    pub(crate) retry_interval: Duration,
    pub(crate) stream_batch: u32,
    pub(crate) max_streams: usize,
    pub(crate) stream_idle: Duration,
}

/// The node of this process, once started.
pub(crate) struct Shared {
    pub(crate) settings: Settings,
    commands: mpsc::Sender<Command>,
    /// Counts connections established as dialer, so a re-dial can wait for the next one.
    dialed: watch::Receiver<u64>,
}

static NODE: OnceLock<Shared> = OnceLock::new();

/// The running node, if this process started one.
pub(crate) fn shared() -> Option<&'static Shared> {
    NODE.get()
}

impl Shared {
    /// Dials again every configured peer address that has no connection now, and waits (at
    /// most `wait`) for a new connection when one was dialed. Used before a lookup after a failure:
    /// libp2p does not reconnect by itself.
    pub(crate) async fn redial(&self, wait: Duration) {
        let mut dialed = self.dialed.clone();
        dialed.mark_unchanged();
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.commands.send(Command::Redial(tx)).await.is_err() {
            return;
        }
        if let Ok(count) = tokio::time::timeout(wait, rx).await.unwrap_or(Ok(0))
            && count > 0
        {
            let _ = tokio::time::timeout(wait, dialed.changed()).await;
        }
    }
}

enum Command {
    /// Dial the unconnected configured addresses; answers how many were dialed.
    Redial(tokio::sync::oneshot::Sender<usize>),
    Dial(Multiaddr, tokio::sync::oneshot::Sender<Result<(), NodeError>>),
}

/// Builds this process's node: which addresses it listens on (none unless asked: a node that
/// only calls opens no port), which peers it dials, and the transport's limits.
///
/// ```no_run
/// # async fn demo() -> Result<(), snake::remote::NodeError> {
/// let node = snake::remote::NodeBuilder::new()
///     .listen("/ip4/127.0.0.1/tcp/7000")?
///     .dial("/ip4/127.0.0.1/tcp/7001")?
///     .start()
///     .await?;
/// println!("peer {} on {:?}", node.peer_id(), node.listen_addrs());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct NodeBuilder {
    listen: Vec<Multiaddr>,
    dial: Vec<Multiaddr>,
    request_timeout: Duration,
    max_request_size: u64,
    max_response_size: u64,
    max_concurrent_streams: usize,
    idle_timeout: Duration,
    retry_interval: Duration,
    stream_batch: u32,
    max_streams: usize,
    stream_idle: Duration,
}

impl Default for NodeBuilder {
    fn default() -> Self {
        Self {
            listen: Vec::new(),
            dial: Vec::new(),
            request_timeout: Duration::from_secs(10),
            max_request_size: 1024 * 1024,
            max_response_size: 10 * 1024 * 1024,
            max_concurrent_streams: 1024,
            idle_timeout: Duration::from_secs(3600),
            retry_interval: Duration::from_millis(500),
            stream_batch: 64,
            max_streams: 1024,
            stream_idle: Duration::from_secs(60),
        }
    }
}

fn parse(address: &str) -> Result<Multiaddr, NodeError> {
    address.parse().map_err(|err: libp2p::multiaddr::Error| NodeError::BadAddress {
        address: address.to_owned(),
        message: err.to_string(),
    })
}

impl NodeBuilder {
    /// A node with the defaults: no listen address, no peer, the limits in the README's table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Listens on `address` (a multiaddr such as `/ip4/127.0.0.1/tcp/7000`; port 0 picks one).
    /// Bind loopback or a private interface: any peer that reaches the port can call.
    pub fn listen(mut self, address: &str) -> Result<Self, NodeError> {
        self.listen.push(parse(address)?);
        Ok(self)
    }

    /// Dials the node at `address` at start, and again when a lookup follows a failure.
    pub fn dial(mut self, address: &str) -> Result<Self, NodeError> {
        self.dial.push(parse(address)?);
        Ok(self)
    }

    /// The application deadline of each remote call, lookup and stream pull (default 10 s): past
    /// it the call fails with `RemoteUnavailable`. Also kameo's own request timeout.
    #[must_use]
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The largest request body sent (default 1 MiB); larger ones fail with `RemoteTooLarge`
    /// before they are sent. Set the same on every node: the receiver enforces it too.
    #[must_use]
    pub fn max_request_size(mut self, bytes: u64) -> Self {
        self.max_request_size = bytes;
        self
    }

    /// The largest reply body (default 10 MiB): a host refuses a larger reply (or stream
    /// batch) with `RemoteTooLarge`. Set the same on every node.
    #[must_use]
    pub fn max_response_size(mut self, bytes: u64) -> Self {
        self.max_response_size = bytes;
        self
    }

    /// Requests in flight on one connection, both ways (default 1024; kameo's default is 100).
    /// More fail in the transport: keep it at least the number of calls you keep in flight.
    #[must_use]
    pub fn max_concurrent_streams(mut self, streams: usize) -> Self {
        self.max_concurrent_streams = streams;
        self
    }

    /// How long an idle connection stays open (default 1 hour; libp2p's default is 10 s, after
    /// which calls would have to re-dial).
    #[must_use]
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// After a node failed, how often a call may look the name up again (default 500 ms);
    /// between lookups calls fail at once.
    #[must_use]
    pub fn retry_interval(mut self, interval: Duration) -> Self {
        self.retry_interval = interval;
        self
    }

    /// Items a remote stream pulls per request (its credit; default 64).
    #[must_use]
    pub fn stream_batch(mut self, items: u32) -> Self {
        self.stream_batch = items;
        self
    }

    /// Streams this node serves at once to other nodes (default 1024); more are refused.
    #[must_use]
    pub fn max_streams(mut self, streams: usize) -> Self {
        self.max_streams = streams;
        self
    }

    /// A served stream no caller pulled for this long is closed (its generator released;
    /// default 60 s): for callers that vanished without closing it.
    #[must_use]
    pub fn stream_idle_timeout(mut self, timeout: Duration) -> Self {
        self.stream_idle = timeout;
        self
    }

    fn check(&self) -> Result<(), NodeError> {
        let bad = |option, message: &str| Err(NodeError::InvalidConfig { option, message: message.to_owned() });
        if self.request_timeout.is_zero() {
            return bad("request_timeout", "must be more than zero");
        }
        if self.max_request_size < 1024 || self.max_response_size < 1024 {
            return bad("max_request_size", "limits must be at least 1024 bytes");
        }
        if self.max_concurrent_streams == 0 || self.stream_batch == 0 || self.max_streams == 0 {
            return bad("max_concurrent_streams", "counts must be more than zero");
        }
        Ok(())
    }

    /// Builds the swarm, registers it as kameo's, listens and dials, and runs it on a task of
    /// the current tokio runtime. Waits (at most 5 s) for the listen addresses.
    pub async fn start(self) -> Result<Node, NodeError> {
        self.check()?;
        if NODE.get().is_some() {
            return Err(NodeError::AlreadyStarted);
        }
        let transport = |err: &dyn std::fmt::Display| NodeError::Transport { message: err.to_string() };
        let messaging = remote::messaging::Config::default()
            .with_request_timeout(self.request_timeout)
            .with_max_concurrent_streams(self.max_concurrent_streams)
            // The envelope (MessagePack, ids) adds a little to the body the caller checks.
            .with_request_size_maximum(self.max_request_size + ENVELOPE)
            .with_response_size_maximum(self.max_response_size + ENVELOPE);
        let idle = self.idle_timeout;
        let mut swarm = libp2p::SwarmBuilder::with_new_identity()
            .with_tokio()
            .with_tcp(tcp::Config::default().nodelay(true), noise::Config::new, yamux::Config::default)
            .map_err(|err| transport(&err))?
            .with_behaviour(|key| remote::Behaviour::new(key.public().to_peer_id(), messaging))
            .map_err(|err| transport(&err))?
            .with_swarm_config(|config| config.with_idle_connection_timeout(idle))
            .build();
        swarm.behaviour().try_init_global().map_err(|_| NodeError::AlreadyStarted)?;
        for address in &self.listen {
            swarm.listen_on(address.clone()).map_err(|err| transport(&err))?;
        }
        for address in &self.dial {
            swarm.dial(address.clone()).map_err(|err| transport(&err))?;
        }
        let peer_id = *swarm.local_peer_id();
        let (commands, receiver) = mpsc::channel(COMMANDS);
        let (dialed_tx, dialed) = watch::channel(0);
        let (listening_tx, mut listening) = watch::channel(Vec::new());
        let settings = Settings {
            request_timeout: self.request_timeout,
            max_request_size: self.max_request_size,
            max_response_size: self.max_response_size,
            retry_interval: self.retry_interval,
            stream_batch: self.stream_batch,
            max_streams: self.max_streams,
            stream_idle: self.stream_idle,
        };
        if NODE.set(Shared { settings, commands: commands.clone(), dialed }).is_err() {
            return Err(NodeError::AlreadyStarted);
        }
        let driver =
            Driver { dial: self.dial.clone(), connected: HashMap::new(), dialed: dialed_tx, listening: listening_tx };
        tokio::spawn(driver.run(swarm, receiver));
        let wanted = self.listen.len();
        let listen_addrs = if wanted == 0 {
            Vec::new()
        } else {
            let _ = tokio::time::timeout(LISTEN_WAIT, listening.wait_for(|addrs| addrs.len() >= wanted)).await;
            listening.borrow().clone()
        };
        if listen_addrs.len() < wanted {
            return Err(NodeError::Transport { message: format!("listening on {:?} did not start", self.listen) });
        }
        Ok(Node { peer_id, listen_addrs, commands })
    }
}

/// Bytes kameo's envelope may add around a body: the limits given to the transport are the
/// body limits plus this.
pub(crate) const ENVELOPE: u64 = 4096;

/// This process's node: its identity and addresses. The swarm keeps running when this is dropped.
#[derive(Debug, Clone)]
pub struct Node {
    peer_id: PeerId,
    listen_addrs: Vec<Multiaddr>,
    commands: mpsc::Sender<Command>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Redial(_) => f.write_str("Redial"),
            Self::Dial(address, _) => f.debug_tuple("Dial").field(address).finish(),
        }
    }
}

impl Node {
    /// The node's libp2p identity (a new key pair each start).
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// The addresses the node listens on (ports chosen), empty when it listens on none.
    pub fn listen_addrs(&self) -> &[Multiaddr] {
        &self.listen_addrs
    }

    /// Dials another node, now and again when a lookup follows a failure.
    pub async fn dial(&self, address: &str) -> Result<(), NodeError> {
        let address = parse(address)?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.commands.send(Command::Dial(address, tx)).await.map_err(|_| NodeError::Stopped)?;
        rx.await.map_err(|_| NodeError::Stopped)?
    }
}

/// The swarm's task.
struct Driver {
    dial: Vec<Multiaddr>,
    /// Connections open per dialed address.
    connected: HashMap<Multiaddr, usize>,
    dialed: watch::Sender<u64>,
    listening: watch::Sender<Vec<Multiaddr>>,
}

impl Driver {
    async fn run(mut self, mut swarm: libp2p::Swarm<remote::Behaviour>, mut commands: mpsc::Receiver<Command>) {
        loop {
            tokio::select! {
                event = swarm.select_next_some() => self.event(&mut swarm, event),
                command = commands.recv() => match command {
                    Some(Command::Redial(reply)) => {
                        let mut count = 0;
                        for address in &self.dial {
                            if self.connected.get(address).copied().unwrap_or(0) == 0 && swarm.dial(address.clone()).is_ok() {
                                count += 1;
                            }
                        }
                        let _ = reply.send(count);
                    }
                    Some(Command::Dial(address, reply)) => {
                        let result = swarm.dial(address.clone()).map_err(|err| NodeError::Transport { message: err.to_string() });
                        if result.is_ok() && !self.dial.contains(&address) {
                            self.dial.push(address);
                        }
                        let _ = reply.send(result);
                    }
                    // Every `Shared` and `Node` is gone; `Shared` lives in a static, so never.
                    None => return,
                },
            }
        }
    }

    fn event(&mut self, swarm: &mut libp2p::Swarm<remote::Behaviour>, event: SwarmEvent<remote::Event>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "snake remote node listening");
                self.listening.send_modify(|addrs| addrs.push(address));
            }
            SwarmEvent::ConnectionEstablished { peer_id, endpoint: ConnectedPoint::Dialer { address, .. }, .. } => {
                tracing::debug!(%peer_id, %address, "snake remote node connected");
                // Without it kameo's lookups find nothing on the dialer side.
                swarm.add_peer_address(peer_id, address.clone());
                *self.connected.entry(address).or_default() += 1;
                self.dialed.send_modify(|count| *count += 1);
            }
            SwarmEvent::ConnectionClosed {
                peer_id, endpoint: ConnectedPoint::Dialer { address, .. }, cause, ..
            } => {
                tracing::debug!(%peer_id, %address, ?cause, "snake remote node disconnected");
                if let Some(count) = self.connected.get_mut(&address) {
                    *count = count.saturating_sub(1);
                }
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                tracing::debug!(?peer_id, %error, "snake remote node could not dial");
            }
            _ => {}
        }
    }
}
