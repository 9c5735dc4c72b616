//! Turning a [`Report`] into files, through the formats of the `brulee-reports` crate.

use std::io::Write;
use std::path::{Path, PathBuf};

pub use brulee_reports::RenderError;
use brulee_reports::UserTemplate;
use serde::Serialize;

use super::Report;

/// `--format` help: the registered formats, one per line.
pub static FORMATS_HELP: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    brulee_reports::formats()
        .iter()
        .map(|f| format!("  {:<10} {}", f.name, f.description))
        .collect::<Vec<_>>()
        .join("\n")
});

/// Render the report in the named format. `report` is a [`Report`] or a
/// [`CompactReport`](super::CompactReport), whose JSON is the same.
pub fn render<R: Serialize + AsRef<Report>>(
    report: &R,
    format: &str,
) -> Result<String, RenderError> {
    let format = brulee_reports::find_format(format)?;
    render_format(report, format, &mut None)
}

/// Render one format. The canonical JSON is written straight from the model; other formats
/// share one JSON value of the report (`value`), made the first time one needs it: on a large
/// scan that copy is the biggest thing in memory, so it is made once or not at all. The
/// terminal summary gets a view without the flat findings and hosts it never shows.
fn render_format<R: Serialize + AsRef<Report>>(
    report: &R,
    format: &brulee_reports::Format,
    value: &mut Option<serde_json::Value>,
) -> Result<String, RenderError> {
    match format.name {
        "json" => {
            let mut text =
                serde_json::to_string_pretty(report).expect("the report model always serialises");
            text.push('\n');
            Ok(text)
        }
        "summary" if value.is_none() => {
            brulee_reports::render(format, &summary_view(report.as_ref()))
        }
        _ => brulee_reports::render(format, value.get_or_insert_with(|| to_value(report))),
    }
}

fn to_value(report: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(report).expect("the report model always serialises")
}

fn summary_view(report: &Report) -> serde_json::Value {
    // The summary lists five vulnerabilities per service and counts the rest.
    let services: Vec<serde_json::Value> = report
        .services
        .iter()
        .map(|s| {
            let mut short = s.clone();
            short.vulnerabilities.truncate(5);
            let mut value = serde_json::to_value(short).expect("a service group serialises");
            value["vulnerability_count"] = s.vulnerabilities.len().into();
            value
        })
        .collect();
    serde_json::json!({
        "schema_version": report.schema_version,
        "generator": report.generator,
        "scan": report.scan,
        "summary": report.summary,
        "services": services,
        "findings": [],
        "suppressed": report.suppressed,
        "hosts": [],
        "diff": report.diff,
    })
}

/// Render the report with a user's template.
pub fn render_user_template(
    report: &impl Serialize,
    template: &UserTemplate,
) -> Result<String, RenderError> {
    template.render(&to_value(report))
}

/// Write `report.EXT` for each format, and each user template's output, into `dir`; returns
/// the files written.
///
/// Everything is rendered before anything is written, so a broken template writes nothing;
/// each file is written to a temporary name and renamed into place, so a reader never sees
/// half a report and a failure leaves the earlier files intact. The JSON report, the largest,
/// is never held whole: it is serialised straight into its file.
pub fn write_reports<R: Serialize + AsRef<Report>>(
    report: &R,
    dir: &Path,
    formats: &[String],
    templates: &[UserTemplate],
) -> Result<Vec<PathBuf>, WriteError> {
    let mut value = None;
    // (file, its text; None for the JSON report, streamed when written)
    let mut outputs = Vec::new();
    for name in formats {
        let format = brulee_reports::find_format(name)?;
        let path = dir.join(format!("report.{}", format.extension));
        if format.name == "json" {
            outputs.push((path, None));
            continue;
        }
        let text = render_format(report, format, &mut value)?;
        outputs.push((path, Some(text)));
    }
    for template in templates {
        let value = value.get_or_insert_with(|| to_value(report));
        outputs.push((
            dir.join(&template.output_name),
            Some(template.render(value)?),
        ));
    }
    let mut written = Vec::new();
    for (path, text) in outputs {
        let result = match text {
            Some(text) => write_atomically(&path, text.as_bytes()),
            None => write_json_atomically(&path, report),
        };
        result.map_err(|err| WriteError::Io {
            path: path.clone(),
            err,
        })?;
        written.push(path);
    }
    Ok(written)
}

pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// The canonical JSON of `report`, pretty-printed as [`render`] does, written through a buffer.
pub fn write_json(report: &impl Serialize, out: impl Write) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::with_capacity(256 * 1024, out);
    serde_json::to_writer_pretty(&mut out, report)?;
    out.write_all(b"\n")?;
    out.flush()
}

fn write_json_atomically(path: &Path, report: &impl Serialize) -> std::io::Result<()> {
    let tmp = path.with_extension("partial");
    write_json(report, std::fs::File::create(&tmp)?)?;
    std::fs::rename(&tmp, path)
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("could not write {}: {err}", path.display())]
    Io { path: PathBuf, err: std::io::Error },
}
