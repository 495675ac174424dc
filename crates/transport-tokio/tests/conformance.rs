//! The conformance suite, across two processes, for the four tokio variants.

conformance::suite!(tokio_uds, transport_tokio::TokioUds);
conformance::suite!(tokio_uds_mt, transport_tokio::TokioUdsMt);
conformance::suite!(tokio_pipe, transport_tokio::TokioPipe);
conformance::suite!(tokio_pipe_mt, transport_tokio::TokioPipeMt);
