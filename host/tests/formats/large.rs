//! A scan of 1,000 hosts and 10,000 findings: the PDF compiles (Flan Scan's LaTeX stopped with
//! "Too many unprocessed floats" on large scans) and the HTML page opens and sorts.

use std::time::Instant;

use super::chromium::{file_url, Browser};
use super::*;

#[test]
fn a_scan_of_1000_hosts_and_10000_findings_makes_a_pdf_and_an_html_page_that_sorts() {
    require(&["latexmk", "pdftotext", "pdfinfo"]);
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("large.xml");
    std::fs::write(&xml, generate::large_scan(1000)).unwrap();
    let out = dir.path().join("out");

    let started = Instant::now();
    report_into(&xml, &out, &["--format", "json,html,csv", "--pdf"]);
    let elapsed = started.elapsed();

    let report = read_json(&out.join("report.json"));
    assert_eq!(report["summary"]["hosts_up"], 1000);
    assert_eq!(report["summary"]["findings"], 10_000);
    assert_eq!(report["summary"]["unchecked_services"], 1);
    let rows = csv::Reader::from_path(out.join("report.csv"))
        .unwrap()
        .records()
        .count();
    assert_eq!(rows, 10_000);

    let pdf = out.join("report.pdf");
    let pages = pdf_pages(&pdf);
    let text = pdf_text(&pdf);
    for expected in [
        "CVE-2016-20000",
        "CVE-2021-30393",
        "10.20.3.250:22/tcp",
        "host995.example.internal",
    ] {
        assert!(text.contains(expected), "{expected} is not in the PDF");
    }
    eprintln!(
        "1,000 hosts, 10,000 findings: report, HTML, CSV and a PDF of {pages} pages in {:.1} s",
        elapsed.as_secs_f64()
    );
    keep(&pdf, "large-report.pdf");

    let page = out.join("report.html");
    let mut browser = Browser::launch();
    let opened = Instant::now();
    browser.open(&file_url(&page));
    let load = opened.elapsed();
    assert_eq!(
        browser.eval("document.querySelectorAll('#findings-table tbody tr').length"),
        10_000
    );
    let sorted = Instant::now();
    let lowest = browser.eval(
        "(() => { const b = Array.from(document.querySelectorAll('#findings-table th button'))
             .find(b => b.textContent === 'CVSS'); b.click();
           const rows = document.querySelectorAll('#findings-table tbody tr');
           return [rows[0].cells[1].textContent, rows[rows.length - 1].cells[1].textContent]; })()",
    );
    assert_eq!(lowest, serde_json::json!(["3.1", "9.8"]));
    eprintln!(
        "HTML of 10,000 findings: loaded in {:.1} s, sorted in {:.2} s",
        load.as_secs_f64(),
        sorted.elapsed().as_secs_f64()
    );
    assert_eq!(browser.problems(), Vec::<String>::new());
    assert_eq!(browser.requests(), [file_url(&page)]);
}
