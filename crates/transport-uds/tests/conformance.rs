//! The conformance suite, across two processes, for the Unix stream socket.

conformance::suite!(uds, transport_uds::Uds);
