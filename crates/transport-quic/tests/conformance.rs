//! The conformance suite, across two processes, for the QUIC backend.

conformance::suite!(quic, transport_quic::Quic);
