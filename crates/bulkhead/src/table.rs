//! Plain, aligned text tables for the CLI.

use std::io::Write;

pub fn print(out: &mut impl Write, header: &[&str], rows: &[Vec<String>]) -> std::io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line =
        |out: &mut dyn Write, cells: &mut dyn Iterator<Item = &str>| -> std::io::Result<()> {
            let text: Vec<String> = cells
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            writeln!(out, "{}", text.join("  ").trim_end())
        };
    line(out, &mut header.iter().copied())?;
    for row in rows {
        line(out, &mut row.iter().map(String::as_str))?;
    }
    Ok(())
}

/// Key/value lines for a single object.
pub fn print_pairs(out: &mut impl Write, pairs: &[(&str, String)]) -> std::io::Result<()> {
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in pairs {
        writeln!(out, "{k:<width$}  {v}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_line_up() {
        let mut out = Vec::new();
        super::print(
            &mut out,
            &["NAME", "MEMORY"],
            &[
                vec!["a-long-name".into(), "128".into()],
                vec!["b".into(), "10240".into()],
            ],
        )
        .expect("write");
        let text = String::from_utf8(out).expect("utf8");
        assert_eq!(
            text,
            "NAME         MEMORY\na-long-name  128\nb            10240\n"
        );
    }
}
