//! The conformance suite, across two processes, for interprocess's local sockets.

conformance::suite!(interprocess, transport_interprocess::Interprocess);
