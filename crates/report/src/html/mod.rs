//! results/index.html: one self-contained page (no network, no external
//! scripts; it opens from the file system) with the README's answers as
//! sortable tables and the figures of [`figures`] drawn inline by [`chart`].

pub mod chart;
pub mod figures;
pub mod heatmap;

use crate::format::{MISSING, fmt_bytes, fmt_multiple, fmt_percent};
use crate::readme::{Answers, RenderOptions, collect_answers, detail_pages};
use crate::sections::Python;
use crate::sections::matrix::{Show, table_unit};
use chart::{Figure, XKind, YKind};
use results::index::Index;
use results::schema::Results;

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The little Markdown the answers use (`**bold**`, `` `code` ``,
/// `[text](link)`), as HTML; everything else escaped.
pub fn inline(md: &str) -> String {
    let s = esc(md);
    let mut out = String::new();
    let mut rest = s.as_str();
    let (mut bold, mut code) = (false, false);
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("**") {
            out.push_str(if bold { "</b>" } else { "<b>" });
            bold = !bold;
            rest = &rest[2..];
        } else if c == '`' {
            out.push_str(if code { "</code>" } else { "<code>" });
            code = !code;
            rest = &rest[1..];
        } else if c == '['
            && let Some(close) = rest.find("](")
            && let Some(end) = rest[close..].find(')')
        {
            let text = &rest[1..close];
            let href = &rest[close + 2..close + end];
            // Links to Markdown pages open as files next to this page.
            out.push_str(&format!(r#"<a href="{href}">{text}</a>"#));
            rest = &rest[close + end + 1..];
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    if bold {
        out.push_str("</b>");
    }
    if code {
        out.push_str("</code>");
    }
    out
}

/// A sortable table: header cells and rows of (text, sort value).
fn table(header: &[String], rows: &[Vec<(String, Option<f64>)>]) -> String {
    let mut out = String::from(r#"<table class="sortable"><thead><tr>"#);
    for h in header {
        out.push_str(&format!("<th>{}</th>", inline(h)));
    }
    out.push_str("</tr></thead><tbody>");
    for r in rows {
        out.push_str("<tr>");
        for (text, v) in r {
            match v {
                Some(v) => out.push_str(&format!(r#"<td data-v="{v}">{}</td>"#, inline(text))),
                None => out.push_str(&format!("<td>{}</td>", inline(text))),
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>\n");
    out
}

fn text_row(cells: &[&str]) -> Vec<(String, Option<f64>)> {
    cells.iter().map(|c| ((*c).to_owned(), None)).collect()
}

fn answers_html(a: &Answers) -> String {
    let mut out = String::new();
    for q in &a.questions {
        out.push_str(&format!(
            "<h2>{}</h2>\n<p>{}</p>\n",
            esc(&q.question),
            inline(&q.lead)
        ));
        if q.rows.is_empty() {
            continue;
        }
        // The Python column only where Python ran one of the cases.
        let with_py = q.rows.iter().any(|r| r.vs_python != MISSING);
        // The floor column only where the question has floors (hand-over).
        let with_floor = q.rows.iter().any(|r| r.floor.is_some());
        let mut header: Vec<String> = ["Case", "Winner", &q.figure_header]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        if with_floor {
            header.push(crate::sections::answers::FLOOR_HEADER.to_owned());
        }
        header.push("Verdict".to_owned());
        if with_py {
            header.push("vs mp.Queue".to_owned());
        }
        let rows: Vec<_> = q
            .rows
            .iter()
            .map(|r| {
                let mut row = text_row(&[&r.case, &r.winner, &r.figure]);
                if with_floor {
                    row.push((r.floor.clone().unwrap_or_else(|| MISSING.to_owned()), None));
                }
                row.push((r.verdict.clone(), None));
                if with_py {
                    row.push((r.vs_python.clone(), None));
                }
                row
            })
            .collect();
        out.push_str(&table(&header, &rows));
    }
    out.push_str("<h2>What each transport costs over the machine's floor</h2>\n");
    if a.floors.is_empty() {
        out.push_str("<p>This run has no floors to set transports against.</p>\n");
    } else {
        let header: Vec<String> = [
            "Transport",
            "RTT ÷ cache line",
            "RTT ÷ bare pipe",
            "stream ÷ memcpy",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let cell = |v: Option<f64>, f: fn(f64) -> String| (v.map_or(MISSING.to_owned(), f), v);
        let rows: Vec<_> = a
            .floors
            .iter()
            .map(|r| {
                vec![
                    (r.transport.clone(), None),
                    cell(r.over_cacheline, fmt_multiple),
                    cell(r.over_pipe, fmt_multiple),
                    cell(r.of_memcpy, fmt_percent),
                ]
            })
            .collect();
        out.push_str(&table(&header, &rows));
    }
    out
}

/// The numbers behind a size figure, as a sortable table in one unit.
fn figure_table(f: &Figure) -> String {
    if f.x != XKind::Size {
        return String::new();
    }
    let mut sizes: Vec<u64> = f
        .panels
        .iter()
        .flat_map(|p| &p.series)
        .flat_map(|s| &s.points)
        .map(|p| p.x as u64)
        .collect();
    sizes.sort_unstable();
    sizes.dedup();
    let mut seen: Vec<&str> = Vec::new();
    let series: Vec<_> = f
        .panels
        .iter()
        .flat_map(|p| &p.series)
        .filter(|s| {
            let new = !seen.contains(&s.name.as_str());
            seen.push(&s.name);
            new
        })
        .collect();
    let all: Vec<f64> = series.iter().flat_map(|s| &s.points).map(|p| p.y).collect();
    let show = match f.y {
        YKind::Time => Show::Time,
        YKind::Rate => Show::Bytes,
        YKind::PerSecond => Show::Count("tasks"),
    };
    let (label, fmt) = table_unit(show, &all);
    let mut header = vec![format!("Transport ({label})")];
    header.extend(sizes.iter().map(|&s| fmt_bytes(s)));
    let rows: Vec<_> = series
        .iter()
        .map(|s| {
            let mut row = vec![(s.name.clone(), None)];
            for &size in &sizes {
                row.push(match s.points.iter().find(|p| p.x as u64 == size) {
                    Some(p) => (
                        format!(
                            "{}{}",
                            fmt(p.y),
                            p.mark.map(|m| format!(" {m}")).unwrap_or_default()
                        ),
                        Some(p.y),
                    ),
                    None => (MISSING.to_owned(), None),
                });
            }
            row
        })
        .collect();
    format!(
        "<details><summary>The numbers (sortable; click a column)</summary>\n{}</details>\n",
        table(&header, &rows)
    )
}

const STYLE: &str = "body{font-family:sans-serif;max-width:1240px;margin:1em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:.5em 0 1em}th,td{border:1px solid #ccc;padding:2px 8px;text-align:right}\
td,th{text-align:left}td[data-v]{text-align:right}th{background:#f3f3f3;cursor:pointer}\
th.asc::after{content:' ▲'}th.desc::after{content:' ▼'}.smoke{background:#fff3cd;padding:.5em;border:1px solid #e0c060}\
figure{margin:1em 0}figcaption{color:#444;max-width:1200px}svg.plot{max-width:100%;height:auto}\
#js-errors{color:#b00}";

/// Sorting on header click (numbers by `data-v`, else text), and a
/// self-check the browser test reads: JavaScript errors land in
/// `#js-errors`, and `body[data-plots]` counts the plots that drew lines.
const SCRIPT: &str = r#"
window.addEventListener('error', function (e) {
  var el = document.getElementById('js-errors');
  el.textContent += 'error: ' + e.message + '\n';
});
document.querySelectorAll('table.sortable th').forEach(function (th, col) {
  th.addEventListener('click', function () {
    var tbody = th.closest('table').tBodies[0];
    var asc = !th.classList.contains('asc');
    th.parentNode.querySelectorAll('th').forEach(function (h) { h.classList.remove('asc', 'desc'); });
    th.classList.add(asc ? 'asc' : 'desc');
    var rows = Array.prototype.slice.call(tbody.rows);
    var key = function (r) {
      var c = r.cells[th.cellIndex];
      if (!c) return '';
      var v = c.getAttribute('data-v');
      return v === null ? c.textContent : parseFloat(v);
    };
    rows.sort(function (a, b) {
      var x = key(a), y = key(b);
      var r = (typeof x === 'number' && typeof y === 'number') ? x - y
        : (typeof x === 'number') ? -1 : (typeof y === 'number') ? 1 : String(x).localeCompare(String(y));
      return asc ? r : -r;
    });
    rows.forEach(function (r) { tbody.appendChild(r); });
  });
});
var drawn = 0;
document.querySelectorAll('svg.plot').forEach(function (s) {
  if (s.querySelectorAll('path.series').length > 0 && s.getBBox().width > 0) drawn++;
});
document.body.setAttribute('data-plots', String(drawn));
"#;

/// results/index.html.
pub fn render_html(results: &Results, opts: &RenderOptions<'_>) -> String {
    let py = opts.python.map(Python::new);
    let a = collect_answers(results, py.as_ref());
    let idx = Index::new(results);
    let figs = figures::figures(&idx, py.as_ref());
    let mut body = String::new();
    if let Some(s) = &a.smoke {
        body.push_str(&format!(r#"<p class="smoke">{}</p>"#, inline(s)));
    }
    body.push_str("<h1>ipcbench results</h1>\n");
    body.push_str(&format!("<p>{}</p>\n<ul>", inline(&a.machine)));
    for c in &a.caveats {
        body.push_str(&format!("<li>{}</li>", inline(c)));
    }
    body.push_str("</ul>\n");
    body.push_str(&answers_html(&a));
    body.push_str("<h2>Plots</h2>\n");
    if figs.is_empty() {
        body.push_str("<p>This run has nothing to plot.</p>\n");
    }
    for f in &figs {
        if let Some(svg) = chart::svg(f) {
            body.push_str(&format!(
                "<figure><h3>{}</h3>{svg}<figcaption>{}</figcaption>{}</figure>\n",
                esc(&f.title),
                inline(&f.caption),
                figure_table(f)
            ));
        }
    }
    let map = results
        .floors
        .iter()
        .filter_map(|f| f.cpu_map.as_ref())
        .find_map(|m| heatmap::svg(m).map(|svg| (m, svg)));
    if let Some((m, svg)) = map {
        body.push_str(&format!(
            "<h2>Core-to-core map</h2>\n<figure>{svg}<figcaption>The cheapest cache-line round \
             trip ({}) between each pair of CPUs, per round trip p50: {} of {} pairs{}. The \
             pairs are listed on the <a href=\"details/environment.md\">environment page</a>.\
             </figcaption></figure>\n",
            esc(&m.shape),
            m.pairs.len(),
            m.pairs_total,
            if m.sampled() { " (a sample)" } else { "" }
        ));
    }
    body.push_str("<h2>Details</h2>\n<ul>");
    for (file, title) in detail_pages(results, opts) {
        body.push_str(&format!(
            r#"<li><a href="details/{file}">{}</a></li>"#,
            esc(&title)
        ));
    }
    body.push_str("</ul>\n");
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>ipcbench results</title>\
         <meta name=\"viewport\" content=\"width=device-width\"><style>{STYLE}</style></head>\
         <body><pre id=\"js-errors\"></pre>\n{body}<script>{SCRIPT}</script></body></html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sections::testing::{cell, results};

    #[test]
    fn inline_markdown_becomes_html_and_the_rest_is_escaped() {
        assert_eq!(
            inline("**a** <b> `c` [d](e.md)"),
            r#"<b>a</b> &lt;b&gt; <code>c</code> <a href="e.md">d</a>"#
        );
    }

    #[test]
    fn the_page_is_self_contained_and_has_its_plots() {
        let r = results(vec![
            cell("shm-a", "pingpong", "split", 8, "rtt", 1000.0),
            cell("shm-b", "pingpong", "split", 8, "rtt", 2000.0),
            cell("shm-a", "pingpong", "split", 800, "rtt", 1500.0),
        ]);
        let html = render_html(&r, &RenderOptions::default());
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert_eq!(
            html.matches("<svg class=\"plot\"").count(),
            2,
            "sizes and distribution"
        );
        assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
        assert!(!html.contains("<script src"));
        assert!(html.contains("table class=\"sortable\""));
    }
}
