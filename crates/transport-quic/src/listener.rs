//! The listening side: handshakes run in the background from `listen` on,
//! each new connection's first bytes are its token, and `accept` takes the
//! first connection with the right one, closing and naming the others.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use quinn::{Connection, Endpoint as QEndpoint, RecvStream, SendStream};
use tokio::runtime::Runtime;
use tokio::sync::mpsc;
use transport::peer::{Gate, PeerCred, TOKEN_LEN};
use transport::{OpenError, peer};

use crate::backend;
use crate::halves::{QuicReceiver, QuicSender, Side, halves};

/// How long a new connection may take to send its token.
const TOKEN_WAIT: Duration = Duration::from_secs(2);

/// A connection that finished its handshake and sent (or failed to send)
/// its token.
pub(crate) struct Arrival {
    from: SocketAddr,
    conn: Connection,
    /// The stream, if the token was right; else why it is refused.
    judged: Result<(SendStream, RecvStream), String>,
}

/// The listening side of the QUIC transport.
pub struct QuicListener {
    /// Until accepted: then the connection's side owns it.
    rt: Option<Runtime>,
    endpoint: QEndpoint,
    arrivals: mpsc::UnboundedReceiver<Arrival>,
    gate: Gate,
}

impl std::fmt::Debug for QuicListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QuicListener")
    }
}

impl QuicListener {
    /// Starts judging the connections `endpoint` receives, on `rt`.
    pub(crate) fn start(rt: Runtime, endpoint: QEndpoint, token: [u8; TOKEN_LEN]) -> Self {
        let (tx, arrivals) = mpsc::unbounded_channel();
        rt.spawn(handshakes(endpoint.clone(), token, tx));
        Self {
            rt: Some(rt),
            endpoint,
            arrivals,
            gate: Gate::new(),
        }
    }
}

impl Drop for QuicListener {
    fn drop(&mut self) {
        // Not accepted: turn away whoever connected, and stop listening.
        if self.rt.is_some() {
            self.endpoint.close(1u32.into(), b"listener gone");
        }
    }
}

/// Accepts connections forever, reading each one's token.
async fn handshakes(
    endpoint: QEndpoint,
    token: [u8; TOKEN_LEN],
    out: mpsc::UnboundedSender<Arrival>,
) {
    while let Some(incoming) = endpoint.accept().await {
        let out = out.clone();
        tokio::spawn(async move {
            let from = incoming.remote_address();
            let Ok(conn) = incoming.await else { return };
            let read = tokio::time::timeout(TOKEN_WAIT, async {
                let (send, mut recv) = conn.accept_bi().await.map_err(|e| e.to_string())?;
                let mut got = [0u8; TOKEN_LEN];
                recv.read_exact(&mut got).await.map_err(|e| e.to_string())?;
                Ok::<_, String>((send, recv, got))
            })
            .await;
            let judged = match read {
                Ok(Ok((send, recv, got))) if peer::same_token(&got, &token) => Ok((send, recv)),
                Ok(Ok(_)) => Err("sent the wrong token".to_owned()),
                Ok(Err(e)) => Err(format!("sent no token ({e})")),
                Err(_) => Err(format!("sent no token within {TOKEN_WAIT:?}")),
            };
            let _ = out.send(Arrival { from, conn, judged });
        });
    }
}

/// A refused connection: its address and, where /proc tells, its owner (the
/// process whose UDP socket has that address, as TCP names its intruders).
/// A peer on another host is named by its address alone: no socket of this
/// machine has it.
fn describe(from: SocketAddr) -> String {
    let SocketAddr::V4(v4) = from else {
        return from.to_string();
    };
    match PeerCred::of_loopback_udp(v4) {
        Some((uid, Some(pid))) => format!("{from}, {}", PeerCred { pid, uid }),
        Some((uid, None)) => format!("{from}, uid {uid}"),
        None => from.to_string(),
    }
}

impl transport::Listener for QuicListener {
    type Sender = QuicSender;
    type Receiver = QuicReceiver;

    fn expect_peer(&mut self, _pid: u32) -> bool {
        // QUIC cannot see the pid; the token does the job.
        true
    }

    fn accept(mut self, deadline: Instant) -> Result<(QuicSender, QuicReceiver), OpenError> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let arrivals = &mut self.arrivals;
            let rt = self
                .rt
                .as_ref()
                .ok_or_else(|| backend("accept", "already accepted"))?;
            let next = rt.block_on(async { tokio::time::timeout(left, arrivals.recv()).await });
            let arrival = match next {
                Ok(Some(a)) => a,
                Ok(None) => return Err(backend("accept", "the endpoint closed")),
                Err(_) => return Err(self.gate.deadline_passed()),
            };
            match arrival.judged {
                Ok((send, recv)) => {
                    let rt = self
                        .rt
                        .take()
                        .ok_or_else(|| backend("accept", "already accepted"))?;
                    let side = Arc::new(Side {
                        rt,
                        endpoint: self.endpoint.clone(),
                        conn: arrival.conn,
                    });
                    return Ok(halves(send, recv, side));
                }
                Err(why) => {
                    // Named before it is closed: once closed, the intruder
                    // may exit and its socket leave /proc/net/udp.
                    let who = describe(arrival.from);
                    arrival.conn.close(2u32.into(), b"refused");
                    self.gate.refuse(who, why);
                }
            }
        }
    }
}
