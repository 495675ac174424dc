//! The conformance suite, across two processes, for Unix datagram sockets.
conformance::suite!(unix_dgram, transport_unix_dgram::UnixDgram);
