//! The project README's results excerpt, copied from results/README.md by
//! the tool so the figures the README shows are never typed by hand.

use std::path::Path;

use anyhow::{Context, Result};

const EXCERPT_BEGIN: &str = "<!-- results excerpt: written by cargo xtask bench-all -->";
const EXCERPT_END: &str = "<!-- end of results excerpt -->";

/// Copies the answers of results/README.md (everything before its
/// "## Details" map) into the project README between the excerpt markers,
/// headings demoted and links pointed into results/, so the figures the
/// project README shows are the tool's, never typed by hand.
pub(crate) fn update_readme_excerpt(root: &Path) -> Result<()> {
    let readme = root.join("README.md");
    let text = std::fs::read_to_string(&readme).context("reading README.md")?;
    let (Some(a), Some(b)) = (text.find(EXCERPT_BEGIN), text.find(EXCERPT_END)) else {
        return Ok(());
    };
    let results = std::fs::read_to_string(root.join("results/README.md"))
        .context("reading results/README.md")?;
    let answers = results.split("\n## Details").next().unwrap_or_default();
    let excerpt: String = answers
        .lines()
        .map(|l| {
            let l = if l.starts_with('#') {
                format!("##{l}")
            } else {
                l.to_owned()
            };
            l.replace("](details/", "](results/details/")
                .replace("](index.html", "](results/index.html")
        })
        .collect::<Vec<_>>()
        .join("\n");
    let new = format!(
        "{}{EXCERPT_BEGIN}\n{}\n{}",
        &text[..a],
        excerpt.trim(),
        &text[b..]
    );
    std::fs::write(&readme, new).context("writing README.md")
}
