//! `ipc-channel-bytes`: raw bytes over `ipc::bytes_channel()`, no serialization.

use ipc_channel::ipc::{self, IpcBytesReceiver, IpcBytesSender};
use serde::{Deserialize, Serialize};
use transport::{
    Capabilities, DEFAULT_MAX_MESSAGE_SIZE, OpenError, RecvError, SendError, WaitStrategy,
};

use crate::{Variant, check_size, impl_transport};

/// ipc-channel's `IpcBytesSender` / `IpcBytesReceiver`.
#[derive(Debug)]
pub struct IpcChannelBytes;

const MAX: usize = DEFAULT_MAX_MESSAGE_SIZE;

/// Sends raw bytes.
#[derive(Debug)]
pub struct IpcChannelBytesSender(IpcBytesSender);

/// Receives raw bytes, lending ipc-channel's buffer for the last message.
#[derive(Debug)]
pub struct IpcChannelBytesReceiver {
    rx: IpcBytesReceiver,
    last: Vec<u8>,
}

impl transport::Sender for IpcChannelBytesSender {
    fn send(&mut self, msg: &[u8]) -> Result<(), SendError> {
        check_size(msg, MAX)?;
        self.0.send(msg).map_err(SendError::from)
    }
}

impl transport::Receiver for IpcChannelBytesReceiver {
    fn recv(&mut self) -> Result<&[u8], RecvError> {
        self.last = self.rx.recv().map_err(crate::recv_error)?;
        Ok(&self.last)
    }
}

/// The listener's ends, created and sent across by the connecting side.
#[derive(Debug, Serialize, Deserialize)]
pub struct BytesHandshake {
    to_peer: IpcBytesSender,
    from_peer: IpcBytesReceiver,
}

impl Variant for IpcChannelBytes {
    const NAME: &'static str = "ipc-channel-bytes";
    type Handshake = BytesHandshake;
    type Sender = IpcChannelBytesSender;
    type Receiver = IpcChannelBytesReceiver;

    fn connecting_side() -> Result<(BytesHandshake, Self::Sender, Self::Receiver), OpenError> {
        let (to_listener, from_peer) =
            ipc::bytes_channel().map_err(|e| OpenError::io("ipc-channel bytes_channel", e))?;
        let (to_peer, from_listener) =
            ipc::bytes_channel().map_err(|e| OpenError::io("ipc-channel bytes_channel", e))?;
        Ok((
            BytesHandshake { to_peer, from_peer },
            IpcChannelBytesSender(to_listener),
            IpcChannelBytesReceiver {
                rx: from_listener,
                last: Vec::new(),
            },
        ))
    }

    fn listening_side(h: BytesHandshake) -> (Self::Sender, Self::Receiver) {
        (
            IpcChannelBytesSender(h.to_peer),
            IpcChannelBytesReceiver {
                rx: h.from_peer,
                last: Vec::new(),
            },
        )
    }
}

impl_transport!(
    IpcChannelBytes,
    "servo ipc-channel 0.23 IpcBytesSender/IpcBytesReceiver: raw bytes over SOCK_SEQPACKET, \
     fragmented over a per-message socket pair above ~207 KiB",
    Capabilities {
        max_message_size: MAX,
        zero_copy_recv: false,
        wait: WaitStrategy::Block,
    }
);
