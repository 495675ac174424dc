//! The control connection's messages: one JSON object a line, each way.
//! The client opens with [`ToServer::Hello`] (token and versions); the
//! server answers [`ToClient::Welcome`], [`ToClient::Refused`] or
//! [`ToClient::Mismatch`]. Then per trial: `Start` → `Endpoint`, the
//! consumer's role lines as `Line`, and `Exited` when its process ends
//! (`Abort` asks for that early).

use std::io::{BufRead, Write};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::role::RoleSpec;

/// The control protocol's version: both sides must speak the same one,
/// besides being the same ipcbench version and results schema.
pub const PROTOCOL: u32 = 1;

/// This build's version, as the handshake compares it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The longest line either side reads: a trial's results, with every
/// sample, fit with room to spare; a line longer is an error, not an
/// allocation without bound.
pub const MAX_LINE: u64 = 256 << 20;

/// The longest hello the server reads from a connection not yet admitted.
pub const MAX_HELLO: u64 = 4096;

/// Client to server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToServer {
    /// The first line: the token `serve` printed and what the client is.
    /// Fields default, so a hello from another version still parses and
    /// is answered with a mismatch rather than refused as garbage.
    Hello {
        /// The token, as given to `--token`.
        #[serde(default)]
        token: String,
        /// ipcbench version.
        #[serde(default)]
        version: String,
        /// [`PROTOCOL`].
        #[serde(default)]
        protocol: u32,
        /// The results schema version.
        #[serde(default)]
        schema: u32,
    },
    /// Start one trial's consumer with this specification.
    Start {
        /// The consumer's role specification.
        spec: Box<RoleSpec>,
        /// Kill the consumer if it goes this long without a line.
        stall_ms: u64,
    },
    /// Kill the running consumer now (the client gave up on the trial).
    Abort,
}

/// Server to client.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToClient {
    /// Admitted: the server's version and host name.
    Welcome {
        /// ipcbench version.
        version: String,
        /// The server's host name, for the results.
        host: String,
    },
    /// The token was wrong or missing; the connection closes.
    Refused {
        /// Why, for the client's error message.
        reason: String,
    },
    /// Versions differ; the connection closes.
    Mismatch {
        /// The server's ipcbench version.
        version: String,
        /// The server's [`PROTOCOL`].
        protocol: u32,
        /// The server's results schema version.
        schema: u32,
    },
    /// The consumer listens here (with its secret after `#`).
    Endpoint {
        /// The full endpoint.
        endpoint: String,
    },
    /// A role protocol line the consumer printed (`PROGRESS`, `RESULT`).
    Line {
        /// The line.
        line: String,
    },
    /// The consumer process ended.
    Exited {
        /// It exited with status 0.
        ok: bool,
        /// How it ended, with its stderr's tail.
        how: String,
    },
    /// The server could not do what was asked; the message says why.
    Error {
        /// Why.
        message: String,
    },
}

/// Writes one message as a line.
pub fn send<T: Serialize>(w: &mut impl Write, msg: &T) -> Result<()> {
    let mut line = serde_json::to_vec(msg).context("encoding a control message")?;
    line.push(b'\n');
    w.write_all(&line)
        .and_then(|()| w.flush())
        .context("writing to the control connection")
}

/// Reads one message of at most `max` bytes; `Ok(None)` at end of stream.
pub fn recv<T: for<'de> Deserialize<'de>, R: BufRead>(r: &mut R, max: u64) -> Result<Option<T>> {
    let mut line = Vec::new();
    let n = std::io::Read::take(&mut *r, max)
        .read_until(b'\n', &mut line)
        .context("reading the control connection")?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        if n as u64 >= max {
            bail!("a control line longer than {max} bytes");
        }
        bail!("the control connection ended in the middle of a line");
    }
    let msg = serde_json::from_slice(&line).with_context(|| {
        format!(
            "not a control message: {:?}",
            String::from_utf8_lossy(&line[..line.len().min(80)])
        )
    })?;
    Ok(Some(msg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_garbage_is_an_error() {
        let mut buf = Vec::new();
        send(
            &mut buf,
            &ToClient::Endpoint {
                endpoint: "tcp:10.0.0.1:5#ab".into(),
            },
        )
        .expect("send");
        send(&mut buf, &ToServer::Abort).expect("send");
        let mut r = std::io::Cursor::new(buf);
        let Some(ToClient::Endpoint { endpoint }) = recv(&mut r, MAX_LINE).expect("recv") else {
            panic!("not an endpoint")
        };
        assert_eq!(endpoint, "tcp:10.0.0.1:5#ab");
        assert!(matches!(
            recv::<ToServer, _>(&mut r, MAX_LINE),
            Ok(Some(ToServer::Abort))
        ));
        assert!(matches!(recv::<ToServer, _>(&mut r, MAX_LINE), Ok(None)));
        let mut junk = std::io::Cursor::new(b"GET / HTTP/1.1\r\n".to_vec());
        assert!(recv::<ToServer, _>(&mut junk, MAX_HELLO).is_err());
        let mut long = std::io::Cursor::new(vec![b'x'; 10_000]);
        let e = recv::<ToServer, _>(&mut long, MAX_HELLO).expect_err("too long");
        assert!(e.to_string().contains("longer than 4096"), "{e}");
    }

    #[test]
    fn a_hello_without_versions_still_parses() {
        let mut r = std::io::Cursor::new(b"{\"type\":\"hello\",\"token\":\"t\"}\n".to_vec());
        let Some(ToServer::Hello {
            token, protocol, ..
        }) = recv(&mut r, MAX_HELLO).expect("parses")
        else {
            panic!("not a hello")
        };
        assert_eq!((token.as_str(), protocol), ("t", 0));
    }
}
