//! `--template NAME.EXT.tera`: a user's own template, rendered with the report model.

use super::*;

const TICKETS: &str =
    "id,where\n{% for f in findings %}{{ f.id }},{{ f.address }}:{{ f.port }}\n{% endfor %}";

#[test]
fn a_users_template_renders_into_the_output_folder_or_to_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("tickets.csv.tera");
    std::fs::write(&template, TICKETS).unwrap();
    let template_arg = template.to_str().unwrap();

    let out = dir.path().join("out");
    report_into(&fixture(FIXTURE), &out, &["--template", template_arg]);
    let tickets = std::fs::read_to_string(out.join("tickets.csv")).unwrap();
    // The CSV escaper quotes each value the template prints.
    assert!(
        tickets.starts_with("id,where\n\"CVE-2023-38408\",\"127.0.0.1\":12222\n"),
        "{tickets}"
    );
    assert!(!out.join("report.json").exists(), "only what was asked for");

    let result = run(brulee()
        .arg("report")
        .arg(fixture(FIXTURE))
        .args(["--template", template_arg]));
    assert_eq!(result.status.code(), Some(0));
    assert_eq!(stdout(&result), tickets);
}

#[test]
fn a_broken_template_is_named_with_its_line_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("broken.md.tera");
    std::fs::write(
        &template,
        "# Hosts\n\n{% for h in hosts %}\n- {{ h.address }\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let result = run(brulee()
        .arg("report")
        .arg(fixture(FIXTURE))
        .arg("-o")
        .arg(&out)
        .arg("--template")
        .arg(&template));
    assert_eq!(result.status.code(), Some(2));
    let expected = format!("error: template {}:4:", template.display());
    assert!(
        stderr(&result).starts_with(&expected),
        "{}",
        stderr(&result)
    );
    assert!(!out.exists());

    let misnamed = dir.path().join("report.tmpl");
    std::fs::write(&misnamed, "{{ summary.findings }}").unwrap();
    let result = run(brulee()
        .arg("report")
        .arg(fixture(FIXTURE))
        .arg("--template")
        .arg(&misnamed));
    assert_eq!(result.status.code(), Some(2));
    assert!(
        stderr(&result).contains("NAME.EXT.tera"),
        "{}",
        stderr(&result)
    );
}
