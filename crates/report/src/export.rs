//! Every output format behind one small trait, as hyperfine's exporters:
//! the Markdown pages, the HTML page, the SVG plots and the CSV each turn a
//! run into the files they write, and [`export_all`] runs them in the one
//! order that works (the plots first, since the pages link to them).

use results::schema::Results;

use crate::readme::{Page, RenderOptions};

/// One output format: the files it writes for a run.
pub trait Exporter {
    /// The format's name, for messages.
    fn name(&self) -> &'static str;
    /// The files, paths relative to the results directory.
    fn export(&self, results: &Results, opts: &RenderOptions<'_>) -> Vec<Page>;
}

/// README.md and details/*.md.
#[derive(Debug, Clone, Copy)]
pub struct Markdown;

/// index.html: answers, sortable tables and plots in one page.
#[derive(Debug, Clone, Copy)]
pub struct Html;

/// One SVG file per plot.
#[derive(Debug, Clone, Copy)]
pub struct Svg;

/// results.csv: every cell, flat.
#[derive(Debug, Clone, Copy)]
pub struct Csv;

impl Exporter for Markdown {
    fn name(&self) -> &'static str {
        "Markdown"
    }
    fn export(&self, results: &Results, opts: &RenderOptions<'_>) -> Vec<Page> {
        crate::readme::render_pages(results, opts)
    }
}

impl Exporter for Html {
    fn name(&self) -> &'static str {
        "HTML"
    }
    fn export(&self, results: &Results, opts: &RenderOptions<'_>) -> Vec<Page> {
        vec![Page {
            path: "index.html".into(),
            text: crate::html::render_html(results, opts),
        }]
    }
}

impl Exporter for Svg {
    fn name(&self) -> &'static str {
        "SVG"
    }
    fn export(&self, results: &Results, opts: &RenderOptions<'_>) -> Vec<Page> {
        crate::svg::render_plots(results, opts.python)
            .into_iter()
            .map(|p| Page {
                path: p.file_name,
                text: p.svg,
            })
            .collect()
    }
}

impl Exporter for Csv {
    fn name(&self) -> &'static str {
        "CSV"
    }
    fn export(&self, results: &Results, _opts: &RenderOptions<'_>) -> Vec<Page> {
        vec![Page {
            path: "results.csv".into(),
            text: crate::csv_export::to_csv(results),
        }]
    }
}

/// Every format's files for a run: the plots, then the Markdown pages and
/// index.html (which link to the plots, so `opts.plots` is filled from them),
/// then the CSV.
pub fn export_all(results: &Results, opts: &RenderOptions<'_>) -> Vec<Page> {
    let plots = crate::svg::render_plots(results, opts.python);
    let opts = RenderOptions {
        plots: plots
            .iter()
            .map(|p| (p.title.clone(), p.file_name.clone()))
            .collect(),
        ..opts.clone()
    };
    let mut pages: Vec<Page> = plots
        .into_iter()
        .map(|p| Page {
            path: p.file_name,
            text: p.svg,
        })
        .collect();
    let rest: [&dyn Exporter; 3] = [&Markdown, &Html, &Csv];
    for format in rest {
        pages.extend(format.export(results, &opts));
    }
    pages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_writes_its_files_and_the_pages_link_the_plots() {
        let r = Results::default();
        let all = export_all(&r, &RenderOptions::default());
        let paths: Vec<&str> = all.iter().map(|p| p.path.as_str()).collect();
        for want in ["README.md", "index.html", "results.csv"] {
            assert!(paths.contains(&want), "{want} missing from {paths:?}");
        }
        let names: Vec<&str> = [&Markdown as &dyn Exporter, &Html, &Svg, &Csv]
            .iter()
            .map(|e| e.name())
            .collect();
        assert_eq!(names, ["Markdown", "HTML", "SVG", "CSV"]);
        assert!(Svg.export(&r, &RenderOptions::default()).is_empty());
        assert!(
            !Html.export(&r, &RenderOptions::default())[0]
                .text
                .is_empty()
        );
    }
}
