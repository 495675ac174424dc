//! The conformance suite, across two processes, for both pipe variants.

conformance::suite!(pipe, transport_pipe::PipeDefault);
conformance::suite!(pipe_1m, transport_pipe::Pipe1M);
