//! Turning a [`Report`] into files, through the formats of the `brulee-reports` crate.

use std::path::{Path, PathBuf};

pub use brulee_reports::RenderError;
use brulee_reports::UserTemplate;

use super::Report;

/// `--format` help: the registered formats, one per line.
pub static FORMATS_HELP: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    brulee_reports::formats()
        .iter()
        .map(|f| format!("  {:<10} {}", f.name, f.description))
        .collect::<Vec<_>>()
        .join("\n")
});

/// Render the report in the named format.
pub fn render(report: &Report, format: &str) -> Result<String, RenderError> {
    let format = brulee_reports::find_format(format)?;
    brulee_reports::render(format, &to_value(report))
}

fn to_value(report: &Report) -> serde_json::Value {
    serde_json::to_value(report).expect("the report model always serialises")
}

/// Render the report with a user's template.
pub fn render_user_template(
    report: &Report,
    template: &UserTemplate,
) -> Result<String, RenderError> {
    template.render(&to_value(report))
}

/// Write `report.EXT` for each format, and each user template's output, into `dir`; returns
/// the files written.
///
/// Everything is rendered before anything is written, so a broken template writes nothing;
/// each file is written to a temporary name and renamed into place, so a reader never sees
/// half a report and a failure leaves the earlier files intact.
pub fn write_reports(
    report: &Report,
    dir: &Path,
    formats: &[String],
    templates: &[UserTemplate],
) -> Result<Vec<PathBuf>, WriteError> {
    let value = to_value(report);
    let mut outputs = Vec::new();
    for name in formats {
        let format = brulee_reports::find_format(name)?;
        let text = brulee_reports::render(format, &value)?;
        outputs.push((dir.join(format!("report.{}", format.extension)), text));
    }
    for template in templates {
        outputs.push((dir.join(&template.output_name), template.render(&value)?));
    }
    let mut written = Vec::new();
    for (path, text) in outputs {
        write_atomically(&path, text.as_bytes()).map_err(|err| WriteError::Io {
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

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("could not write {}: {err}", path.display())]
    Io { path: PathBuf, err: std::io::Error },
}
