//! docs/ARCHITECTURE.md stays true: its code map names every crate of the
//! workspace (one row per crate, first column `crates/NAME`, or `xtask`) and
//! nothing that is not one; its harness module map names every module
//! `crates/harness/src/lib.rs` declares and nothing else; and it keeps its
//! entry points, invariants and role protocol.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const DOC: &str = "docs/ARCHITECTURE.md";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace root")
        .to_path_buf()
}

fn doc() -> String {
    let path = root().join(DOC);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The lines of the section that starts with the heading `title`, up to the
/// next heading of the same or a higher level.
fn section<'a>(doc: &'a str, title: &str) -> Vec<&'a str> {
    let mut lines = doc.lines().skip_while(|l| l.trim() != title);
    assert!(
        lines.next().is_some(),
        "{DOC} has no section `{title}`: keep it (the code map and module map are checked from it)"
    );
    lines.take_while(|l| !l.starts_with("## ")).collect()
}

/// The `backticked` names in the first column of a section's table rows.
fn first_column_names(lines: &[&str]) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in lines.iter().filter(|l| l.starts_with('|')) {
        let Some(cell) = line.split('|').nth(1) else {
            continue;
        };
        for (i, part) in cell.split('`').enumerate() {
            if i % 2 == 1 && !part.is_empty() {
                names.insert(part.to_owned());
            }
        }
    }
    names
}

/// Every crate of the workspace, as the code map names them: `crates/NAME`
/// for each directory of crates/ with a Cargo.toml, and `xtask`.
fn workspace_crates(root: &Path) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = std::fs::read_dir(root.join("crates"))
        .expect("read crates/")
        .flatten()
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .map(|e| format!("crates/{}", e.file_name().to_string_lossy()))
        .collect();
    out.insert("xtask".to_owned());
    out
}

/// The modules `lib.rs` declares (`mod name;` or `pub mod name;`, at the
/// start of a line: the crate's top level).
fn declared_modules(lib_rs: &str) -> BTreeSet<String> {
    lib_rs
        .lines()
        .filter_map(|l| {
            let l = l.strip_prefix("pub ").unwrap_or(l);
            let l = l.strip_prefix("pub(crate) ").unwrap_or(l);
            l.strip_prefix("mod ")?.strip_suffix(';').map(str::to_owned)
        })
        .collect()
}

/// The difference both ways, as a message telling exactly what to change.
fn mismatch(
    what: &str,
    table: &str,
    exist: &BTreeSet<String>,
    named: &BTreeSet<String>,
    row_example: &str,
) -> Option<String> {
    let missing: Vec<&String> = exist.difference(named).collect();
    let stale: Vec<&String> = named.difference(exist).collect();
    if missing.is_empty() && stale.is_empty() {
        return None;
    }
    let mut msg = String::new();
    if !missing.is_empty() {
        let list: Vec<String> = missing.iter().map(|n| format!("`{n}`")).collect();
        msg += &format!(
            "{DOC}'s {table} does not name these {what}: {}. Add a row for each, \
             e.g.:\n{}\n",
            list.join(", "),
            row_example.replace("NAME", missing[0])
        );
    }
    if !stale.is_empty() {
        let list: Vec<String> = stale.iter().map(|n| format!("`{n}`")).collect();
        msg += &format!(
            "{DOC}'s {table} names {what} that do not exist: {}. Remove or rename \
             their rows.\n",
            list.join(", ")
        );
    }
    Some(msg)
}

#[test]
fn the_code_map_names_every_crate_and_only_crates_that_exist() {
    let root = root();
    let doc = doc();
    let exist = workspace_crates(&root);
    assert!(
        exist.contains("crates/harness") && exist.contains("crates/transport"),
        "the crate walk found {exist:?}"
    );
    // The map also has rows for directories that are not crates
    // (baselines/python, results/): only crate-like names are compared.
    let named: BTreeSet<String> = first_column_names(&section(&doc, "## Code map"))
        .into_iter()
        .filter(|n| n.starts_with("crates/") || n == "xtask")
        .collect();
    if let Some(msg) = mismatch(
        "crates",
        "code map (## Code map)",
        &exist,
        &named,
        "| `NAME` | what it holds, its main modules |",
    ) {
        panic!("{msg}");
    }
}

#[test]
fn the_module_map_names_every_harness_module_and_only_those() {
    let root = root();
    let doc = doc();
    let lib = std::fs::read_to_string(root.join("crates/harness/src/lib.rs"))
        .expect("read crates/harness/src/lib.rs");
    let exist = declared_modules(&lib);
    assert!(
        exist.contains("bench") && exist.contains("cli"),
        "the module scan found {exist:?}"
    );
    // A module with submodules is written `name/`.
    let named: BTreeSet<String> = first_column_names(&section(&doc, "## Harness module map"))
        .into_iter()
        .map(|n| n.trim_end_matches('/').to_owned())
        .collect();
    if let Some(msg) = mismatch(
        "harness modules",
        "harness module map (## Harness module map)",
        &exist,
        &named,
        "| `NAME` | what it is for |",
    ) {
        panic!("{msg}");
    }
}

#[test]
fn the_entry_points_invariants_and_role_protocol_stay() {
    let doc = doc();
    for title in ["## Entry points", "## The role protocol", "## Invariants"] {
        let body = section(&doc, title);
        assert!(
            body.iter().filter(|l| !l.trim().is_empty()).count() >= 5,
            "{DOC}'s section `{title}` is (nearly) empty"
        );
    }
}

#[test]
fn a_mismatch_names_what_to_add_and_what_to_remove() {
    let exist: BTreeSet<String> = ["crates/a", "crates/b"].map(str::to_owned).into();
    let named: BTreeSet<String> = ["crates/a", "crates/c"].map(str::to_owned).into();
    let msg = mismatch("crates", "code map", &exist, &named, "| `NAME` | x |").expect("a mismatch");
    assert!(
        msg.contains("does not name these crates: `crates/b`"),
        "{msg}"
    );
    assert!(msg.contains("| `crates/b` | x |"), "{msg}");
    assert!(msg.contains("do not exist: `crates/c`"), "{msg}");
    assert_eq!(mismatch("crates", "code map", &exist, &exist, ""), None);
    let lib = "//! doc\npub mod bench;\nmod private;\npub use x::y;\n    mod inner;\n";
    assert_eq!(
        declared_modules(lib),
        ["bench", "private"].map(str::to_owned).into()
    );
    let table = ["| path | what |", "|---|---|", "| `a`, `b/` | `not` this |"];
    assert_eq!(
        first_column_names(&table),
        ["a", "b/"].map(str::to_owned).into()
    );
}
