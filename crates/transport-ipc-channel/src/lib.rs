//! Backend on servo's `ipc-channel` crate (0.23), in three variants that use
//! the crate the three ways its users do:
//!
//! - [`IpcChannelBytes`] (`ipc-channel-bytes`): `ipc::bytes_channel()`, raw
//!   bytes, no serialization.
//! - [`IpcChannelTyped`] (`ipc-channel-typed`): `IpcSender<T>` /
//!   `IpcReceiver<T>` with `T` a serde struct holding the message as a
//!   `serde_bytes` buffer. ipc-channel serializes every message itself, with
//!   its own codec (postcard since 0.19), so this variant's transport time
//!   *includes* ipc-channel's encode and decode; it cannot be timed apart.
//!   Without `serde_bytes` serde would encode the buffer element by element:
//!   send-to-decoded of a large message takes several times longer
//!   (`--example serde_bytes_cost`; figures in docs/design-figures.md).
//! - [`IpcChannelShmem`] (`ipc-channel-shmem`): a fresh
//!   `IpcSharedMemory::from_bytes(msg)` per message (a `memfd` created,
//!   sized, mapped and filled), whose descriptor travels over an
//!   `IpcSender<IpcSharedMemory>`; the receiver maps it and `recv` lends the
//!   mapping, so reception is zero-copy but every message pays
//!   `memfd_create` + `ftruncate` + two `mmap`s + `munmap`s.
//!
//! # How ipc-channel moves a message on Linux (the criticality)
//!
//! Every channel is a `SOCK_SEQPACKET` socket pair: one `sendmsg` per message,
//! boundaries kept by the kernel. A message travels as **one packet** only if
//! it fits the socket's send buffer, less what ipc-channel reserves for
//! descriptors: `((SO_SNDBUF - CMSG_SPACE(64 * 8)) - 16) & !7` bytes, the
//! crate's `get_max_fragment_size()`, see [`single_packet_limit`]. On this
//! machine `SO_SNDBUF` defaults to `net.core.wmem_default` = 212 992, so the
//! limit is **212 448 bytes (207.5 KiB)**. The seed's sizes straddle it: 25 600
//! int64 (204 800 B) go in one packet, 51 200 (409 600 B) do not.
//!
//! A larger message is fragmented: the sender creates a **dedicated socket
//! pair for that one message**, sends the first 212 448 bytes on the channel
//! with the dedicated receiver's descriptor attached, and pushes the rest
//! through the dedicated socket in 212 464-byte fragments; that socket's
//! buffer takes one of them before the sender must wait. So `send` of a large
//! message **returns only once at most 424 912 bytes of it are unread**: above
//! that size the two processes work in lock-step and the sender cannot run
//! ahead, and every fragmented message also costs a `socketpair`, descriptor
//! passing and a second kernel buffer, so the fastest single send takes
//! several times longer one byte above the limit than at it
//! (docs/design-figures.md).
//!
//! Below the limit the channel still buffers little: the kernel charges each
//! packet its allocated size (at least ~770 bytes) against the 212 992-byte
//! send buffer, so a sender whose receiver is not reading blocks after 278
//! small messages, 93 of 800 B, 26 of 6.4 KB, 4 of 51.2 KB or a single one of
//! 204.8 KB. The shmem variant's packets carry only a descriptor and an
//! index, so it never fragments, but it too blocks after ~278 unread messages.
//!
//! All figures on this machine, from `cargo run --release -p
//! transport-ipc-channel --example threshold`, which prints them again.
//!
//! # Set-up
//!
//! `listen` creates an `IpcOneShotServer` and publishes its name (a socket path
//! inside a fresh temporary directory made by ipc-channel, e.g.
//! `/tmp/.tmpAbC123/socket`). `connect` creates *both* channels of the duplex
//! connection, keeps its ends (sender towards the listener, receiver from it)
//! and sends the other two across the one-shot connection; `accept` receives
//! them. Creating both on the connecting side, rather than using the one-shot
//! connection itself as one direction, is what lets all three variants share
//! the code: `IpcBytesReceiver` can only be made by `bytes_channel()`, never
//! from the server's typed `IpcReceiver<T>`. Each direction is then a one-way
//! socket pair: its sending socket never has unread data, so a peer that exits
//! never turns the other side's pending messages into `ECONNRESET`; they are
//! all delivered, then `recv` reports [`RecvError::Disconnected`].
//!
//! `IpcOneShotServer::accept` blocks in `accept(2)` with no timeout, so
//! [`Listener::accept`](transport::Listener::accept) runs it on a helper thread
//! and waits for that thread until the deadline. At the deadline it connects
//! to the server itself and hangs up, which makes the helper's `accept` return
//! (and fail, as the handshake never comes), so the helper ends and the server
//! and its temporary directory are dropped before `accept` returns
//! [`OpenError::Timeout`]. Only if a peer connected but never sent its
//! handshake does the helper stay blocked: it is then left behind (leaked,
//! with the server's temporary directory until the process exits) after
//! [`ACCEPT_ABANDON_GRACE`], which is acceptable for a benchmark process.
//!
//! # Where the contract does not hold
//!
//! - **Names do not derive from [`Options::tag`]**: ipc-channel picks the
//!   socket path itself (a random `tempfile` directory in `$TMPDIR`). They are
//!   unique all the same. The directory is removed when the handshake is done
//!   or the listener is dropped, but a listener killed with SIGKILL before
//!   that leaves it behind.
//! - **Hostile input**: ipc-channel trusts its peer. A first fragment that
//!   claims a huge total size makes the receiver reserve it, and a malformed
//!   descriptor can make it panic (`assert!`s and `unwrap`s in its Unix
//!   platform code, also on out-of-memory when creating shared memory). The
//!   conformance suite does not send hostile frames; the clause is not met.
//! - **A peer that dies in the middle of a fragmented message would hang the
//!   sender** if ipc-channel were used alone: it keeps its own copy of the
//!   dedicated channel's receiving end open until `send` returns, so once the
//!   receiver process is gone the remaining fragments fill the dedicated
//!   socket and `send` blocks forever, with no `EPIPE` to wake it (the
//!   `threshold` example shows a 1 MiB send still blocked 2 s after its
//!   receiver was dropped). The bytes and typed senders therefore run every
//!   send above [`single_packet_limit`] under a [`PeerWatch`]: a thread
//!   waiting on a pidfd of the peer (whose pid the endpoint and the handshake
//!   carry) interrupts the blocked `send(2)` with [`wake_signal`] once the
//!   peer has exited, and the send returns [`SendError::Disconnected`]. The
//!   message path pays a mutex lock and unlock per large send, nothing below.
//! - Every received message is a fresh allocation made by ipc-channel (bytes:
//!   a `Vec` of at least the 207 KiB fragment size, typed: postcard's decoded
//!   buffer), which `recv` keeps and lends until the next call.

#![deny(unsafe_code)]

mod bytes;
mod shmem;
mod typed;
mod watch;

pub use watch::{PeerWatch, wake_signal};

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use ipc_channel::IpcError;
use ipc_channel::ipc::{IpcOneShotServer, IpcSender};
use serde::Serialize;
use serde::de::DeserializeOwned;
use transport::endpoint::Fields;
use transport::{Endpoint, OpenError, Options, RecvError, SendError};

pub use bytes::{IpcChannelBytes, IpcChannelBytesReceiver, IpcChannelBytesSender};
pub use shmem::{IpcChannelShmem, IpcChannelShmemReceiver, IpcChannelShmemSender};
pub use typed::{IpcChannelTyped, IpcChannelTypedReceiver, IpcChannelTypedSender};

/// How long `accept`, having given up at its deadline, waits for its helper
/// thread to finish before leaving it behind.
pub const ACCEPT_ABANDON_GRACE: Duration = Duration::from_secs(1);

/// The largest message ipc-channel sends as one packet on this machine;
/// anything larger is fragmented over a dedicated socket pair and its `send`
/// waits for the receiver (see the crate documentation).
///
/// This is ipc-channel's own figure, computed from `SO_SNDBUF` of a fresh
/// socket pair the first time it is needed; ipc-channel panics if it cannot
/// create that socket pair.
pub fn single_packet_limit() -> usize {
    ipc_channel::platform::OsIpcSender::get_max_fragment_size()
}

/// What a variant plugs into the shared connection set-up.
pub trait Variant: Send + 'static {
    /// The variant's registry name, also the endpoint prefix.
    const NAME: &'static str;
    /// What the connecting side sends across the one-shot server: the
    /// listener's two channel ends.
    type Handshake: Serialize + DeserializeOwned + Send + 'static;
    /// The sending half.
    type Sender: transport::Sender;
    /// The receiving half.
    type Receiver: transport::Receiver;

    /// Creates both channels; returns the ends for the listener (to be sent
    /// across) and the connecting side's own halves. `peer` is the
    /// listening process.
    fn connecting_side(peer: u32) -> Result<ConnectingSide<Self>, OpenError>;

    /// Turns the received handshake from process `peer` into the listener's
    /// halves.
    fn listening_side(
        handshake: Self::Handshake,
        peer: u32,
    ) -> Result<(Self::Sender, Self::Receiver), OpenError>;
}

/// What [`Variant::connecting_side`] makes: the handshake for the listener and
/// the connecting side's own sender and receiver.
pub type ConnectingSide<V> = (
    <V as Variant>::Handshake,
    <V as Variant>::Sender,
    <V as Variant>::Receiver,
);

/// A one-shot server waiting for the connecting side's handshake.
pub struct IpcChannelListener<V: Variant> {
    server: IpcOneShotServer<Hello<V>>,
    name: String,
}

impl<V: Variant> std::fmt::Debug for IpcChannelListener<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpcChannelListener")
            .field("variant", &V::NAME)
            .field("name", &self.name)
            .finish()
    }
}

/// What crosses the one-shot server: the connecting process's pid and the
/// variant's handshake.
type Hello<V> = (u32, <V as Variant>::Handshake);

type AcceptResult<H> = Result<H, IpcError>;

impl<V: Variant> transport::Listener for IpcChannelListener<V> {
    type Sender = V::Sender;
    type Receiver = V::Receiver;

    fn accept(self, deadline: Instant) -> Result<(V::Sender, V::Receiver), OpenError> {
        let Self { server, name } = self;
        let (done_tx, done_rx) = mpsc::sync_channel::<AcceptResult<Hello<V>>>(1);
        thread::Builder::new()
            .name("ipc-channel-accept".into())
            .spawn(move || {
                // The one-shot receiver is dropped here: only the channel
                // ends carried by the handshake are kept.
                let _ = done_tx.send(server.accept().map(|(_rx, handshake)| handshake));
            })
            .map_err(|e| OpenError::io("spawn ipc-channel accept thread", e))?;

        let left = deadline.saturating_duration_since(Instant::now());
        match done_rx.recv_timeout(left) {
            Ok(Ok((peer, handshake))) => V::listening_side(handshake, peer),
            Ok(Err(e)) => Err(open_error("accept ipc-channel connection", e)),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(OpenError::Backend(
                "ipc-channel accept thread ended without a result".into(),
            )),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                // Wake the helper's blocking accept(2) with a connection that
                // hangs up at once, so the server and its directory go away.
                // Failure is fine: it means the helper is already past accept.
                drop(IpcSender::<Hello<V>>::connect(name));
                let _ = done_rx.recv_timeout(ACCEPT_ABANDON_GRACE);
                Err(OpenError::Timeout)
            }
        }
    }
}

fn open_error(what: &str, e: IpcError) -> OpenError {
    match e {
        IpcError::Io(source) => OpenError::io(what, source),
        IpcError::Disconnected => {
            OpenError::Backend(format!("{what}: peer hung up before the handshake"))
        }
        IpcError::SerializationError(e) => {
            OpenError::Backend(format!("{what}: bad handshake: {}", serde_detail(&e)))
        }
    }
}

fn serde_detail(e: &ipc_channel::SerDeError) -> String {
    match std::error::Error::source(e) {
        Some(inner) => format!("{e}: {inner}"),
        None => e.to_string(),
    }
}

/// ipc-channel reports a closed channel as `Disconnected`, or as an I/O error
/// (`EPIPE`, `ECONNRESET`) that the transport crate maps to the same.
pub(crate) fn send_error(e: IpcError) -> SendError {
    match e {
        IpcError::Disconnected => SendError::Disconnected,
        IpcError::Io(e) => SendError::from(e),
        IpcError::SerializationError(e) => SendError::Backend(format!(
            "ipc-channel could not encode: {}",
            serde_detail(&e)
        )),
    }
}

pub(crate) fn recv_error(e: IpcError) -> RecvError {
    match e {
        IpcError::Disconnected => RecvError::Disconnected,
        IpcError::Io(e) => RecvError::from(e),
        IpcError::SerializationError(e) => RecvError::Corrupt(serde_detail(&e)),
    }
}

/// Every variant takes messages up to the contract's default maximum.
pub(crate) fn check_size(msg: &[u8]) -> Result<(), SendError> {
    let max = transport::DEFAULT_MAX_MESSAGE_SIZE;
    if msg.len() > max {
        return Err(SendError::TooLarge {
            size: msg.len(),
            max,
        });
    }
    Ok(())
}

pub(crate) fn listen<V: Variant>(
    _opts: &Options,
) -> Result<(IpcChannelListener<V>, Endpoint), OpenError> {
    let (server, name) = IpcOneShotServer::<Hello<V>>::new()
        .map_err(|e| OpenError::io("create ipc-channel one-shot server", e))?;
    // The connecting side learns our pid from the endpoint, to watch us.
    let endpoint = Endpoint(format!("{}:{}:{name}", V::NAME, std::process::id()));
    Ok((IpcChannelListener { server, name }, endpoint))
}

/// Longest path a Unix socket address holds, less its terminating NUL.
const MAX_SOCKET_PATH: usize = 107;

pub(crate) fn connect<V: Variant>(
    endpoint: &Endpoint,
) -> Result<(V::Sender, V::Receiver), OpenError> {
    // ipc-channel panics on an interior NUL and silently truncates long paths,
    // so anything that cannot be one of its server names is refused here.
    let mut fields = Fields::read(endpoint, "<variant>:<pid>:/<server socket path>");
    fields.scheme(V::NAME)?;
    let peer = fields.pid()?;
    let name = fields.rest("server socket path")?;
    let ok = name.starts_with('/') && name.len() <= MAX_SOCKET_PATH && !name.contains('\0');
    let name = fields.check("server socket path", name, ok)?;
    let (handshake, tx, rx) = V::connecting_side(peer)?;
    let server = IpcSender::<Hello<V>>::connect(name.to_owned())
        .map_err(|e| OpenError::io(format!("connect to ipc-channel server {name}"), e))?;
    server
        .send((std::process::id(), handshake))
        .map_err(|e| open_error("send ipc-channel handshake", e))?;
    Ok((tx, rx))
}

/// Implements `transport::Transport` for a variant's unit type.
macro_rules! impl_transport {
    ($t:ty, $desc:expr $(, $caps:expr)?) => {
        impl transport::Transport for $t {
            const NAME: &'static str = <$t as $crate::Variant>::NAME;
            const BACKEND: &'static str = "ipc-channel";
            const DESCRIPTION: &'static str = $desc;
            type Sender = <$t as $crate::Variant>::Sender;
            type Receiver = <$t as $crate::Variant>::Receiver;
            type Listener = $crate::IpcChannelListener<$t>;

            fn listen(
                opts: &transport::Options,
            ) -> Result<(Self::Listener, transport::Endpoint), transport::OpenError> {
                $crate::listen::<$t>(opts)
            }

            fn connect(
                endpoint: &transport::Endpoint,
                _opts: &transport::Options,
            ) -> Result<(Self::Sender, Self::Receiver), transport::OpenError> {
                $crate::connect::<$t>(endpoint)
            }

            $(
                fn capabilities() -> transport::Capabilities {
                    $caps
                }
            )?
        }
    };
}
pub(crate) use impl_transport;

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use transport::{Listener, Transport};

    fn socket_dir(endpoint: &Endpoint) -> std::path::PathBuf {
        let at = endpoint.0.find(":/").expect("a path after the prefix");
        Path::new(&endpoint.0[at + 1..])
            .parent()
            .expect("socket in a directory")
            .to_owned()
    }

    #[test]
    fn endpoints_that_cannot_be_a_server_name_are_malformed() {
        let opts = Options::unique("ipcch-unit");
        let long = format!("ipc-channel-bytes:1:/{}", "x".repeat(200));
        for bad in [
            "ipc-channel-typed:1:/tmp/x/socket",
            "ipc-channel-bytes:/tmp/x/socket",
            "ipc-channel-bytes:pid:/tmp/x/socket",
            "ipc-channel-bytes1:/tmp/x/socket",
            "ipc-channel-bytes:1:relative/socket",
            "ipc-channel-bytes:1:/tmp/a\0b",
            long.as_str(),
        ] {
            let res = IpcChannelBytes::connect(&Endpoint(bad.into()), &opts);
            assert!(
                matches!(res, Err(OpenError::BadEndpoint(_))),
                "{bad:?}: {:?}",
                res.err()
            );
        }
    }

    #[test]
    fn timed_out_accept_removes_the_server_directory() {
        let (listener, endpoint) =
            IpcChannelShmem::listen(&Options::unique("ipcch-unit")).expect("listen");
        let dir = socket_dir(&endpoint);
        assert!(dir.exists(), "{dir:?} should exist while listening");
        let res = listener.accept(Instant::now() + Duration::from_millis(20));
        assert!(matches!(res, Err(OpenError::Timeout)), "{:?}", res.err());
        assert!(
            !dir.exists(),
            "{dir:?} left behind after a timed-out accept"
        );
    }

    #[test]
    fn dropped_listener_removes_the_server_directory() {
        let (listener, endpoint) =
            IpcChannelTyped::listen(&Options::unique("ipcch-unit")).expect("listen");
        let dir = socket_dir(&endpoint);
        drop(listener);
        assert!(!dir.exists(), "{dir:?} left behind by a dropped listener");
    }

    #[test]
    fn the_single_packet_limit_is_positive_and_word_aligned() {
        let limit = single_packet_limit();
        assert!(limit > 0 && limit.is_multiple_of(8), "{limit}");
    }
}
