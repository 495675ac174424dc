//! The conformance suite, across two processes, for the three ipc-channel variants.

conformance::suite!(ipc_channel_bytes, transport_ipc_channel::IpcChannelBytes);
conformance::suite!(ipc_channel_typed, transport_ipc_channel::IpcChannelTyped);
conformance::suite!(ipc_channel_shmem, transport_ipc_channel::IpcChannelShmem);
