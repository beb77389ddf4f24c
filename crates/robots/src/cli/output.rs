//! What the command line prints: aligned tables for people, JSON (the API's
//! own objects) for `jq`, and YAML.

use clap::ValueEnum;
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// Aligned columns, times as "3 days ago".
    #[default]
    Table,
    /// The API's JSON, one document.
    Json,
    /// The same data as YAML.
    Yaml,
}

/// Prints `value` as JSON or YAML (whole, as the API wrote it), or calls
/// `table` for the table format.
pub fn print<T: Serialize + ?Sized>(format: Format, value: &T, table: impl FnOnce(&T) -> String) {
    match format {
        Format::Json => emit(&(serde_json::to_string_pretty(value).unwrap_or_default() + "\n")),
        Format::Yaml => emit(&to_yaml(&serde_json::to_value(value).unwrap_or_default())),
        Format::Table => emit(&table(value)),
    }
}

/// Writes to standard output. A closed pipe (`robots list | head -1`) ends
/// the program quietly, as it does for other command-line tools.
pub fn emit(text: &str) {
    emit_bytes(text.as_bytes());
}

/// [`emit`] for bytes as they come (a stream may split a character).
pub fn emit_bytes(bytes: &[u8]) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {error}");
        std::process::exit(i32::from(super::client::exit::SERVER));
    }
}

/// A table: a header row in capitals and aligned columns, two spaces apart.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = String>| {
        let mut out = String::new();
        for (index, cell) in cells.enumerate() {
            if index + 1 < widths.len() {
                out.push_str(&format!("{cell:<width$}  ", width = widths[index]));
            } else {
                out.push_str(&cell);
            }
        }
        out.trim_end().to_owned() + "\n"
    };
    let mut out = line(&mut headers.iter().map(|h| h.to_uppercase()));
    for row in rows {
        out.push_str(&line(&mut row.iter().cloned()));
    }
    out
}

/// Label/value lines for one object: `Name:  ci-deployer`.
pub fn details(pairs: &[(&str, String)]) -> String {
    let width = pairs.iter().map(|(label, _)| label.chars().count()).max().unwrap_or(0) + 1;
    pairs
        .iter()
        .map(|(label, value)| format!("{:<width$} {value}\n", format!("{label}:")))
        .collect()
}

/// A value for a cell or a detail line, or "-" when it is empty.
pub fn text(value: impl std::fmt::Display) -> String {
    let text = value.to_string();
    if text.is_empty() { "-".to_owned() } else { text }
}

/// An optional value, or "-" when it is absent or empty.
pub fn optional(value: Option<impl std::fmt::Display>) -> String {
    value.map_or_else(|| "-".to_owned(), text)
}

/// A time as people say it: "3 days ago", "in 5 hours".
pub fn age(at: OffsetDateTime) -> String {
    robots_core::humanize::relative(at, OffsetDateTime::now_utc())
}

/// An optional time as [`age`] says it; `absent` when there is none.
pub fn age_or(at: Option<OffsetDateTime>, absent: &str) -> String {
    at.map_or_else(|| absent.to_owned(), age)
}

/// A time as the API writes it (RFC 3339).
pub fn timestamp(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// YAML for JSON values: block style, strings quoted whenever a plain
/// scalar could be misread (numbers, booleans, `null`, leading symbols).
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Array(items) if items.is_empty() => out.push_str("[]\n"),
        Value::Object(map) if map.is_empty() => out.push_str("{}\n"),
        Value::Array(_) | Value::Object(_) => write_yaml(&mut out, value, 0),
        scalar => {
            out.push_str(&yaml_scalar(scalar));
            out.push('\n');
        }
    }
    out
}

fn write_yaml(out: &mut String, value: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                out.push_str(&format!("{pad}{}:", yaml_string(key)));
                write_nested(out, item, indent);
            }
        }
        Value::Array(items) => {
            for item in items {
                out.push_str(&format!("{pad}-"));
                match item {
                    Value::Object(map) if !map.is_empty() => {
                        // The first key goes on the dash's line.
                        let mut nested = String::new();
                        write_yaml(&mut nested, item, indent + 2);
                        out.push(' ');
                        out.push_str(nested.trim_start());
                    }
                    _ => write_nested(out, item, indent),
                }
            }
        }
        scalar => {
            out.push_str(&format!("{pad}{}\n", yaml_scalar(scalar)));
        }
    }
}

fn write_nested(out: &mut String, item: &Value, indent: usize) {
    match item {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            write_yaml(out, item, indent + 2);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_yaml(out, item, indent + 2);
        }
        Value::Object(_) => out.push_str(" {}\n"),
        Value::Array(_) => out.push_str(" []\n"),
        scalar => out.push_str(&format!(" {}\n", yaml_scalar(scalar))),
    }
}

fn yaml_scalar(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => yaml_string(s),
        other => other.to_string(),
    }
}

fn yaml_string(text: &str) -> String {
    let plain = !text.is_empty()
        && text.chars().all(|c| c.is_ascii_alphanumeric() || "-_./@+".contains(c))
        && text.starts_with(|c: char| c.is_ascii_alphabetic())
        && !matches!(
            text.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        );
    if plain {
        text.to_owned()
    } else {
        // A JSON string is a valid YAML double-quoted scalar.
        serde_json::to_string(text).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_align_columns() {
        let rendered = table(
            &["name", "tokens"],
            &[vec!["a".into(), "1".into()], vec!["longer-name".into(), "12".into()]],
        );
        assert_eq!(rendered, "NAME         TOKENS\na            1\nlonger-name  12\n");
    }

    #[test]
    fn yaml_quotes_what_could_be_misread() {
        let value = json!({
            "name": "ci-deployer",
            "count": 2,
            "empty": "",
            "looks_like_bool": "yes",
            "looks_like_number": "0123",
            "time": "2026-11-27T12:00:00Z",
            "nothing": null,
            "list": [{"a": 1, "b": "two words"}, "x"],
            "none": [],
        });
        let expected = "name: ci-deployer\ncount: 2\nempty: \"\"\nlooks_like_bool: \"yes\"\nlooks_like_number: \"0123\"\n\
                        time: \"2026-11-27T12:00:00Z\"\nnothing: null\nlist:\n  - a: 1\n    b: \"two words\"\n  - x\nnone: []\n";
        assert_eq!(to_yaml(&value), expected);
    }
}
