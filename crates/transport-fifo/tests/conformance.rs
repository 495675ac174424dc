//! The conformance suite, across two processes, for the named FIFO pair.

conformance::suite!(fifo, transport_fifo::Fifo);
