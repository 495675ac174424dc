//! Reading a backend's endpoint back into its fields: `<scheme>:<field>:…`,
//! with an optional `#<token>` after the public part. Each backend names its
//! fields and states its valid form once; a field that is missing or wrong
//! is refused with an error naming the field, its value and that form.

use std::fmt;
use std::str::FromStr;

use crate::{Endpoint, OpenError};

/// Why an endpoint was refused: which field, its value, the valid form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    /// The endpoint as given, a token replaced by `#…` (it is a secret).
    pub endpoint: String,
    /// The field that is wrong (`scheme`, `pid`, `address`, `token`).
    pub field: &'static str,
    /// Its value; `None` when the endpoint ends before it.
    pub value: Option<String>,
    /// The valid form, such as `mq:<pid>:/<queue>[#<token>]`.
    pub form: &'static str,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed endpoint {:?}: ", self.endpoint)?;
        match &self.value {
            Some(v) => write!(f, "bad {} {v:?}", self.field)?,
            None => write!(f, "no {}", self.field)?,
        }
        write!(f, "; the valid form is {}", self.form)
    }
}

impl std::error::Error for Malformed {}

/// An endpoint being read field by field, front to back.
#[derive(Debug)]
pub struct Fields<'a> {
    endpoint: &'a str,
    form: &'static str,
    /// What is left of the public part; `None` once the last field is read.
    rest: Option<&'a str>,
    token: Option<&'a str>,
    /// Whether what follows a `#` is a token, kept out of errors.
    has_token: bool,
}

impl<'a> Fields<'a> {
    /// Starts reading `endpoint`, whose valid form is `form`.
    pub fn read(endpoint: &'a Endpoint, form: &'static str) -> Self {
        Self {
            endpoint: &endpoint.0,
            form,
            rest: Some(&endpoint.0),
            token: None,
            has_token: false,
        }
    }

    /// Starts reading an endpoint that may carry a `#<token>` of exactly
    /// `token_len` characters after its public part ([`Endpoint::public`]).
    pub fn read_with_token(
        endpoint: &'a Endpoint,
        form: &'static str,
        token_len: usize,
    ) -> Result<Self, OpenError> {
        let mut fields = Self::read(endpoint, form);
        fields.has_token = true;
        if let Some((public, token)) = endpoint.0.split_once('#') {
            if token.len() != token_len {
                // The token's value is a secret: its length is named instead.
                return Err(fields.bad("token", &format!("of {} characters", token.len())));
            }
            fields.rest = Some(public);
            fields.token = Some(token);
        }
        Ok(fields)
    }

    /// The token, if the endpoint carries one.
    pub fn token(&self) -> Option<&'a str> {
        self.token
    }

    /// Reads the scheme (the first field) and checks it is `scheme`.
    pub fn scheme(&mut self, scheme: &str) -> Result<(), OpenError> {
        let got = self.next("scheme")?;
        if got == scheme {
            Ok(())
        } else {
            Err(self.bad("scheme", got))
        }
    }

    /// The next `:`-separated field, named `field` in errors; empty is
    /// refused.
    pub fn next(&mut self, field: &'static str) -> Result<&'a str, OpenError> {
        let rest = self.rest.ok_or_else(|| self.missing(field))?;
        let (value, left) = match rest.split_once(':') {
            Some((value, left)) => (value, Some(left)),
            None => (rest, None),
        };
        self.rest = left;
        if value.is_empty() {
            return Err(self.missing(field));
        }
        Ok(value)
    }

    /// Everything left, `:` included, as the last field `field`; empty is
    /// refused.
    pub fn rest(&mut self, field: &'static str) -> Result<&'a str, OpenError> {
        match self.rest.take() {
            Some(rest) if !rest.is_empty() => Ok(rest),
            _ => Err(self.missing(field)),
        }
    }

    /// Everything left as the last field `field`, which starts with `lead`
    /// (the `@` of an abstract socket name, the `/` of a POSIX name),
    /// returned without it; empty is refused.
    pub fn rest_after(&mut self, field: &'static str, lead: char) -> Result<&'a str, OpenError> {
        let value = self.rest(field)?;
        match value.strip_prefix(lead) {
            Some(name) if !name.is_empty() => Ok(name),
            _ => Err(self.bad(field, value)),
        }
    }

    /// The next field parsed as a `T`.
    pub fn number<T: FromStr>(&mut self, field: &'static str) -> Result<T, OpenError> {
        let value = self.next(field)?;
        value.parse().map_err(|_| self.bad(field, value))
    }

    /// The next field as a process id (1 to `i32::MAX`), named `pid`.
    pub fn pid(&mut self) -> Result<u32, OpenError> {
        let value = self.next("pid")?;
        value
            .parse::<u32>()
            .ok()
            .filter(|&p| p > 0 && i32::try_from(p).is_ok())
            .ok_or_else(|| self.bad("pid", value))
    }

    /// Checks that nothing is left after the fields read.
    pub fn end(&self) -> Result<(), OpenError> {
        match self.rest {
            None => Ok(()),
            Some(rest) => Err(self.bad("trailing fields", rest)),
        }
    }

    /// `value` of `field` is not valid (for checks of the backend's own).
    pub fn bad(&self, field: &'static str, value: &str) -> OpenError {
        self.error(field, Some(value.to_owned()))
    }

    /// `value` of `field` unless `ok` is false, then the error naming it.
    pub fn check<'v>(
        &self,
        field: &'static str,
        value: &'v str,
        ok: bool,
    ) -> Result<&'v str, OpenError> {
        if ok {
            Ok(value)
        } else {
            Err(self.bad(field, value))
        }
    }

    /// `field` is missing (for fields the backend splits off itself).
    pub fn missing(&self, field: &'static str) -> OpenError {
        self.error(field, None)
    }

    fn error(&self, field: &'static str, value: Option<String>) -> OpenError {
        let endpoint = match self.endpoint.split_once('#') {
            Some((public, _)) if self.has_token => format!("{public}#…"),
            _ => self.endpoint.to_owned(),
        };
        OpenError::BadEndpoint(Malformed {
            endpoint,
            field,
            value,
            form: self.form,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: &str = "demo:<pid>:<fd>:<name>[#<token>]";

    fn endpoint(s: &str) -> Endpoint {
        Endpoint(s.to_owned())
    }

    /// The refusal `r` carries, as text.
    /// `e` read as a `demo` endpoint, its scheme taken.
    fn demo(e: &Endpoint) -> Fields<'_> {
        let mut f = Fields::read(e, FORM);
        f.scheme("demo").expect("scheme");
        f
    }

    fn refusal<T: fmt::Debug>(r: Result<T, OpenError>) -> String {
        match r {
            Err(e @ OpenError::BadEndpoint(_)) => e.to_string(),
            other => panic!("expected a malformed endpoint, got {other:?}"),
        }
    }

    #[test]
    fn fields_are_read_in_order_and_the_last_keeps_its_colons() {
        let e = endpoint("demo:42:7:a:b#tok");
        let mut f = Fields::read_with_token(&e, FORM, 3).expect("token of 3");
        f.scheme("demo").expect("scheme");
        assert_eq!(f.pid().expect("pid"), 42);
        assert_eq!(f.number::<u32>("fd").expect("fd"), 7);
        assert_eq!(f.rest("name").expect("name"), "a:b");
        assert!(refusal(f.rest("more")).contains("no more;"));
        assert_eq!(f.token(), Some("tok"));
        f.end().expect("nothing left");
        let e = endpoint("demo:1:2");
        let mut f = demo(&e);
        f.pid().expect("pid");
        assert_eq!(f.token(), None);
        assert_eq!(f.next("fd").expect("fd"), "2");
        f.end().expect("nothing left");
    }

    #[test]
    fn each_refusal_names_the_field_its_value_and_the_valid_form() {
        let e = endpoint("nonsense:\u{0}:-1");
        let msg = refusal(Fields::read(&e, FORM).scheme("demo"));
        assert!(
            msg.contains("bad scheme \"nonsense\"") && msg.contains(FORM),
            "{msg}"
        );
        let e = endpoint("demo:0:x");
        let mut f = demo(&e);
        let msg = refusal(f.pid());
        assert!(msg.contains("bad pid \"0\""), "{msg}");
        assert!(msg.contains("\"demo:0:x\""), "{msg}");
        let e = endpoint("demo:4294967295");
        let mut f = demo(&e);
        assert!(refusal(f.pid()).contains("bad pid \"4294967295\""));
        let e = endpoint("demo:5");
        let mut f = demo(&e);
        f.pid().expect("pid");
        let msg = refusal(f.number::<u32>("fd"));
        assert!(msg.contains("no fd;"), "{msg}");
        let e = endpoint("demo:5:x:n:extra");
        let mut f = demo(&e);
        f.pid().expect("pid");
        assert!(refusal(f.number::<u32>("fd")).contains("bad fd \"x\""));
        f.next("name").expect("name");
        assert!(refusal(f.end()).contains("bad trailing fields \"extra\""));
        // A token of the wrong length is refused without echoing it.
        let e = endpoint("demo:5#secret");
        let msg = refusal(Fields::read_with_token(&e, FORM, 32));
        assert!(msg.contains("bad token \"of 6 characters\""), "{msg}");
        assert!(
            msg.contains("\"demo:5#…\"") && !msg.contains("secret"),
            "{msg}"
        );
        // An empty field is a missing one.
        let e = endpoint("demo::x");
        let mut f = demo(&e);
        assert!(refusal(f.pid()).contains("no pid;"));
        let e = endpoint("demo:");
        let mut f = demo(&e);
        assert!(refusal(f.rest("name")).contains("no name;"));
        for (e, want) in [
            ("demo:@x", Ok("x")),
            ("demo:x", Err("bad name \"x\"")),
            ("demo:@", Err("bad name \"@\"")),
        ] {
            let e = endpoint(e);
            let mut f = Fields::read(&e, FORM);
            f.scheme("demo").expect("scheme");
            match (f.rest_after("name", '@'), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want),
                (got, Err(want)) => assert!(refusal(got).contains(want)),
                (got, want) => panic!("{got:?} {want:?}"),
            }
        }
    }
}
