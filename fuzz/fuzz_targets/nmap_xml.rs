//! nmap XML, as `brulee report` reads it from a file someone else wrote or a scan cut short:
//! any bytes must give a report or an error, never a panic, and whatever the scanned
//! services said must come out of the terminal summary without a control character.

#![no_main]

use brulee::findings::VulnersStatus;
use brulee::nmap::xml::read_scan;
use brulee::report::{render, Provenance, Report};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(scan) = read_scan(data, "fuzz.xml", |_| {}) else {
        return;
    };
    let provenance = Provenance {
        targets: vec![],
        xml_files: vec!["fuzz.xml".into()],
        vulners: VulnersStatus::from_xml(&scan),
        database: None,
    };
    let report = Report::build(&scan, provenance, None).expect("no database, no store error");
    let summary = render(&report, "summary").expect("the summary renders any report");
    if let Some(c) = summary
        .chars()
        .find(|c| c.is_control() && *c != '\n' && *c != '\t')
    {
        panic!("control character {c:?} reached the terminal summary:\n{summary}");
    }
    let json = render(&report, "json").expect("the JSON report renders any report");
    let back: Report = serde_json::from_str(&json).expect("the JSON report reads back");
    assert!(
        back == report,
        "the JSON report reads back as another report"
    );
});
