//! The transports of a run as the registry declared them: which backend each
//! is a variant of, how it waits, how large a message it takes.

use crate::format::fmt_bytes;
use crate::sections::Doc;
use crate::table::{Align, Table};
use results::schema::Results;

/// The transports table; nothing for a file that does not record them.
pub fn render(d: &mut Doc, r: &Results) {
    if r.transports.is_empty() {
        return;
    }
    d.h(2, "Transports");
    d.para(
        "As the registry declares them. Variants of one backend share its code and differ \
         in a knob; an answer row names the backend when only its own variants tie with \
         the fastest.",
    );
    let mut t = Table::new([
        ("Transport", Align::Left),
        ("Backend", Align::Left),
        ("Wait", Align::Left),
        ("Largest message", Align::Right),
        ("Zero-copy receive", Align::Left),
        ("What it is", Align::Left),
    ]);
    for x in &r.transports {
        t.row([
            x.name.clone(),
            x.backend.clone(),
            x.wait.to_string(),
            fmt_bytes(x.max_message_size),
            if x.zero_copy_recv { "yes" } else { "no" }.to_owned(),
            x.description.clone(),
        ]);
    }
    d.table(&t);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sections::testing::results;
    use results::TransportInfo;

    #[test]
    fn lists_each_transport_with_its_backend() {
        let mut r = results(Vec::new());
        let mut d = Doc::default();
        render(&mut d, &r);
        assert!(d.out.is_empty(), "no record, no table");
        r.transports = vec![TransportInfo {
            name: "shm-spin".into(),
            backend: "shm".into(),
            description: "ring".into(),
            wait: results::WaitStrategy::Spin,
            max_message_size: 4_000_000,
            zero_copy_recv: false,
            max_loan: None,
        }];
        render(&mut d, &r);
        let row = d
            .out
            .lines()
            .find(|l| l.contains("shm-spin"))
            .expect("a row");
        for want in ["| shm ", "spin", "4 MB", "| no ", "ring"] {
            assert!(row.contains(want), "{want:?} in {row}");
        }
    }
}
