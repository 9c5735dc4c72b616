//! The report formats end to end: golden files, the LaTeX report compiled by real pdflatex and
//! read back with pdftotext, the HTML report opened in real headless Chromium, hostile banners
//! through every format, and a generated scan of 1,000 hosts and 10,000 findings.
//!
//! Nothing here scans: every report is made from nmap XML (the fixtures, or XML made here).
//! The tools come from `cargo xtask setup --test`; a missing one fails the test and says so.

#[path = "../common/mod.rs"]
mod common;

mod chromium;
mod generate;
mod golden;
mod hostile;
mod html;
mod large;
mod latex;
mod sarif;
mod template;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// The fixture every format is checked on: real nmap 7.93 XML with vulners output.
pub const FIXTURE: &str = "nmap793_vulners_mockapi.xml";

/// Fail, saying how to get them, unless these programs are on PATH.
pub fn require(programs: &[&str]) {
    let missing: Vec<&str> = programs
        .iter()
        .copied()
        .filter(|p| which(p).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "missing {missing:?}: run `cargo xtask setup --test` first"
    );
}

pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// `brulee report XML -o DIR ARGS…`, which must succeed; returns DIR.
pub fn report_into(xml: &Path, dir: &Path, args: &[&str]) -> PathBuf {
    let result = run(brulee()
        .arg("report")
        .arg(xml)
        .arg("-o")
        .arg(dir)
        .args(args));
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    dir.to_owned()
}

/// Where tests leave what a person may want to look at (screenshots, PDFs, page images).
pub fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("formats");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The text of a PDF, as `pdftotext` reads it, with each run of white space made one space
/// and none left where a line broke inside a word (the LaTeX report lets long addresses and
/// CPEs break after `.`, `:` and `/`).
pub fn pdf_text(pdf: &Path) -> String {
    let out = Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext runs");
    assert!(out.status.success(), "pdftotext {}", pdf.display());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut joined = String::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !joined.is_empty() && !joined.ends_with(['.', ':', '/', '_', '-']) {
            joined.push(' ');
        }
        joined.push_str(line);
    }
    joined
}

/// The number of pages of a PDF, from `pdfinfo`.
pub fn pdf_pages(pdf: &Path) -> usize {
    let out = Command::new("pdfinfo")
        .arg(pdf)
        .output()
        .expect("pdfinfo runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("pdfinfo gave no page count for {}", pdf.display()))
}

/// Copy a file into [`artifacts`] under `name`, and say where it is.
pub fn keep(file: &Path, name: &str) -> PathBuf {
    let kept = artifacts().join(name);
    std::fs::copy(file, &kept).unwrap();
    eprintln!("kept {}", kept.display());
    kept
}
