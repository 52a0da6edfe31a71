//! Tables: HTML in a notebook, aligned text elsewhere.

use std::fmt::Write as _;

use crate::{escape, show};

/// A table of text cells under a header row, with an optional title and
/// note. A column whose cells all start with a digit (after an optional
/// sign; `-` and empty cells aside) is right-aligned.
///
/// ```
/// let mut t = nbkit::Table::new(["page", "views"]).title("Top pages");
/// t.row(["/", "1,204"]).row(["/pricing", "88"]);
/// assert_eq!(t.rows(), 2);
/// assert!(t.to_html().contains("<td style=\"text-align:right\">1,204</td>"));
/// assert_eq!(t.to_text().lines().nth(4), Some("/pricing     88"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Table {
    title: Option<String>,
    note: Option<String>,
    header: Vec<String>,
    body: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column names.
    pub fn new<S: ToString>(header: impl IntoIterator<Item = S>) -> Table {
        Table {
            header: header.into_iter().map(|s| s.to_string()).collect(),
            ..Table::default()
        }
    }

    /// The same table with a title above it.
    pub fn title(mut self, title: impl Into<String>) -> Table {
        self.title = Some(title.into());
        self
    }

    /// The same table with a note below it.
    pub fn note(mut self, note: impl Into<String>) -> Table {
        self.note = Some(note.into());
        self
    }

    /// Appends a row; missing cells are empty, extra cells are kept (and
    /// get an empty header).
    pub fn row<S: ToString>(&mut self, cells: impl IntoIterator<Item = S>) -> &mut Table {
        self.body
            .push(cells.into_iter().map(|s| s.to_string()).collect());
        self
    }

    /// Rows so far (the header aside).
    pub fn rows(&self) -> usize {
        self.body.len()
    }

    fn columns(&self) -> usize {
        self.body
            .iter()
            .map(Vec::len)
            .chain([self.header.len()])
            .max()
            .unwrap_or(0)
    }

    fn cell(&self, row: usize, col: usize) -> &str {
        self.body
            .get(row)
            .and_then(|r| r.get(col))
            .map_or("", String::as_str)
    }

    fn numeric(&self, col: usize) -> bool {
        let looks_numeric = |s: &str| {
            let s = s.strip_prefix(['-', '+']).unwrap_or(s);
            s.starts_with(|c: char| c.is_ascii_digit())
        };
        let mut any = false;
        for r in 0..self.body.len() {
            let c = self.cell(r, col).trim();
            if c.is_empty() || c == "-" {
                continue;
            }
            if !looks_numeric(c) {
                return false;
            }
            any = true;
        }
        any
    }

    /// The table as an HTML fragment.
    pub fn to_html(&self) -> String {
        let cols = self.columns();
        let align: Vec<&str> = (0..cols)
            .map(|c| if self.numeric(c) { "right" } else { "left" })
            .collect();
        let mut h = String::new();
        if let Some(t) = &self.title {
            let _ = write!(h, "<p><b>{}</b></p>", escape(t));
        }
        h.push_str("<table>\n<thead><tr>");
        for (c, a) in align.iter().enumerate() {
            let name = self.header.get(c).map_or("", String::as_str);
            let _ = write!(h, "<th style=\"text-align:{a}\">{}</th>", escape(name));
        }
        h.push_str("</tr></thead>\n<tbody>\n");
        for r in 0..self.body.len() {
            h.push_str("<tr>");
            for (c, a) in align.iter().enumerate() {
                let _ = write!(
                    h,
                    "<td style=\"text-align:{a}\">{}</td>",
                    escape(self.cell(r, c))
                );
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</tbody>\n</table>");
        if let Some(n) = &self.note {
            let _ = write!(h, "\n<p><small>{}</small></p>", escape(n));
        }
        h
    }

    /// The table as aligned plain text.
    pub fn to_text(&self) -> String {
        let cols = self.columns();
        let width = |c: usize| {
            (0..self.body.len())
                .map(|r| self.cell(r, c).chars().count())
                .chain([self.header.get(c).map_or(0, |s| s.chars().count())])
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..cols).map(width).collect();
        let numeric: Vec<bool> = (0..cols).map(|c| self.numeric(c)).collect();
        let line = |cells: &mut dyn Iterator<Item = &str>| {
            let mut s = String::new();
            for (c, cell) in cells.enumerate() {
                let w = widths.get(c).copied().unwrap_or(0);
                if c > 0 {
                    s.push_str("  ");
                }
                if numeric.get(c).copied().unwrap_or(false) {
                    let _ = write!(s, "{cell:>w$}");
                } else {
                    let _ = write!(s, "{cell:<w$}");
                }
            }
            s.trim_end().to_owned()
        };
        let mut out = String::new();
        if let Some(t) = &self.title {
            out.push_str(t);
            out.push('\n');
        }
        let header: Vec<&str> = (0..cols)
            .map(|c| self.header.get(c).map_or("", String::as_str))
            .collect();
        out.push_str(&line(&mut header.into_iter()));
        out.push('\n');
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        out.push_str(&line(&mut rule.iter().map(String::as_str)));
        for r in 0..self.body.len() {
            out.push('\n');
            out.push_str(&line(&mut (0..cols).map(|c| self.cell(r, c))));
        }
        if let Some(n) = &self.note {
            out.push('\n');
            out.push_str(n);
        }
        out
    }

    /// Shows the table.
    pub fn evcxr_display(&self) {
        show(&[
            ("text/html", &self.to_html()),
            ("text/plain", &self.to_text()),
        ]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment_and_escaping() {
        let mut t = Table::new(["selector", "clicks", "share"]).note("n = 3");
        t.row(["<b>", "2", "66.7%"]).row(["a & b", "1", "-"]);
        let html = t.to_html();
        assert!(html.contains("<td style=\"text-align:left\">&lt;b&gt;</td>"));
        assert!(html.contains("<td style=\"text-align:right\">66.7%</td>"));
        assert!(html.contains("<small>n = 3</small>"));
        let text = t.to_text();
        assert_eq!(
            text,
            "selector  clicks  share\n--------  ------  -----\n<b>            2  66.7%\na & b          1      -\nn = 3"
        );
    }

    #[test]
    fn ragged_rows() {
        let mut t = Table::new(["a"]);
        t.row(["1", "extra"]).row(Vec::<String>::new());
        assert_eq!(t.columns(), 2);
        assert!(t.to_text().contains("extra"));
    }
}
