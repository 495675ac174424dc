//! The client side of `run --remote`: one control connection to `serve` for
//! the whole run ([`Session::open`], which turns every way the handshake can
//! fail into a [`Failure`] of its kind), and per trial ([`Session::run_group`])
//! the remote consumer, the local producer against its endpoint, and a watch
//! over both under the run's deadlines, as the local supervisor keeps.

use std::io::BufReader;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use super::wire::{self, MAX_LINE, PROTOCOL, ToClient, ToServer, VERSION};
use super::{Failure, Kind, one_clock};
use crate::placement::Role;
use crate::protocol::Line;
use crate::role::{RoleOutput, RoleSpec};
use crate::role_process::{RoleProcess, Start};
use crate::supervisor::Limits;

/// How long connecting, and then the server's answer to the hello, may take.
pub const HANDSHAKE_WAIT: Duration = Duration::from_secs(5);

/// What the session's trials wait on.
enum Event {
    /// A message from the server.
    Remote(ToClient),
    /// The control connection ended; why.
    Gone(String),
    /// Trial number, and a line of its local producer (`None`: end of its
    /// stdout).
    Local(u64, Option<String>),
}

struct Conn {
    writer: TcpStream,
    events: mpsc::Receiver<Event>,
    events_tx: mpsc::Sender<Event>,
    trials: u64,
    /// Set once the server is gone: every later trial fails at once.
    lost: Option<String>,
}

/// An admitted control connection to `ipcbench serve`.
#[derive(Clone)]
pub struct Session {
    /// `HOST:PORT` as given.
    pub server: String,
    /// The server's host name.
    pub host: String,
    /// The server's ipcbench version.
    pub version: String,
    conn: Arc<Mutex<Conn>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("server", &self.server)
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

fn unreachable(server: &str, why: impl std::fmt::Display) -> anyhow::Error {
    anyhow::Error::new(Failure::new(
        Kind::Unreachable,
        format!("cannot reach ipcbench serve at {server}: {why}"),
    ))
}

impl Session {
    /// Connects to `server` (`HOST:PORT`), presents `token`, and checks the
    /// versions, each step within [`HANDSHAKE_WAIT`].
    pub fn open(server: &str, token: &str) -> Result<Self> {
        let addrs: Vec<SocketAddr> = server
            .to_socket_addrs()
            .map_err(|e| unreachable(server, format!("cannot resolve it ({e})")))?
            .collect();
        let mut last = None;
        let mut stream = None;
        for addr in &addrs {
            match TcpStream::connect_timeout(addr, HANDSHAKE_WAIT) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = Some(format!("{addr}: {e}")),
            }
        }
        let stream = stream.ok_or_else(|| {
            unreachable(
                server,
                last.unwrap_or_else(|| "the name has no address".into()),
            )
        })?;
        stream.set_nodelay(true).context("setting TCP_NODELAY")?;
        stream
            .set_read_timeout(Some(HANDSHAKE_WAIT))
            .context("setting SO_RCVTIMEO")?;
        let mut writer = stream.try_clone().context("cloning the control socket")?;
        let mut reader = BufReader::new(stream);
        wire::send(
            &mut writer,
            &ToServer::Hello {
                token: token.to_owned(),
                version: VERSION.to_owned(),
                protocol: PROTOCOL,
                schema: results::schema::SCHEMA_VERSION,
            },
        )
        .map_err(|e| unreachable(server, format!("{e:#}")))?;
        let reply = wire::recv::<ToClient, _>(&mut reader, MAX_LINE);
        let (host, version) = match reply {
            Ok(Some(ToClient::Welcome { version, host })) => (host, version),
            Ok(Some(ToClient::Refused { reason })) => {
                bail!(Failure::new(
                    Kind::Refused,
                    format!(
                        "ipcbench serve at {server} refused the connection: we {reason}; \
                         pass the token it printed with --token"
                    )
                ))
            }
            Ok(Some(ToClient::Mismatch {
                version,
                protocol,
                schema,
            })) => bail!(Failure::new(
                Kind::Mismatch,
                format!(
                    "ipcbench serve at {server} is version {version} (control protocol \
                     {protocol}, results schema {schema}); this is {VERSION} (protocol \
                     {PROTOCOL}, schema {}): run the same version on both hosts",
                    results::schema::SCHEMA_VERSION
                )
            )),
            Ok(Some(other)) => bail!(Failure::new(
                Kind::Mismatch,
                format!("ipcbench serve at {server} answered the hello with {other:?}")
            )),
            Ok(None) => bail!(Failure::new(
                Kind::Refused,
                format!(
                    "{server} closed the connection without answering the hello: not an \
                     ipcbench serve, or one that refused us"
                )
            )),
            Err(e) => {
                let timed_out = e.chain().any(|c| {
                    c.downcast_ref::<std::io::Error>().is_some_and(|io| {
                        matches!(
                            io.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        )
                    })
                });
                if timed_out {
                    bail!(unreachable(
                        server,
                        format!("no answer to the hello within {HANDSHAKE_WAIT:?}")
                    ));
                }
                bail!(Failure::new(
                    Kind::Mismatch,
                    format!(
                        "{server} answered the hello with something else ({e:#}): not an \
                         ipcbench serve of this version"
                    )
                ))
            }
        };
        reader
            .get_ref()
            .set_read_timeout(None)
            .context("clearing SO_RCVTIMEO")?;
        let (events_tx, events) = mpsc::channel();
        let tx = events_tx.clone();
        thread::spawn(move || {
            loop {
                let ev = match wire::recv::<ToClient, _>(&mut reader, MAX_LINE) {
                    Ok(Some(msg)) => Event::Remote(msg),
                    Ok(None) => Event::Gone("it closed the control connection".into()),
                    Err(e) => Event::Gone(format!("{e:#}")),
                };
                let gone = matches!(ev, Event::Gone(_));
                if tx.send(ev).is_err() || gone {
                    return;
                }
            }
        });
        Ok(Self {
            server: server.to_owned(),
            host,
            version,
            conn: Arc::new(Mutex::new(Conn {
                writer,
                events,
                events_tx,
                trials: 0,
                lost: None,
            })),
        })
    }

    /// A [`Kind::Lost`] failure.
    fn lost(&self, why: &str) -> anyhow::Error {
        anyhow::Error::new(Failure::new(
            Kind::Lost,
            format!(
                "lost ipcbench serve at {} ({}) mid-run: {why}; the server was killed, or the \
                 network between the hosts failed",
                self.server, self.host
            ),
        ))
    }

    /// Runs one trial: the consumer on the server, the producer here, and
    /// returns (producer, [consumer]) with only one-clock metrics.
    pub fn run_group(
        &self,
        exe: &Path,
        spec: &RoleSpec,
        limits: Limits,
    ) -> Result<(RoleOutput, Vec<RoleOutput>)> {
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| anyhow!("the control connection's lock is poisoned"))?;
        if let Some(why) = &conn.lost {
            return Err(self.lost(why));
        }
        conn.trials += 1;
        let trial = conn.trials;
        let result = self.trial(&mut conn, exe, spec, limits, trial);
        if let Err(e) = &result
            && super::exit_code(e) != Some(Kind::Lost.exit_code())
        {
            // The trial failed here: make sure its consumer is gone before
            // the next one starts.
            let _ = wire::send(&mut conn.writer, &ToServer::Abort);
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                match conn.events.recv_timeout(Duration::from_millis(50)) {
                    Ok(Event::Remote(ToClient::Exited { .. })) => break,
                    Ok(Event::Gone(why)) => {
                        conn.lost = Some(why);
                        break;
                    }
                    _ => {}
                }
            }
        }
        if let Err(e) = &result
            && super::exit_code(e) == Some(Kind::Lost.exit_code())
        {
            conn.lost = Some(format!("{e:#}"));
        }
        let (mut producer, mut consumers) = result?;
        one_clock(&mut producer, &mut consumers);
        Ok((producer, consumers))
    }

    fn trial(
        &self,
        conn: &mut Conn,
        exe: &Path,
        spec: &RoleSpec,
        limits: Limits,
        trial: u64,
    ) -> Result<(RoleOutput, Vec<RoleOutput>)> {
        let mut consumer = spec.clone();
        consumer.role = Role::Consumer;
        consumer.remote = true;
        consumer.connect_timeout_ms = limits.connect.as_millis() as u64;
        wire::send(
            &mut conn.writer,
            &ToServer::Start {
                spec: Box::new(consumer),
                stall_ms: limits.stall.as_millis() as u64,
            },
        )
        .map_err(|e| self.lost(&format!("{e:#}")))?;
        // Phase 1: the endpoint.
        let deadline = Instant::now() + limits.connect;
        let endpoint = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match conn.events.recv_timeout(left) {
                Ok(Event::Remote(ToClient::Endpoint { endpoint })) => break endpoint,
                Ok(Event::Remote(ToClient::Exited { how, .. })) => {
                    bail!("the remote {how} before publishing an endpoint")
                }
                Ok(Event::Remote(ToClient::Error { message })) => {
                    bail!("ipcbench serve at {}: {message}", self.server)
                }
                Ok(Event::Gone(why)) => return Err(self.lost(&why)),
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => bail!(
                    "the remote consumer published no endpoint within {:?}",
                    limits.connect
                ),
                Err(RecvTimeoutError::Disconnected) => return Err(self.lost("no events")),
            }
        };
        let (public, secret) = endpoint
            .split_once('#')
            .map_or((endpoint.as_str(), ""), |(p, s)| (p, s));
        // Phase 2: the producer here.
        let mut producer_spec = spec.clone();
        producer_spec.role = Role::Producer;
        producer_spec.remote = true;
        producer_spec.endpoint = Some(public.to_owned());
        producer_spec.connect_timeout_ms = limits.connect.as_millis() as u64;
        let start = Start {
            exe,
            spec: &producer_spec,
            label: "producer".to_owned(),
            secrets: Some(secret),
            reads_peers: false,
        };
        let mut producer = RoleProcess::spawn(start, conn.events_tx.clone(), move |line| {
            Event::Local(trial, line)
        })?;
        let mut w = Watch::default();
        let mut last = Instant::now();
        loop {
            match conn.events.recv_timeout(Duration::from_millis(20)) {
                Ok(Event::Local(n, _)) if n != trial => {}
                Ok(Event::Local(_, None)) => w.producer_eof = true,
                Ok(Event::Local(_, Some(line))) => {
                    if let Some(out) = w.line(&line, &mut last, "producer")? {
                        w.producer = Some(out);
                    }
                }
                Ok(Event::Remote(ToClient::Line { line })) => {
                    if let Some(out) = w.line(&line, &mut last, "consumer")? {
                        w.consumer = Some(out);
                    }
                }
                Ok(Event::Remote(ToClient::Exited { ok, how })) => {
                    w.consumer_exit = Some((ok, how))
                }
                Ok(Event::Remote(_)) => {}
                Ok(Event::Gone(why)) => {
                    producer.kill();
                    return Err(self.lost(&why));
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Err(self.lost("no events")),
            }
            producer.exited();
            if let Some((false, how)) = &w.consumer_exit {
                producer.kill();
                bail!("the remote {how} (on {})", self.host);
            }
            if producer.failed() {
                // Give the consumer's story a moment: the first failure
                // usually causes the other.
                // A server killed takes its consumer with it, and our
                // producer may fail first: then the lost server is the cause.
                let until = Instant::now() + Duration::from_millis(1000);
                while w.consumer_exit.is_none() && Instant::now() < until {
                    match conn.events.recv_timeout(Duration::from_millis(20)) {
                        Ok(Event::Remote(ToClient::Exited { ok, how })) => {
                            w.consumer_exit = Some((ok, how));
                        }
                        Ok(Event::Gone(why)) => {
                            return Err(self.lost(&format!("{why}; then {}", producer.describe())));
                        }
                        _ => {}
                    }
                }
                match &w.consumer_exit {
                    Some((false, how)) => bail!(
                        "the remote {how} (on {}); then {}",
                        self.host,
                        producer.describe()
                    ),
                    _ => bail!("{}", producer.describe()),
                }
            }
            if producer.succeeded() && w.producer_eof && w.consumer_exit.is_some() {
                let p = w
                    .producer
                    .take()
                    .ok_or_else(|| anyhow!("{} without sending results", producer.describe()))?;
                let c = w
                    .consumer
                    .take()
                    .ok_or_else(|| anyhow!("the remote consumer ended without sending results"))?;
                return Ok((p, vec![c]));
            }
            if last.elapsed() > limits.stall {
                producer.kill();
                bail!(
                    "no progress for {:?}: killed the producer and asked serve to kill the \
                     consumer; the transport or the network is stalled",
                    limits.stall
                );
            }
        }
    }
}

/// What a trial has heard so far.
#[derive(Default)]
struct Watch {
    producer: Option<RoleOutput>,
    consumer: Option<RoleOutput>,
    producer_eof: bool,
    consumer_exit: Option<(bool, String)>,
}

impl Watch {
    /// A role line: progress resets the stall clock, a result is returned.
    fn line(&mut self, line: &str, last: &mut Instant, who: &str) -> Result<Option<RoleOutput>> {
        match line.parse() {
            Ok(Line::Progress(_)) => {
                *last = Instant::now();
                Ok(None)
            }
            Ok(Line::Result(json)) => serde_json::from_str(&json)
                .map(Some)
                .with_context(|| format!("the {who} sent malformed results")),
            _ => Ok(None),
        }
    }
}
