//! brulee's report formats.
//!
//! A format is a Tera template in `templates/` plus one [`Format`] registration: adding a format
//! touches no central list. Every template renders the same context, the JSON report model
//! (see `README.md` beside this file), so every format says the same thing.
//!
//! Text in a report comes partly from scanned services (banners, script output) and so from
//! whoever runs them. Each format therefore names an escaper, which Tera's autoescaping applies
//! to everything a template prints with `{{ … }}`: a template cannot forget to escape, and
//! still compares raw values (`status == "not_checked"`).

use std::collections::HashMap;

use serde_json::Value;

/// A report format, registered with [`inventory::submit!`].
pub struct Format {
    /// What users type after `--format`.
    pub name: &'static str,
    /// File name extension of the rendered file.
    pub extension: &'static str,
    pub description: &'static str,
    /// The Tera template, or `None` for the canonical JSON model itself.
    pub template: Option<&'static str>,
    /// Makes one string of the report safe to place in this format.
    pub escape: fn(&str) -> String,
}

inventory::collect!(Format);

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("unknown report format {name:?}; available: {available}")]
    UnknownFormat { name: String, available: String },
    #[error("template {name}: {message}")]
    Template { name: String, message: String },
}

/// Every registered format, sorted by name.
pub fn formats() -> Vec<&'static Format> {
    let mut all: Vec<&'static Format> = inventory::iter::<Format>.into_iter().collect();
    all.sort_by_key(|f| f.name);
    all
}

pub fn find_format(name: &str) -> Result<&'static Format, RenderError> {
    formats()
        .into_iter()
        .find(|f| f.name == name)
        .ok_or_else(|| RenderError::UnknownFormat {
            name: name.to_string(),
            available: formats()
                .iter()
                .map(|f| f.name)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Render `report` (the JSON report model) in `format`.
pub fn render(format: &Format, report: &Value) -> Result<String, RenderError> {
    let Some(template) = format.template else {
        let mut json =
            serde_json::to_string_pretty(report).expect("a JSON value always serialises");
        json.push('\n');
        return Ok(json);
    };
    render_template(format.name, template, format.escape, report)
}

/// Render a template of the user's own (`--template FILE`) with the same context.
pub fn render_template(
    name: &str,
    template: &str,
    escape: fn(&str) -> String,
    report: &Value,
) -> Result<String, RenderError> {
    let template_error = |err: tera::Error| RenderError::Template {
        name: name.to_string(),
        message: error_chain(&err),
    };
    let mut tera = tera::Tera::default();
    // Autoescaping applies to templates whose name ends with a listed suffix: "" is all.
    tera.autoescape_on(vec![""]);
    tera.set_escape_fn(escape);
    tera.register_filter("pad", pad);
    tera.add_raw_template(name, template)
        .map_err(template_error)?;
    let context = tera::Context::from_value(report.clone()).map_err(template_error)?;
    tera.render(name, &context).map_err(template_error)
}

/// Tera's errors nest the useful part (the line and what was wrong) in their sources.
fn error_chain(err: &tera::Error) -> String {
    let mut message = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        source = inner.source();
    }
    message
}

/// `{{ value | pad(width=12) }}`: left-align in a column, cutting what is too long, so that
/// terminal tables line up.
fn pad(value: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
    let width = args
        .get("width")
        .and_then(Value::as_u64)
        .ok_or_else(|| tera::Error::msg("pad needs a width, e.g. pad(width=12)"))?
        as usize;
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let mut out: String = text.chars().take(width).collect();
    let len = out.chars().count();
    if text.chars().count() > width && width > 1 {
        out = out.chars().take(width - 1).collect::<String>() + "…";
    }
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(len)));
    Ok(Value::String(out))
}

pub mod escape {
    //! Escapers, one per kind of output.

    /// For a terminal: control characters (escape sequences that could move the cursor,
    /// change the title or hide text) become visible `\u{..}` codes.
    pub fn terminal(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            if c.is_control() && c != '\n' && c != '\t' {
                out.push_str(&c.escape_unicode().to_string());
            } else {
                out.push(c);
            }
        }
        out
    }

    /// For GitHub-flavoured Markdown: inline text that cannot open markup, links, HTML or table
    /// cells, and stays on one line.
    pub fn markdown(s: &str) -> String {
        let mut out = String::with_capacity(s.len() + 8);
        for c in s.chars() {
            match c {
                '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '!'
                | '|' | '~' => {
                    out.push('\\');
                    out.push(c);
                }
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '&' => out.push_str("&amp;"),
                '\n' | '\r' | '\t' => out.push(' '),
                c if c.is_control() => out.push_str(&c.escape_unicode().to_string()),
                c => out.push(c),
            }
        }
        out
    }

    /// No escaping: the JSON serialiser escapes for itself.
    pub fn none(s: &str) -> String {
        s.to_string()
    }
}

inventory::submit! {
    Format {
        name: "json",
        extension: "json",
        description: "the canonical report model (docs/report.schema.json): for plugins and other tools",
        template: None,
        escape: escape::none,
    }
}

inventory::submit! {
    Format {
        name: "markdown",
        extension: "md",
        description: "GitHub-flavoured Markdown: vulnerable services, their CVEs and where they run",
        template: Some(include_str!("../templates/markdown.md.tera")),
        escape: escape::markdown,
    }
}

inventory::submit! {
    Format {
        name: "summary",
        extension: "txt",
        description: "the plain-text summary brulee prints on the terminal",
        template: Some(include_str!("../templates/summary.txt.tera")),
        escape: escape::terminal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_registered() {
        let names: Vec<_> = formats().iter().map(|f| f.name).collect();
        assert_eq!(names, ["json", "markdown", "summary"]);
        assert!(matches!(
            find_format("pdf"),
            Err(RenderError::UnknownFormat { .. })
        ));
    }

    #[test]
    fn escaping_reaches_everything_printed_but_not_comparisons() {
        let report = serde_json::json!({"a": ["x|y", {"b": "*bold*"}], "n": 3, "s": "not_checked"});
        let template =
            r#"{{ a.0 }} {{ a.1.b }} {{ n }} {% if s == "not_checked" %}{{ s }}{% endif %}"#;
        let out = render_template("t", template, escape::markdown, &report).unwrap();
        assert_eq!(out, r"x\|y \*bold\* 3 not\_checked");
    }

    #[test]
    fn terminal_escape_defuses_control_sequences() {
        assert_eq!(escape::terminal("ok\x1b[2Jgone"), "ok\\u{1b}[2Jgone");
    }

    #[test]
    fn pad_aligns_and_cuts() {
        let out = render_template(
            "t",
            "[{{ s | pad(width=5) }}][{{ l | pad(width=4) }}]",
            escape::none,
            &serde_json::json!({"s": "ab", "l": "abcdef"}),
        )
        .unwrap();
        assert_eq!(out, "[ab   ][abc…]");
    }
}
