//! The one Markdown table builder every table in the report goes through, so
//! escaping, alignment and padding are decided in a single place.

/// Column alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Text.
    Left,
    /// Numbers.
    Right,
}

/// A Markdown (GitHub-flavoured) table, padded so the source reads as a grid.
#[derive(Debug, Clone, Default)]
pub struct Table {
    header: Vec<String>,
    align: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers and alignments.
    pub fn new<S: Into<String>>(columns: impl IntoIterator<Item = (S, Align)>) -> Self {
        let (header, align) = columns.into_iter().map(|(h, a)| (h.into(), a)).unzip();
        Self {
            header,
            align,
            rows: Vec::new(),
        }
    }

    /// Appends a row; missing trailing cells are left empty, extra ones dropped.
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        let mut row: Vec<String> = cells.into_iter().map(Into::into).collect();
        row.resize(self.header.len(), String::new());
        self.rows.push(row);
    }

    /// Rows so far.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether no row was added.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The Markdown text, ending with a newline.
    pub fn render(&self) -> String {
        let escaped: Vec<Vec<String>> = std::iter::once(&self.header)
            .chain(&self.rows)
            .map(|r| r.iter().map(|c| escape(c)).collect())
            .collect();
        let widths: Vec<usize> = (0..self.header.len())
            .map(|i| {
                escaped
                    .iter()
                    .map(|r| r[i].chars().count())
                    .max()
                    .unwrap_or(0)
                    .max(3)
            })
            .collect();
        let mut out = String::new();
        let line = |out: &mut String, cells: &[String]| {
            out.push('|');
            for (i, c) in cells.iter().enumerate() {
                let pad = widths[i] - c.chars().count();
                out.push(' ');
                match self.align[i] {
                    Align::Left => {
                        out.push_str(c);
                        out.push_str(&" ".repeat(pad));
                    }
                    Align::Right => {
                        out.push_str(&" ".repeat(pad));
                        out.push_str(c);
                    }
                }
                out.push_str(" |");
            }
            out.push('\n');
        };
        line(&mut out, &escaped[0]);
        out.push('|');
        for (i, w) in widths.iter().enumerate() {
            let dashes = "-".repeat(w - 1);
            match self.align[i] {
                Align::Left => out.push_str(&format!(" :{dashes} |")),
                Align::Right => out.push_str(&format!(" {dashes}: |")),
            }
        }
        out.push('\n');
        for r in &escaped[1..] {
            line(&mut out, r);
        }
        out
    }
}

/// Pipes would split a cell and newlines would end the table.
fn escape(cell: &str) -> String {
    cell.replace('|', "\\|").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_padded_and_aligned() {
        let mut t = Table::new([("Size", Align::Left), ("pipe (µs)", Align::Right)]);
        t.row(["800 B", "11.2 (15.0)"]);
        t.row(["409.6 KB", "a|b"]);
        t.row(["short"]);
        assert_eq!(t.len(), 3);
        assert_eq!(
            t.render(),
            "| Size     |   pipe (µs) |\n\
             | :------- | ----------: |\n\
             | 800 B    | 11.2 (15.0) |\n\
             | 409.6 KB |        a\\|b |\n\
             | short    |             |\n"
        );
    }
}
