//! The conformance suite, across two processes, for the `SOCK_SEQPACKET` socket.

conformance::suite!(uds_seqpacket, transport_seqpacket::SeqPacket);
