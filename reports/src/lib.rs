//! brulee's report formats.
//!
//! A format is one [`Format`] registration: a Tera template in `templates/` (or, for formats a
//! template would make fragile, such as JSON, a Rust function) and its escaper. Adding a format
//! touches no central list. Every format renders the same context, the JSON report model (see
//! `README.md` beside this file), so every format says the same thing.
//!
//! Text in a report comes partly from scanned services (banners, script output) and so from
//! whoever runs them. Each format therefore names an escaper, which Tera's autoescaping applies
//! to every string a template prints with `{{ … }}`: a template cannot forget to escape, and
//! still compares raw values (`status == "not_checked"`).

pub mod escape;
mod json;
mod sarif;
mod template;

use std::collections::HashMap;

use serde_json::Value;

pub use template::{UserTemplate, UserTemplateError};

/// A report format, registered with [`inventory::submit!`].
pub struct Format {
    /// What users type after `--format`.
    pub name: &'static str,
    /// File name extension of the rendered file.
    pub extension: &'static str,
    pub description: &'static str,
    /// How the report model becomes this format.
    pub render: Render,
    /// Makes one string of the report safe to place in this format: the autoescape function of
    /// the format's template, and of a user's `--template NAME.EXT.tera` whose EXT is this
    /// format's extension.
    pub escape: fn(&str) -> String,
}

/// How a [`Format`] is made from the report model.
pub enum Render {
    /// A Tera template, autoescaped with the format's escaper.
    Template(&'static str),
    /// Rust code: for machine formats (JSON, SARIF) where one missed comma in a template would
    /// make the whole output invalid.
    Code(fn(&Value) -> Result<String, RenderError>),
}

inventory::collect!(Format);

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("unknown report format {name:?}; available: {available}")]
    UnknownFormat { name: String, available: String },
    /// `name` is the template's name or file, with `:line` when the error says where.
    #[error("template {name}: {message}")]
    Template { name: String, message: String },
    #[error("{format}: {message}")]
    Code {
        format: &'static str,
        message: String,
    },
}

/// Every registered format, sorted by name.
pub fn formats() -> Vec<&'static Format> {
    let mut all: Vec<&'static Format> = inventory::iter::<Format>.into_iter().collect();
    all.sort_by_key(|f| f.name);
    all
}

/// The format of this name, or of this file extension (`md` for markdown, `tex` for latex).
pub fn find_format(name: &str) -> Result<&'static Format, RenderError> {
    formats()
        .into_iter()
        .find(|f| f.name == name)
        .or_else(|| formats().into_iter().find(|f| f.extension == name))
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
    match format.render {
        Render::Template(template) => render_template(format.name, template, format.escape, report),
        Render::Code(render) => render(report),
    }
}

/// Render a template with the report model as its context, autoescaping with `escape`.
pub fn render_template(
    name: &str,
    template: &str,
    escape: fn(&str) -> String,
    report: &Value,
) -> Result<String, RenderError> {
    let tera =
        tera_with(name, template, escape).map_err(|err| template::error(name, template, &err))?;
    let context = tera::Context::from_value(report.clone())
        .map_err(|err| template::error(name, template, &err))?;
    tera.render(name, &context)
        .map_err(|err| template::error(name, template, &err))
}

/// A Tera instance holding one template, with brulee's escaping, filters and tests.
fn tera_with(name: &str, template: &str, escape: fn(&str) -> String) -> tera::Result<tera::Tera> {
    let mut tera = tera::Tera::default();
    // Autoescaping applies to templates whose name ends with a listed suffix: "" is all.
    tera.autoescape_on(vec![""]);
    tera.set_escape_fn(escape);
    tera.register_filter("pad", pad);
    tera.register_tester("cve_id", is_cve_id);
    tera.register_tester("simple_url", is_simple_url);
    tera.add_raw_template(name, template)?;
    Ok(tera)
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

/// `{% if v.id is cve_id %}`: a well-formed CVE id (`CVE-2023-38408`), which templates may
/// put in a URL as it is: it holds nothing but letters, digits and dashes.
fn is_cve_id(value: Option<&Value>, _args: &[Value]) -> tera::Result<bool> {
    Ok(value.and_then(Value::as_str).is_some_and(cve_id))
}

/// `{% if v.url is simple_url %}`: an http(s) URL made only of letters, digits and `. / : = ? -`,
/// which templates may put in a link target as it is, in any format (none of these characters
/// means anything to LaTeX, HTML, Markdown or CSV).
fn is_simple_url(value: Option<&Value>, _args: &[Value]) -> tera::Result<bool> {
    Ok(value.and_then(Value::as_str).is_some_and(simple_url))
}

pub fn simple_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    rest.is_some_and(|r| {
        !r.is_empty()
            && r.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '.' | '/' | ':' | '=' | '?' | '-')
            })
    })
}

/// `CVE-YYYY-NNNN…`: four digits of year, at least four of sequence number.
pub fn cve_id(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("CVE-") else {
        return false;
    };
    let Some((year, number)) = rest.split_once('-') else {
        return false;
    };
    year.len() == 4
        && number.len() >= 4
        && year
            .bytes()
            .chain(number.bytes())
            .all(|b| b.is_ascii_digit())
}

inventory::submit! {
    Format {
        name: "json",
        extension: "json",
        description: "the canonical report model (docs/report.schema.json): for plugins and other tools",
        render: Render::Code(json::canonical),
        escape: escape::json_string,
    }
}

inventory::submit! {
    Format {
        name: "jsonl",
        extension: "jsonl",
        description: "JSON Lines: one finding per line, for log pipelines and SIEMs",
        render: Render::Code(json::lines),
        escape: escape::json_string,
    }
}

inventory::submit! {
    Format {
        name: "sarif",
        extension: "sarif",
        description: "SARIF 2.1.0: findings as results, services not checked as notifications",
        render: Render::Code(sarif::render),
        escape: escape::json_string,
    }
}

inventory::submit! {
    Format {
        name: "markdown",
        extension: "md",
        description: "GitHub-flavoured Markdown: vulnerable services, their CVEs and where they run",
        render: Render::Template(include_str!("../templates/markdown.md.tera")),
        escape: escape::markdown,
    }
}

inventory::submit! {
    Format {
        name: "summary",
        extension: "txt",
        description: "the plain-text summary brulee prints on the terminal",
        render: Render::Template(include_str!("../templates/summary.txt.tera")),
        escape: escape::terminal,
    }
}

inventory::submit! {
    Format {
        name: "latex",
        extension: "tex",
        description: "LaTeX for pdflatex (--pdf compiles it): a report to file or print",
        render: Render::Template(include_str!("../templates/latex.tex.tera")),
        escape: escape::latex,
    }
}

inventory::submit! {
    Format {
        name: "html",
        extension: "html",
        description: "one self-contained HTML page: sortable, filterable, printable, fits a phone",
        render: Render::Template(include_str!("../templates/html.html.tera")),
        escape: escape::html,
    }
}

inventory::submit! {
    Format {
        name: "csv",
        extension: "csv",
        description: "one row per finding, for spreadsheets (formula injection defused)",
        render: Render::Template(include_str!("../templates/csv.csv.tera")),
        escape: escape::csv,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_registered() {
        let names: Vec<_> = formats().iter().map(|f| f.name).collect();
        assert_eq!(
            names,
            ["csv", "html", "json", "jsonl", "latex", "markdown", "sarif", "summary"]
        );
        assert!(matches!(
            find_format("pdf"),
            Err(RenderError::UnknownFormat { .. })
        ));
        assert_eq!(find_format("md").unwrap().name, "markdown");
        assert_eq!(find_format("tex").unwrap().name, "latex");
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

    #[test]
    fn cve_ids_are_told_from_other_ids() {
        for good in ["CVE-2023-38408", "CVE-2021-1234567"] {
            assert!(cve_id(good), "{good}");
        }
        for bad in [
            "PACKETSTORM:173661",
            "CVE-2023-123",
            "CVE-23-38408",
            "CVE-2023-38408}",
            "CVE-2023-3840\\8",
            "cve-2023-38408",
            "",
        ] {
            assert!(!cve_id(bad), "{bad}");
        }
        let out = render_template(
            "t",
            "{% for i in ids %}{% if i is cve_id %}y{% else %}n{% endif %}{% endfor %}",
            escape::none,
            &serde_json::json!({"ids": ["CVE-2023-38408", "EDB-ID:1", 3]}),
        )
        .unwrap();
        assert_eq!(out, "ynn");
    }

    #[test]
    fn the_html_reports_content_security_policy_allows_its_own_script() {
        use base64::Engine;
        use sha2::Digest;

        let Render::Template(html) = find_format("html").unwrap().render else {
            panic!("html is a template");
        };
        let script = html
            .rsplit_once("<script>")
            .and_then(|(_, rest)| rest.split_once("</script>"))
            .map(|(script, _)| script)
            .expect("the template ends with its <script>");
        let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(script));
        assert!(
            html.contains(&format!("script-src 'sha256-{hash}'")),
            "the script changed: put 'sha256-{hash}' in the template's Content-Security-Policy"
        );
    }

    #[test]
    fn simple_urls_hold_nothing_any_format_would_read() {
        assert!(simple_url(
            "https://vulners.com/packetstorm/PACKETSTORM:173661"
        ));
        assert!(simple_url("http://e.example/x?id=1"));
        for bad in [
            "javascript:alert(1)",
            "https://e.example/a_b",
            "https://e.example/}{\\input",
            "https://e.example/\"onmouseover=",
            "https://e.example/a%20b",
            "https://e.example/#x",
            "https://",
            "ftp://e.example/",
        ] {
            assert!(!simple_url(bad), "{bad}");
        }
    }
}
