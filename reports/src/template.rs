//! Templates of the user's own (`--template NAME.EXT.tera`), and errors that say where in a
//! template something is wrong.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::{escape, formats, RenderError};

/// A user's template, checked when it is loaded (before a scan spends any time).
#[derive(Debug)]
pub struct UserTemplate {
    /// Where it was read from, as the user named it.
    pub path: PathBuf,
    /// The file it renders to: its name without `.tera` ("tickets.csv.tera" → "tickets.csv").
    pub output_name: String,
    source: String,
    escape: fn(&str) -> String,
}

#[derive(Debug, thiserror::Error)]
pub enum UserTemplateError {
    #[error("cannot read the template {}: {err}", path.display())]
    Read { path: PathBuf, err: std::io::Error },
    #[error(
        "template {}: name it NAME.EXT.tera (e.g. tickets.csv.tera): EXT says how to escape \
         the report's text (html, tex, md, csv, json, txt, …) and the output is NAME.EXT",
        path.display()
    )]
    Name { path: PathBuf },
    #[error(transparent)]
    Broken(#[from] RenderError),
}

impl UserTemplate {
    /// Read and parse the template at `path`; its name says how to escape (see [`escaper_for`]).
    pub fn load(path: &Path) -> Result<UserTemplate, UserTemplateError> {
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let output_name = match file_name.strip_suffix(".tera") {
            Some(stem) if !stem.is_empty() && !stem.starts_with('.') => stem.to_string(),
            _ => {
                return Err(UserTemplateError::Name {
                    path: path.to_owned(),
                })
            }
        };
        let source = std::fs::read_to_string(path).map_err(|err| UserTemplateError::Read {
            path: path.to_owned(),
            err,
        })?;
        let escape = escaper_for(output_name.rsplit_once('.').map_or("", |(_, ext)| ext));
        let template = UserTemplate {
            path: path.to_owned(),
            output_name,
            source,
            escape,
        };
        // Parse now: a broken template is reported before a scan runs, not after.
        crate::tera_with(&template.name(), &template.source, template.escape)
            .map_err(|err| error(&template.name(), &template.source, &err))?;
        Ok(template)
    }

    /// Render the report model with this template.
    pub fn render(&self, report: &Value) -> Result<String, RenderError> {
        crate::render_template(&self.name(), &self.source, self.escape, report)
    }

    fn name(&self) -> String {
        self.path.display().to_string()
    }
}

/// The escaper for a user's template whose output ends in `.EXT`: the one of the format with
/// that extension (`html`, `tex`, `md`, `csv`, `txt`, `json`, …); HTML's for other markup
/// (`htm`, `xml`, `svg`); otherwise the terminal's, which only defuses control characters.
pub fn escaper_for(extension: &str) -> fn(&str) -> String {
    let extension = extension.to_ascii_lowercase();
    if let Some(format) = formats().into_iter().find(|f| f.extension == extension) {
        return format.escape;
    }
    match extension.as_str() {
        "htm" | "xhtml" | "xml" | "svg" => escape::html,
        _ => escape::terminal,
    }
}

/// A Tera error as one message that says where: `file:line:column: what` when Tera knows the
/// position (syntax errors), `file:line: what` when the line can be found from a name the
/// error quotes (a variable or filter that does not exist).
pub(crate) fn error(name: &str, source: &str, err: &tera::Error) -> RenderError {
    let mut parts = vec![err.to_string()];
    let mut inner = std::error::Error::source(err);
    while let Some(e) = inner {
        parts.push(e.to_string());
        inner = e.source();
    }
    let message = parts.join(": ");
    let location = position(&message).or_else(|| quoted_line(&message, source));
    let message = tidy(name, &message);
    let name = match location {
        Some((line, Some(column))) => format!("{name}:{line}:{column}"),
        Some((line, None)) => format!("{name}:{line}"),
        None => name.to_string(),
    };
    RenderError::Template { name, message }
}

/// Tera's parser says `--> 3:12` for line 3, column 12.
fn position(message: &str) -> Option<(usize, Option<usize>)> {
    let after = &message[message.find("--> ")? + 4..];
    let spot: String = after
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ':')
        .collect();
    let (line, column) = spot.split_once(':')?;
    Some((line.parse().ok()?, column.parse().ok()))
}

/// Render errors name what was missing in backquotes (``Variable `scan.nope` not found``):
/// the first line of the template that mentions it.
fn quoted_line(message: &str, source: &str) -> Option<(usize, Option<usize>)> {
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    let quoted = &message[start..end];
    if quoted.is_empty() {
        return None;
    }
    source
        .lines()
        .position(|l| l.contains(quoted))
        .map(|i| (i + 1, None))
}

/// Tera's parse errors draw the line with an arrow over several lines, and its render errors
/// repeat the template's name: keep what was wrong, on one line.
fn tidy(name: &str, message: &str) -> String {
    let message = message
        .replace(&format!("Failed to render '{name}': "), "")
        .replace(&format!(" while rendering '{name}'"), "");
    let lines: Vec<&str> = message.lines().map(str::trim).collect();
    if let Some(expected) = lines.iter().find_map(|l| l.strip_prefix("= ")) {
        return expected.to_string();
    }
    lines
        .into_iter()
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn a_user_template_renders_the_model_escaped_for_its_extension() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "hosts.html.tera",
            "{% for h in hosts %}<li>{{ h.address }}</li>{% endfor %}",
        );
        let template = UserTemplate::load(&path).unwrap();
        assert_eq!(template.output_name, "hosts.html");
        let out = template
            .render(&serde_json::json!({"hosts": [{"address": "<b>"}]}))
            .unwrap();
        assert_eq!(out, "<li>&lt;b&gt;</li>");

        let path = write(dir.path(), "t.csv.tera", "{{ x }},{{ y }}");
        let out = UserTemplate::load(&path)
            .unwrap()
            .render(&serde_json::json!({"x": "=1", "y": 2}))
            .unwrap();
        assert_eq!(out, r#""'=1",2"#);
    }

    #[test]
    fn broken_templates_are_reported_with_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "bad.md.tera",
            "# Report\n\n{% for h in hosts %}\n{{ h.address }\n",
        );
        let err = UserTemplate::load(&path).unwrap_err().to_string();
        let expected = format!("template {}:4:", path.display());
        assert!(err.starts_with(&expected), "{err}");

        let path = write(
            dir.path(),
            "missing.md.tera",
            "# Report\n\n{{ scan.nope }}\n",
        );
        let err = UserTemplate::load(&path)
            .unwrap()
            .render(&serde_json::json!({"scan": {}}))
            .unwrap_err()
            .to_string();
        let expected = format!("template {}:3:", path.display());
        assert!(err.starts_with(&expected), "{err}");
        assert!(err.contains("scan.nope"), "{err}");
    }

    #[test]
    fn a_template_must_say_what_it_makes() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["report.html", ".tera", "x.tmpl"] {
            let path = write(dir.path(), name, "");
            assert!(
                matches!(
                    UserTemplate::load(&path),
                    Err(UserTemplateError::Name { .. })
                ),
                "{name}"
            );
        }
        let err = UserTemplate::load(&dir.path().join("gone.txt.tera")).unwrap_err();
        assert!(matches!(err, UserTemplateError::Read { .. }), "{err}");
    }

    #[test]
    fn escaper_follows_the_extension() {
        assert_eq!(escaper_for("tex")("%"), r"\%");
        assert_eq!(escaper_for("HTML")("<"), "&lt;");
        assert_eq!(escaper_for("xml")("<"), "&lt;");
        assert_eq!(escaper_for("json")("\""), "\\\"");
        assert_eq!(escaper_for("yaml")("\x1b"), "\\u{1b}");
    }
}
