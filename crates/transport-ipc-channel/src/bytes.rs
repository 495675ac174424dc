//! `ipc-channel-bytes`: raw bytes over `ipc::bytes_channel()`, no serialization.

use ipc_channel::ipc::{self, IpcBytesReceiver, IpcBytesSender};
use serde::{Deserialize, Serialize};
use transport::{OpenError, RecvError, SendError};

use crate::{PeerWatch, Variant, check_size, impl_transport};

/// ipc-channel's `IpcBytesSender` / `IpcBytesReceiver`.
#[derive(Debug)]
pub struct IpcChannelBytes;

/// Sends raw bytes; a send too large for one packet runs under a watch on
/// the peer process (see [`crate::PeerWatch`]).
#[derive(Debug)]
pub struct IpcChannelBytesSender {
    tx: IpcBytesSender,
    watch: PeerWatch,
    single_packet: usize,
}

/// Receives raw bytes, lending ipc-channel's buffer for the last message.
#[derive(Debug)]
pub struct IpcChannelBytesReceiver {
    rx: IpcBytesReceiver,
    last: Vec<u8>,
}

impl transport::Sender for IpcChannelBytesSender {
    fn send(&mut self, msg: &[u8]) -> Result<(), SendError> {
        check_size(msg)?;
        if msg.len() <= self.single_packet {
            return self.tx.send(msg).map_err(SendError::from);
        }
        let armed = self.watch.arm()?;
        let res = self.tx.send(msg);
        drop(armed);
        res.map_err(|e| self.watch.disconnected_or(SendError::from(e)))
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

    fn connecting_side(
        peer: u32,
    ) -> Result<(BytesHandshake, Self::Sender, Self::Receiver), OpenError> {
        let (to_listener, from_peer) =
            ipc::bytes_channel().map_err(|e| OpenError::io("ipc-channel bytes_channel", e))?;
        let (to_peer, from_listener) =
            ipc::bytes_channel().map_err(|e| OpenError::io("ipc-channel bytes_channel", e))?;
        Ok((
            BytesHandshake { to_peer, from_peer },
            sender(to_listener, peer)?,
            IpcChannelBytesReceiver {
                rx: from_listener,
                last: Vec::new(),
            },
        ))
    }

    fn listening_side(
        h: BytesHandshake,
        peer: u32,
    ) -> Result<(Self::Sender, Self::Receiver), OpenError> {
        Ok((
            sender(h.to_peer, peer)?,
            IpcChannelBytesReceiver {
                rx: h.from_peer,
                last: Vec::new(),
            },
        ))
    }
}

fn sender(tx: IpcBytesSender, peer: u32) -> Result<IpcChannelBytesSender, OpenError> {
    Ok(IpcChannelBytesSender {
        tx,
        watch: PeerWatch::new(peer)?,
        single_packet: crate::single_packet_limit(),
    })
}

impl_transport!(
    IpcChannelBytes,
    "servo ipc-channel 0.23 IpcBytesSender/IpcBytesReceiver: raw bytes over SOCK_SEQPACKET, \
     fragmented over a per-message socket pair above ~207 KiB"
);
