//! The conformance suite, across two processes, for the three ipc-channel
//! variants. No case is skipped: a send of a fragmented (>207 KiB) message to
//! a killed receiver, which ipc-channel alone would block forever, is ended by
//! the senders' peer watch (see the crate docs and `watch.rs`).

conformance::suite!(ipc_channel_bytes, transport_ipc_channel::IpcChannelBytes);
conformance::suite!(ipc_channel_typed, transport_ipc_channel::IpcChannelTyped);
conformance::suite!(ipc_channel_shmem, transport_ipc_channel::IpcChannelShmem);
