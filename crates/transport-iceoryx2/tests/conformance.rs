//! The conformance suite, across two processes, for the iceoryx2 backend.

conformance::suite!(iceoryx2, transport_iceoryx2::Iceoryx2);
conformance::suite!(iceoryx2_block, transport_iceoryx2::Iceoryx2Block);
