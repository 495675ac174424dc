//! `ipcbench serve`: listens for control connections, admits those that
//! present the token (compared in constant time) from a client of the same
//! version, and runs each trial's consumer for them. A connection without
//! the right token is refused, named in the log (address, and on loopback
//! its owner), and closed; the server goes on, and so does any admitted
//! client's run, since every connection has its own thread. A trial's
//! process is killed when its client disconnects or dies, asks to abort,
//! or goes [`ToServer::Start`]'s `stall_ms` without a line.

use std::io::{BufReader, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::wire::{self, MAX_HELLO, MAX_LINE, PROTOCOL, ToClient, ToServer, VERSION};
use super::{Failure, Kind, WORKLOADS};
use crate::placement::Role;
use crate::protocol::Line;
use crate::role_process::{RoleProcess, Start};

/// How long a new connection may take to send its hello.
const HELLO_WAIT: Duration = Duration::from_secs(5);

/// How long a consumer may take to publish its endpoint.
const ENDPOINT_WAIT: Duration = Duration::from_secs(20);

/// What `serve` needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen for control connections.
    pub bind: SocketAddr,
    /// The token clients must present.
    pub token: [u8; transport::peer::TOKEN_LEN],
    /// This binary, re-executed as `__role`.
    pub exe: PathBuf,
}

/// Binds, prints the address and the token on stdout, and serves until
/// killed. A port in use is a [`Kind::AddressInUse`] failure.
pub fn run(cfg: &Config) -> Result<()> {
    let listener = TcpListener::bind(cfg.bind).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            anyhow::Error::new(Failure::new(
                Kind::AddressInUse,
                format!(
                    "cannot listen on {}: the address is already in use (another serve, or \
                     another program, has that port); pick another with --bind ADDR:PORT, or \
                     port 0 for any free one",
                    cfg.bind
                ),
            ))
        } else {
            anyhow::Error::new(e).context(format!("cannot listen on {}", cfg.bind))
        }
    })?;
    let addr = listener.local_addr().context("getsockname")?;
    let token = String::from_utf8_lossy(&cfg.token).into_owned();
    let shown = if addr.ip().is_unspecified() {
        "THIS_HOST".to_owned()
    } else {
        addr.ip().to_string()
    };
    // One write, so a reader that takes the first lines and goes sees them all.
    let banner = format!(
        "ipcbench serve {VERSION}: listening on {addr}\ntoken: {token}\non the other host: \
         ipcbench run --remote {shown}:{} --token {token} --transport tcp\n",
        addr.port()
    );
    {
        let mut out = std::io::stdout().lock();
        out.write_all(banner.as_bytes())
            .and_then(|()| out.flush())
            .context("printing the address and token")?;
    }
    for conn in listener.incoming() {
        let stream = match conn {
            Ok(s) => s,
            Err(e) => {
                log(&format!("accept failed: {e}"));
                continue;
            }
        };
        let cfg = cfg.clone();
        thread::spawn(move || {
            let from = stream
                .peer_addr()
                .map_or_else(|_| "an unknown address".to_owned(), |a| a.to_string());
            match session(stream, &cfg) {
                Ok(()) => {}
                Err(e) => log(&format!("{from}: {e:#}")),
            }
        });
    }
    Ok(())
}

/// This host's name, for the client's results.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// One log line on stderr.
fn log(msg: &str) {
    eprintln!("serve: {msg}");
}

/// Who connected: the address and, on loopback, its owner.
fn describe(from: SocketAddr) -> String {
    if let SocketAddr::V4(v4) = from
        && let Some((uid, pid)) = transport::peer::PeerCred::of_loopback_tcp(v4)
    {
        return match pid {
            Some(pid) => format!("{from} (pid {pid}, uid {uid})"),
            None => format!("{from} (uid {uid})"),
        };
    }
    from.to_string()
}

/// One control connection: the handshake, then trials until it closes.
fn session(stream: TcpStream, cfg: &Config) -> Result<()> {
    let from = stream.peer_addr().context("getpeername")?;
    // The consumer listens on the address this client reached us at.
    let here = stream.local_addr().context("getsockname")?.ip();
    stream.set_nodelay(true).context("setting TCP_NODELAY")?;
    stream
        .set_read_timeout(Some(HELLO_WAIT))
        .context("setting SO_RCVTIMEO")?;
    let mut writer = stream.try_clone().context("cloning the control socket")?;
    let mut reader = BufReader::new(stream);
    let who = describe(from);
    let Some(hello) = handshake(&mut reader, &mut writer, cfg, &who)? else {
        return Ok(());
    };
    log(&format!("{who}: admitted (ipcbench {hello})"));
    reader
        .get_ref()
        .set_read_timeout(None)
        .context("clearing SO_RCVTIMEO")?;
    let (events_tx, events) = mpsc::channel();
    let control = events_tx.clone();
    thread::spawn(move || {
        loop {
            match wire::recv::<ToServer, _>(&mut reader, MAX_LINE) {
                Ok(Some(msg)) => {
                    if control.send(Event::Control(msg)).is_err() {
                        return;
                    }
                }
                Ok(None) => {
                    let _ = control.send(Event::Gone("closed the connection".into()));
                    return;
                }
                Err(e) => {
                    let _ = control.send(Event::Gone(format!("{e:#}")));
                    return;
                }
            }
        }
    });
    let mut trials = 0u64;
    loop {
        match events.recv() {
            Ok(Event::Control(ToServer::Start { spec, stall_ms })) => {
                trials += 1;
                let limits = (ENDPOINT_WAIT, Duration::from_millis(stall_ms.max(1000)));
                let ctx = Trial {
                    exe: &cfg.exe,
                    here,
                    who: &who,
                    limits,
                };
                if !ctx.run(*spec, &mut writer, &events, &events_tx, trials)? {
                    return Ok(());
                }
            }
            Ok(Event::Control(ToServer::Abort)) => {}
            Ok(Event::Control(ToServer::Hello { .. })) => {
                bail!("sent a second hello");
            }
            Ok(Event::Gone(why)) => {
                log(&format!("{who}: {why}; session over"));
                return Ok(());
            }
            Ok(Event::Role(..)) => {}
            Err(_) => return Ok(()),
        }
    }
}

/// Reads and judges the hello: `Some(version)` admits the client; `None`
/// means it was refused (and told, and logged).
fn handshake(
    reader: &mut BufReader<TcpStream>,
    writer: &mut TcpStream,
    cfg: &Config,
    who: &str,
) -> Result<Option<String>> {
    let refuse = |writer: &mut TcpStream, why: &str| {
        log(&format!("refused {who}: {why}"));
        let _ = wire::send(
            writer,
            &ToClient::Refused {
                reason: why.to_owned(),
            },
        );
    };
    let (token, version, protocol, schema) = match wire::recv::<ToServer, _>(reader, MAX_HELLO) {
        Ok(Some(ToServer::Hello {
            token,
            version,
            protocol,
            schema,
        })) => (token, version, protocol, schema),
        Ok(Some(_)) => {
            refuse(writer, "did not start with a hello");
            return Ok(None);
        }
        Ok(None) => {
            refuse(writer, "closed without a hello");
            return Ok(None);
        }
        Err(e) => {
            refuse(
                writer,
                &format!("sent no hello within {HELLO_WAIT:?} ({e:#})"),
            );
            return Ok(None);
        }
    };
    if token.is_empty() {
        refuse(writer, "sent no token");
        return Ok(None);
    }
    if !transport::peer::same_token(token.as_bytes(), &cfg.token) {
        refuse(writer, "sent the wrong token");
        return Ok(None);
    }
    let schema_here = results::schema::SCHEMA_VERSION;
    if version != VERSION || protocol != PROTOCOL || schema != schema_here {
        log(&format!(
            "refused {who}: it is ipcbench {version:?} (protocol {protocol}, schema {schema}), \
             this is {VERSION} (protocol {PROTOCOL}, schema {schema_here})"
        ));
        let _ = wire::send(
            writer,
            &ToClient::Mismatch {
                version: VERSION.to_owned(),
                protocol: PROTOCOL,
                schema: schema_here,
            },
        );
        return Ok(None);
    }
    wire::send(
        writer,
        &ToClient::Welcome {
            version: VERSION.to_owned(),
            host: hostname(),
        },
    )?;
    Ok(Some(version))
}

/// What the session's thread waits on.
enum Event {
    Control(ToServer),
    Gone(String),
    /// Trial number, and a line of its consumer (`None`: end of its stdout).
    Role(u64, Option<String>),
}

/// One trial's consumer.
struct Trial<'a> {
    exe: &'a Path,
    here: IpAddr,
    who: &'a str,
    /// (endpoint wait, stall limit)
    limits: (Duration, Duration),
}

impl Trial<'_> {
    /// Runs the consumer to its end and tells the client. `Ok(false)`: the
    /// client went away (the consumer was killed) and the session is over.
    fn run(
        &self,
        mut spec: crate::role::RoleSpec,
        writer: &mut TcpStream,
        events: &mpsc::Receiver<Event>,
        events_tx: &mpsc::Sender<Event>,
        trial: u64,
    ) -> Result<bool> {
        if !WORKLOADS.contains(&spec.workload) {
            let msg = format!("workload {} does not run across hosts", spec.workload);
            wire::send(writer, &ToClient::Error { message: msg })?;
            return Ok(true);
        }
        if !crate::registry::find(&spec.transport).is_some_and(|b| b.crosses_hosts) {
            let msg = format!("transport {:?} cannot cross hosts here", spec.transport);
            wire::send(writer, &ToClient::Error { message: msg })?;
            return Ok(true);
        }
        spec.role = Role::Consumer;
        spec.bind = Some(self.here);
        spec.remote = true;
        spec.connect_timeout_ms = self.limits.0.as_millis() as u64;
        // An empty stdin: no `PEER` lines (the transport's token admits the
        // producer, which runs on another host).
        let start = Start {
            exe: self.exe,
            spec: &spec,
            label: "consumer".to_owned(),
            secrets: None,
            reads_peers: false,
        };
        let mut child = match RoleProcess::spawn(start, events_tx.clone(), move |line| {
            Event::Role(trial, line)
        }) {
            Ok(c) => c,
            Err(e) => {
                let message = format!("{e:#}");
                wire::send(writer, &ToClient::Error { message })?;
                return Ok(true);
            }
        };
        log(&format!(
            "{}: consumer pid {} started ({} {} {} sizes)",
            self.who,
            child.pid(),
            spec.transport,
            spec.workload,
            spec.sizes.len()
        ));
        let mut eof = false;
        let mut last = Instant::now();
        let mut published = false;
        loop {
            match events.recv_timeout(Duration::from_millis(20)) {
                Ok(Event::Role(n, _)) if n != trial => {}
                Ok(Event::Role(_, None)) => eof = true,
                Ok(Event::Role(_, Some(line))) => {
                    last = Instant::now();
                    let msg = match line.parse::<Line>() {
                        Ok(Line::Endpoint(endpoint)) => {
                            published = true;
                            ToClient::Endpoint { endpoint }
                        }
                        _ => ToClient::Line { line },
                    };
                    wire::send(writer, &msg)?;
                }
                Ok(Event::Control(ToServer::Abort)) => {
                    child.kill();
                    log(&format!(
                        "{}: aborted by the client: killed consumer pid {}",
                        self.who,
                        child.pid()
                    ));
                }
                Ok(Event::Control(other)) => {
                    child.kill();
                    bail!("sent {other:?} while a trial ran");
                }
                Ok(Event::Gone(why)) => {
                    child.kill();
                    log(&format!(
                        "{}: {why} during a trial: killed consumer pid {}; session over",
                        self.who,
                        child.pid()
                    ));
                    return Ok(false);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Ok(false),
            }
            let waited = last.elapsed();
            if (!published && waited > self.limits.0) || waited > self.limits.1 {
                child.kill();
                log(&format!(
                    "{}: consumer pid {} silent for {waited:?}: killed",
                    self.who,
                    child.pid()
                ));
            }
            if child.exited() && (eof || child.failed()) {
                let how = child.describe();
                if child.failed() {
                    log(&format!("{}: {how}", self.who));
                }
                let ok = child.succeeded();
                wire::send(writer, &ToClient::Exited { ok, how })?;
                return Ok(true);
            }
        }
    }
}
