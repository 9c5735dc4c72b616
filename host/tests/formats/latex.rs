//! The LaTeX report, compiled by real pdflatex (through `--pdf`) and read back with pdftotext.

use std::process::Command;

use super::*;

#[test]
fn latex_report_compiles_to_a_pdf_that_names_every_cve_and_place() {
    require(&[
        "latexmk",
        "pdflatex",
        "pdftotext",
        "pdfinfo",
        "pdffonts",
        "pdftoppm",
    ]);
    let out = tempfile::tempdir().unwrap();
    report_into(
        &fixture(FIXTURE),
        out.path(),
        &["--format", "latex", "--pdf"],
    );
    let pdf = out.path().join("report.pdf");
    assert!(out.path().join("report.tex").is_file());
    let text = pdf_text(&pdf);
    for expected in [
        "CVE-2023-38408",
        "CVE-2020-15778",
        "CVE-2023-44487",
        "PACKETSTORM:173661",
        "127.0.0.1:12222/tcp",
        "127.0.0.1:18081/tcp",
        "127.0.0.1:12121/tcp",
        "OpenSSH 8.2p1 Ubuntu 4ubuntu0.5",
        "Services without known vulnerabilities",
        "vsftpd 3.0.3",
    ] {
        assert!(
            text.contains(expected),
            "{expected} is not in the PDF:\n{text}"
        );
    }
    // The NVD links are real links.
    let links = Command::new("pdfinfo")
        .arg("-url")
        .arg(&pdf)
        .output()
        .unwrap();
    let links = String::from_utf8_lossy(&links.stdout);
    assert!(
        links.contains("https://nvd.nist.gov/vuln/detail/CVE-2023-38408"),
        "{links}"
    );
    // Scalable fonts only: a Type 3 (bitmap) font means a font package is missing.
    let fonts = Command::new("pdffonts").arg(&pdf).output().unwrap();
    let fonts = String::from_utf8_lossy(&fonts.stdout);
    assert!(!fonts.contains("Type 3"), "{fonts}");

    let kept = keep(&pdf, "fixture-report.pdf");
    let status = Command::new("pdftoppm")
        .args(["-png", "-r", "60", "-f", "1", "-l", "1"])
        .arg(&kept)
        .arg(artifacts().join("fixture-report-page"))
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn without_a_tex_engine_the_tex_is_written_and_the_error_says_what_to_install() {
    let out = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let result = run(brulee()
        .env("PATH", empty.path())
        .arg("report")
        .arg(fixture(FIXTURE))
        .arg("-o")
        .arg(out.path())
        .arg("--pdf"));
    assert_eq!(result.status.code(), Some(1));
    assert!(out.path().join("report.tex").is_file());
    assert!(!out.path().join("report.pdf").exists());
    assert!(
        stderr(&result).contains(
            "apt-get install texlive-latex-recommended texlive-fonts-recommended latexmk"
        ),
        "{}",
        stderr(&result)
    );
}

#[test]
fn without_an_output_folder_the_pdf_goes_where_scan_reports_go() {
    let cwd = tempfile::tempdir().unwrap();
    let result = run(brulee()
        .current_dir(cwd.path())
        .arg("report")
        .arg(fixture(FIXTURE))
        .args(["--format", "latex", "--pdf"]));
    assert_eq!(result.status.code(), Some(0));
    let folders: Vec<PathBuf> = std::fs::read_dir(cwd.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(folders.len(), 1);
    let name = folders[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(name.starts_with("brulee-report-"), "{name}");
    assert!(folders[0].join("report.pdf").is_file());
}
