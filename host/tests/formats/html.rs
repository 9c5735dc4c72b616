//! The HTML report in real headless Chromium.

use serde_json::{json, Value};

use super::chromium::{file_url, Browser};
use super::*;

/// The text of one column of the findings table, top to bottom, visible rows only.
fn column(browser: &mut Browser, index: usize) -> Vec<String> {
    let value = browser.eval(&format!(
        "Array.from(document.querySelectorAll('#findings-table tbody tr'))
           .filter(r => !r.hidden).map(r => r.cells[{index}].textContent.trim())"
    ));
    serde_json::from_value(value).unwrap()
}

fn click_header(browser: &mut Browser, label: &str) -> Value {
    browser.eval(&format!(
        "(() => {{ const th = Array.from(document.querySelectorAll('#findings-table th'))
             .find(th => th.textContent.trim() === {label:?});
           th.querySelector('button').click(); return th.getAttribute('aria-sort'); }})()"
    ))
}

#[test]
fn html_report_opens_offline_without_errors_sorts_filters_and_fits_a_phone() {
    let out = tempfile::tempdir().unwrap();
    report_into(&fixture(FIXTURE), out.path(), &["--format", "html"]);
    let page = out.path().join("report.html");

    let mut browser = Browser::launch();
    browser.viewport(1280, 900, false);
    browser.open(&file_url(&page));

    assert_eq!(
        browser.eval("document.querySelectorAll('#findings-table tbody tr').length"),
        4
    );
    // Most severe first, as the report model orders them.
    assert_eq!(
        column(&mut browser, 2),
        [
            "CVE-2023-38408",
            "CVE-2020-15778",
            "CVE-2023-44487",
            "PACKETSTORM:173661"
        ]
    );
    assert_eq!(click_header(&mut browser, "CVSS"), "ascending");
    assert_eq!(column(&mut browser, 1), ["", "7.5", "7.8", "9.8"]);
    assert_eq!(click_header(&mut browser, "CVSS"), "descending");
    assert_eq!(column(&mut browser, 1), ["9.8", "7.8", "7.5", ""]);
    assert_eq!(click_header(&mut browser, "Vulnerability"), "ascending");
    assert_eq!(
        column(&mut browser, 2),
        [
            "CVE-2020-15778",
            "CVE-2023-38408",
            "CVE-2023-44487",
            "PACKETSTORM:173661"
        ]
    );
    assert_eq!(click_header(&mut browser, "Severity"), "ascending");
    assert_eq!(
        column(&mut browser, 0),
        ["unknown", "high", "high", "critical"]
    );

    // Filters: free text and severity.
    browser.eval(
        "{ const f = document.getElementById('findings-filter'); f.value = 'nginx';
           f.dispatchEvent(new Event('input')); }",
    );
    assert_eq!(column(&mut browser, 2), ["CVE-2023-44487"]);
    assert_eq!(
        browser.eval("document.getElementById('findings-count').textContent"),
        "1 of 4 shown"
    );
    browser.eval(
        "{ const f = document.getElementById('findings-filter'); f.value = '';
           f.dispatchEvent(new Event('input'));
           const s = document.getElementById('findings-severity'); s.value = 'high';
           s.dispatchEvent(new Event('change')); }",
    );
    assert_eq!(column(&mut browser, 0), ["high", "high"]);

    // The CVE ids link to the NVD.
    assert_eq!(
        browser.eval("document.querySelector('#vulnerable a').href"),
        "https://nvd.nist.gov/vuln/detail/CVE-2023-38408"
    );
    browser.eval("window.scrollTo(0, 0)");
    browser.screenshot(&artifacts().join("report-desktop.png"), true);

    // A phone: the page itself never scrolls sideways (wide tables scroll in their box).
    browser.viewport(390, 844, true);
    assert_eq!(
        browser.eval("document.documentElement.scrollWidth <= window.innerWidth"),
        true,
        "the page is wider than a phone"
    );
    browser.screenshot(&artifacts().join("report-phone.png"), false);

    // Print: no navigation or filter controls on paper.
    browser.media("print");
    assert_eq!(
        browser.eval(
            "[getComputedStyle(document.querySelector('nav')).display,
              getComputedStyle(document.querySelector('.filters')).display]"
        ),
        json!(["none", "none"])
    );

    assert_eq!(browser.problems(), Vec::<String>::new(), "console errors");
    assert_eq!(
        browser.requests(),
        [file_url(&page)],
        "the report fetched something besides itself"
    );
}
