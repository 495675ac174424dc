//! The conformance suite, across two processes, for TCP over loopback.

conformance::suite!(tcp, transport_tcp::Tcp);
