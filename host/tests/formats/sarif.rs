//! The SARIF report checked by Microsoft's SARIF Multitool (`validate`: the SARIF 2.1.0 JSON
//! schema plus its rules), the validator GitHub code scanning's format comes from. It is
//! installed under the tools folder by `cargo xtask setup --test`.

use std::path::Path;

use super::*;

/// Every problem the Multitool reports at level "error", and its warnings but SARIF2005 (the
/// tool has no `informationUri`: brulee has no public home page to name yet).
fn validate(sarif: &Path, dir: &Path) -> (Vec<String>, Vec<String>) {
    let multitool = testkit::storage::tool(
        "sarif-multitool/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let log = dir.join("validation.sarif");
    let out = std::process::Command::new(multitool)
        .arg("validate")
        .arg(sarif)
        .arg("--output")
        .arg(&log)
        .args(["--log", "ForceOverwrite"])
        .output()
        .expect("the SARIF Multitool runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // The Multitool exits 0 whatever it finds: its own SARIF log says what it found.
    let log = read_json(&log);
    let results = log["runs"][0]["results"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let at_level = |level: &str| -> Vec<String> {
        results
            .iter()
            .filter(|r| r["level"] == level && r["ruleId"] != "SARIF2005")
            .map(|r| format!("{}: {}", r["ruleId"], r["message"]))
            .collect()
    };
    (at_level("error"), at_level("warning"))
}

#[test]
fn sarif_reports_pass_the_sarif_multitool() {
    let dir = tempfile::tempdir().unwrap();
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports/golden");
    // The golden files are what the renderer writes (golden.rs checks that), for the fixture
    // scan and for a report with every field: not-checked services become notifications.
    for report in ["fixture", "extended"] {
        let (errors, warnings) = validate(&golden.join(report).join("report.sarif"), dir.path());
        assert!(errors.is_empty(), "{report}: {errors:#?}");
        assert!(warnings.is_empty(), "{report}: {warnings:#?}");
    }
    // Hostile banners (quotes, markup, control characters) still make valid SARIF.
    let out = report_into(
        &hostile::hostile_xml(dir.path()),
        &dir.path().join("hostile"),
        &["--format", "sarif"],
    );
    let (errors, _) = validate(&out.join("report.sarif"), dir.path());
    assert!(errors.is_empty(), "hostile banners: {errors:#?}");
}
