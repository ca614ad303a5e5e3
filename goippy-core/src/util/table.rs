//! Text tables for the operator: what `--list` and `--listExt` print.

use std::fmt::Write as _;

/// Left-aligned columns two spaces apart; the last column is not padded.
pub(crate) fn table<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: [&str; N]| {
        let mut l = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == N {
                l.push_str(cell);
            } else {
                let _ = write!(l, "{cell:<w$}  ");
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(header);
    for row in rows {
        line(row.each_ref().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align() {
        let t = table(
            ["A", "BB", "C"],
            &[
                ["default".into(), "x".into(), "ok".into()],
                ["2508".into(), "longer".into(), "".into()],
            ],
        );
        assert_eq!(
            t,
            "A        BB      C\n\
             default  x       ok\n\
             2508     longer\n"
        );
    }
}
