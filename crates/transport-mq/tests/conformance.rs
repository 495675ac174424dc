//! The conformance suite, across two processes, for POSIX message queues.
conformance::suite!(mq, transport_mq::Mq);
