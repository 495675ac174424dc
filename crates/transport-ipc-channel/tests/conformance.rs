//! The conformance suite, across two processes, for the three ipc-channel variants.
//!
//! Opt-out (see docs/reliability.md): ipc-channel sends a message larger than
//! one packet (about 207 KiB here) as fragments over a dedicated socket whose
//! receiving end it keeps open itself until `send` returns, so a send to a
//! receiver killed mid-message blocks forever. The shmem variant moves the
//! payload through shared memory and is not affected.

conformance::suite!(ipc_channel_bytes, transport_ipc_channel::IpcChannelBytes, skip = [
    killed_receiver_blocked_send => "ipc-channel blocks forever sending a fragmented (>207 KiB) message to a killed receiver",
    killed_receiver_blocked_send_listener => "ipc-channel blocks forever sending a fragmented (>207 KiB) message to a killed receiver",
]);
conformance::suite!(ipc_channel_typed, transport_ipc_channel::IpcChannelTyped, skip = [
    killed_receiver_blocked_send => "ipc-channel blocks forever sending a fragmented (>207 KiB) message to a killed receiver",
    killed_receiver_blocked_send_listener => "ipc-channel blocks forever sending a fragmented (>207 KiB) message to a killed receiver",
]);
conformance::suite!(ipc_channel_shmem, transport_ipc_channel::IpcChannelShmem);
