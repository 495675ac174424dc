//! The endpoint string, `quic:ADDR:PORT/CERT_HEX#TOKEN`: the listener's
//! address, its self-signed certificate (the only one the connecting side
//! trusts) and, after the `#`, the secret token that admits the peer.

use std::net::SocketAddr;

use transport::endpoint::Fields;
use transport::peer::TOKEN_LEN;
use transport::{Endpoint, OpenError};

pub(crate) const PREFIX: &str = "quic:";

/// The valid form, for errors.
const FORM: &str = "quic:<ip>:<port>/<certificate, hex>[#<token>]";

/// The endpoint of a listener at `addr` with certificate `cert` and `token`.
pub(crate) fn format(addr: SocketAddr, cert: &[u8], token: &[u8; TOKEN_LEN]) -> Endpoint {
    Endpoint(format!(
        "{PREFIX}{addr}/{}#{}",
        hex(cert),
        String::from_utf8_lossy(token)
    ))
}

/// The address, the certificate and, if the endpoint has one, the token.
pub(crate) fn parse(endpoint: &Endpoint) -> Result<(SocketAddr, Vec<u8>, Option<&str>), OpenError> {
    let mut fields = Fields::read_with_token(endpoint, FORM, TOKEN_LEN)?;
    fields.scheme("quic")?;
    let public = fields.rest("address")?;
    let (addr_text, cert_text) = public
        .split_once('/')
        .ok_or_else(|| fields.missing("certificate"))?;
    let addr = addr_text
        .parse::<SocketAddr>()
        .ok()
        .filter(|a| a.port() != 0 && !a.ip().is_unspecified())
        .ok_or_else(|| fields.bad("address", addr_text))?;
    let cert = unhex(cert_text)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| fields.bad("certificate", cert_text))?;
    Ok((addr, cert, fields.token()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_round_trip_and_garbage_is_refused() {
        let token = *b"0123456789abcdef0123456789abcdef";
        let addr = SocketAddr::from(([127, 0, 0, 1], 4242));
        let ok = format(addr, &[0x30, 0x82, 0xab], &token);
        assert_eq!(
            ok.0,
            "quic:127.0.0.1:4242/3082ab#0123456789abcdef0123456789abcdef"
        );
        let (a, cert, t) = parse(&ok).expect("valid");
        assert_eq!(a, addr);
        assert_eq!(cert, [0x30, 0x82, 0xab]);
        assert_eq!(t, Some("0123456789abcdef0123456789abcdef"));
        // The public part alone (what a stranger sees) parses without a token.
        let public = Endpoint(ok.public().to_owned());
        assert_eq!(parse(&public).expect("public part").2, None);
        for bad in [
            "quic:127.0.0.1:4242",
            "quic:127.0.0.1:0/30",
            "quic:0.0.0.0:1/30",
            "quic:127.0.0.1:1/3",
            "quic:127.0.0.1:1/zz",
            "quic:127.0.0.1:1/",
            "tcp:127.0.0.1:1",
            "quic:127.0.0.1:1/30#short",
        ] {
            assert!(parse(&Endpoint(bad.into())).is_err(), "{bad}");
        }
    }
}
