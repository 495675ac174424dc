//! The conformance suite, across two processes, for UDP over loopback.
conformance::suite!(udp, transport_udp::Udp);
