//! Architecture invariants that code review alone would let slip: the
//! registry (this crate) is the only place that names concrete backends, so
//! the report crate's non-test code must not spell any backend's name.

mod support;

use std::path::Path;

use support::rust_sources;

#[test]
fn only_the_registry_names_backends() {
    let report = Path::new(env!("CARGO_MANIFEST_DIR")).join("../report/src");
    let files = rust_sources(&report);
    assert!(
        !files.is_empty(),
        "no report sources under {}",
        report.display()
    );
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read source");
        // Unit tests may build cells of any name: only shipped code counts.
        let shipped = text.split("#[cfg(test)]").next().unwrap_or_default();
        for b in harness::registry::BACKENDS {
            let quoted = format!("\"{}\"", b.name);
            if shipped.contains(&quoted) {
                found.push(format!("{} names {quoted}", file.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "backend names outside the registry:\n{}",
        found.join("\n")
    );
}
