//! No source file over 600 lines of code: a file that long mixes ideas and
//! should be split by idea (issue 21). Code lines are counted as `tokei`
//! would with tests split off: blank and comment lines (docstrings too, in
//! Python) do not count, nor do test and loom modules or files. Checked:
//! `crates/*/src`, `xtask/src` and `baselines/python` (its tests excepted).
//!
//! `cargo test -p xtask --test file_size -- --nocapture` lists the largest.

use std::path::{Path, PathBuf};

/// The most code lines a source file may have.
const LIMIT: usize = 600;

/// How many of the largest files the listing shows.
const LISTED: usize = 15;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace root")
        .to_path_buf()
}

/// Whether a file (by path relative to the root) holds tests only: a test
/// or loom module in its own file, or a Python test.
fn is_test_file(rel: &Path) -> bool {
    let name = rel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.split('.').next().unwrap_or_default();
    rel.components().any(|c| c.as_os_str() == "tests")
        || stem == "tests"
        || stem.ends_with("_tests")
        || stem.starts_with("test_")
        || stem.starts_with("loom")
}

/// Files with extension `ext` under `dir`, recursively, skipping virtual
/// environments and caches.
fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if !name.to_string_lossy().starts_with('.') && name != "__pycache__" {
                files(&path, ext, out);
            }
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
}

/// Every file the limit applies to, relative to the root.
fn checked_files(root: &Path) -> Vec<PathBuf> {
    let mut all = Vec::new();
    let crates = std::fs::read_dir(root.join("crates")).expect("read crates/");
    for krate in crates.flatten() {
        files(&krate.path().join("src"), "rs", &mut all);
    }
    files(&root.join("xtask/src"), "rs", &mut all);
    files(&root.join("baselines/python"), "py", &mut all);
    let mut rel: Vec<PathBuf> = all
        .iter()
        .filter_map(|p| p.strip_prefix(root).ok().map(Path::to_path_buf))
        .filter(|p| !is_test_file(p))
        .collect();
    rel.sort();
    rel
}

/// Whether a Rust attribute line gates what follows on tests or loom.
fn is_test_cfg(line: &str) -> bool {
    let l = line.trim();
    l.starts_with("#[cfg(") && (l.contains("test") || l.contains("loom")) && !l.contains("not(")
}

/// Code lines of a Rust file: not blank, not a comment, not inside a test or
/// loom module.
fn rust_code_lines(text: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    let mut count = 0;
    let mut in_block_comment = false;
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i].trim();
        i += 1;
        if in_block_comment {
            in_block_comment = !l.contains("*/");
            continue;
        }
        if l.starts_with("/*") {
            in_block_comment = !l.contains("*/");
            continue;
        }
        if is_test_cfg(l) {
            // `#[cfg(test)] mod name { ... }`: skip to the closing brace.
            let mut j = i;
            while j < lines.len() && lines[j].trim().starts_with("#[") {
                j += 1;
            }
            let item = lines.get(j).map(|s| s.trim()).unwrap_or_default();
            let is_mod = item.starts_with("mod ") || item.starts_with("pub mod ");
            if is_mod && item.ends_with('{') {
                let mut depth = 0i64;
                for line in &lines[j..] {
                    depth += brace_balance(line);
                    j += 1;
                    if depth <= 0 {
                        break;
                    }
                }
                i = j;
                continue;
            }
            if is_mod {
                // `#[cfg(test)] mod name;`: its file is a test file.
                i = j + 1;
                continue;
            }
        }
        if !l.is_empty() && !l.starts_with("//") {
            count += 1;
        }
    }
    count
}

/// Opening minus closing braces on a line, outside string and char literals
/// and line comments (good enough for test modules' brace matching).
fn brace_balance(line: &str) -> i64 {
    let mut depth = 0;
    let mut chars = line.chars().peekable();
    let mut in_str = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' if in_str => {
                chars.next();
            }
            '"' => in_str = !in_str,
            '\'' if !in_str => {
                // A char literal such as '{' or '\''; a lifetime has no
                // closing quote two or three characters on.
                let rest: String = chars.clone().take(3).collect();
                if rest.chars().nth(1) == Some('\'') {
                    chars.nth(1);
                } else if rest.starts_with('\\') && rest.chars().nth(2) == Some('\'') {
                    chars.nth(2);
                }
            }
            '/' if !in_str && chars.peek() == Some(&'/') => break,
            '{' if !in_str => depth += 1,
            '}' if !in_str => depth -= 1,
            _ => {}
        }
    }
    depth
}

/// Code lines of a Python file: not blank, not a comment, not a docstring
/// (a string literal standing alone, as tokei counts them).
fn python_code_lines(text: &str) -> usize {
    let mut count = 0;
    let mut in_doc: Option<&str> = None;
    for line in text.lines() {
        let l = line.trim();
        if let Some(q) = in_doc {
            if l.contains(q) {
                in_doc = None;
            }
            continue;
        }
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let quote = ["\"\"\"", "'''"].into_iter().find(|q| {
            let body = l.trim_start_matches(['r', 'b', 'u', 'R', 'B', 'U']);
            body.starts_with(q)
        });
        if let Some(q) = quote {
            let body = l.trim_start_matches(['r', 'b', 'u', 'R', 'B', 'U']);
            if !body[q.len()..].contains(q) {
                in_doc = Some(q);
            }
            continue;
        }
        count += 1;
    }
    count
}

fn code_lines(path: &Path) -> usize {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    if path.extension().is_some_and(|e| e == "py") {
        python_code_lines(&text)
    } else {
        rust_code_lines(&text)
    }
}

#[test]
fn no_source_file_is_over_the_limit() {
    let root = root();
    let files = checked_files(&root);
    assert!(
        files.len() > 50,
        "found only {} source files under {}: is the walk broken?",
        files.len(),
        root.display()
    );
    let mut sized: Vec<(usize, &PathBuf)> = files
        .iter()
        .map(|f| (code_lines(&root.join(f)), f))
        .collect();
    sized.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    println!("largest files by code lines (limit {LIMIT}):");
    for (n, f) in sized.iter().take(LISTED) {
        println!("{n:>6}  {}", f.display());
    }
    let over: Vec<String> = sized
        .iter()
        .filter(|(n, _)| *n > LIMIT)
        .map(|(n, f)| format!("{}: {n} lines of code", f.display()))
        .collect();
    assert!(
        over.is_empty(),
        "{} source file(s) over {LIMIT} lines of code (blank, comment and test lines \
         not counted); split each by idea:\n{}",
        over.len(),
        over.join("\n")
    );
}

#[test]
fn rust_counting_leaves_out_comments_blanks_and_test_modules() {
    let text = "//! Module doc.\n\
                use std::fmt;\n\
                \n\
                /// Doc.\n\
                fn f() -> &'static str {\n\
                    /* a block\n\
                       comment */\n\
                    \"{\" // an open brace in a string\n\
                }\n\
                #[cfg(test)]\n\
                mod tests {\n\
                    #[test]\n\
                    fn t() { let c = '}'; assert_eq!(c, '}'); }\n\
                }\n\
                fn g() {}\n\
                #[cfg(test)]\n\
                mod loom_tests;\n";
    // use, fn f {, the string line, }, fn g.
    assert_eq!(rust_code_lines(text), 5);
}

#[test]
fn python_counting_leaves_out_comments_blanks_and_docstrings() {
    let text = "\"\"\"Module doc\n\
                over two lines.\"\"\"\n\
                \n\
                import os  # a comment after code counts\n\
                # a comment\n\
                def f():\n\
                    \"\"\"One line.\"\"\"\n\
                    x = \"\"\"a string that is code\"\"\"\n\
                    return x\n";
    assert_eq!(python_code_lines(text), 4);
}

#[test]
fn test_files_are_left_out() {
    for test in [
        "crates/transport-shm/src/ring/tests.rs",
        "crates/transport-shm/src/ring/loom_tests.rs",
        "crates/x/src/tests/helpers.rs",
        "baselines/python/test_mpqueue_bench.py",
    ] {
        assert!(is_test_file(Path::new(test)), "{test}");
    }
    for code in [
        "crates/harness/src/bench/run.rs",
        "baselines/python/mpqueue_bench.py",
        "crates/report/src/contest.rs",
    ] {
        assert!(!is_test_file(Path::new(code)), "{code}");
    }
}
