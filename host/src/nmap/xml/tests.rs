use super::*;
use crate::model::{AddressKind, ScriptNode};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/../fixtures/nmap/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn read(bytes: &[u8]) -> Result<ScanRun, XmlError> {
    read_scan(bytes, "test.xml", |_| {})
}

#[test]
fn reads_a_real_scan_with_vulners_tables() {
    let run = read(&fixture("nmap793_vulners_mockapi.xml")).unwrap();
    assert!(run.complete);
    assert_eq!(run.nmap_version.as_deref(), Some("7.93"));
    assert_eq!(run.start, Some(1795563079));
    assert_eq!(run.end, Some(1795563085));
    assert!(run.commands[0].contains("--script"), "{:?}", run.commands);
    assert_eq!(run.scan_info[0].scan_type, "syn");
    assert_eq!(run.hosts.len(), 1);
    let host = &run.hosts[0];
    assert_eq!(host.status, "up");
    assert_eq!(host.addresses[0].addr, "127.0.0.1");
    assert_eq!(host.addresses[0].kind, AddressKind::Ipv4);
    let ports: Vec<u16> = host.ports.iter().map(|p| p.number).collect();
    assert_eq!(ports, [12121, 12222, 18081]);

    let ssh = &host.ports[1];
    assert_eq!(ssh.state, "open");
    assert_eq!(ssh.reason.as_deref(), Some("syn-ack"));
    let service = ssh.service.as_ref().unwrap();
    assert_eq!(service.name, "ssh");
    assert_eq!(service.product.as_deref(), Some("OpenSSH"));
    assert_eq!(service.version.as_deref(), Some("8.2p1 Ubuntu 4ubuntu0.5"));
    assert_eq!(
        service.extra_info.as_deref(),
        Some("Ubuntu Linux; protocol 2.0")
    );
    assert_eq!(service.method.as_deref(), Some("probed"));
    assert_eq!(service.confidence, Some(10));
    assert_eq!(
        service.cpes,
        ["cpe:/a:openbsd:openssh:8.2p1", "cpe:/o:linux:linux_kernel"]
    );

    let vulners = ssh.script("vulners").unwrap();
    assert!(vulners.output.contains("CVE-2023-38408"));
    let group = &vulners.content[0];
    assert_eq!(group.key(), Some("cpe:/a:openbsd:openssh:8.2p1"));
    assert_eq!(group.children().len(), 3);
    assert_eq!(group.children()[0].elem("id"), Some("CVE-2023-38408"));
    assert_eq!(group.children()[2].elem("is_exploit"), Some("true"));

    // A script with a bare, keyless <elem>.
    let header = host.ports[2].script("http-server-header").unwrap();
    assert_eq!(
        header.content,
        [ScriptNode::Elem {
            key: None,
            value: "nginx/1.22.1".into()
        }]
    );
}

#[test]
fn reads_several_cpe_tables_and_scripts_on_one_port() {
    let run = read(&fixture("upstream_golden_1x.xml")).unwrap();
    let port = &run.hosts[0].ports[0];
    let service = port.service.as_ref().unwrap();
    assert_eq!(service.cpes.len(), 3);
    let ids: Vec<&str> = port.scripts.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "http-vulners-regex",
            "vulners_enterprise",
            "vulners",
            "http-server-header"
        ]
    );
    let enterprise = port.script("vulners_enterprise").unwrap();
    assert_eq!(enterprise.content.len(), 2, "one table per CPE");
    assert_eq!(
        enterprise.content[0].children()[0].elem("cvss_type"),
        Some("cvss3.1")
    );
    // The fixture normalised its port number away: the port is kept, with a warning.
    assert_eq!(port.number, 0);
    assert!(
        run.warnings.iter().any(|w| w.contains("TARGET_PORT")),
        "{:?}",
        run.warnings
    );
}

#[test]
fn a_document_cut_anywhere_never_panics_and_keeps_whole_hosts() {
    let xml = fixture("nmap793_vulners_mockapi.xml");
    let host_end = find(&xml, b"</host>") + b"</host>".len();
    let end = find(&xml, b"</nmaprun>") + b"</nmaprun".len();
    for cut in (0..end)
        .step_by(7)
        .chain([host_end, find(&xml, b"</nmaprun>") + 3])
    {
        match read(&xml[..cut]) {
            Ok(run) => {
                assert!(!run.complete, "cut at {cut} read as complete");
                assert_eq!(
                    run.hosts.len(),
                    usize::from(cut >= host_end),
                    "cut at {cut}"
                );
                assert!(run
                    .warnings
                    .iter()
                    .any(|w| w.contains("ends before nmap finished")));
            }
            // Cut inside the prologue: nothing that could be called nmap XML yet.
            Err(XmlError::Empty { .. }) | Err(XmlError::Malformed { .. }) => {
                assert!(cut <= find(&xml, b"<scaninfo"), "cut at {cut} failed")
            }
            Err(err) => panic!("cut at {cut}: {err}"),
        }
    }
}

#[test]
fn refuses_xml_that_is_not_nmaps_and_says_where() {
    let err = read(b"<?xml version=\"1.0\"?>\n<rss><channel/></rss>").unwrap_err();
    assert!(matches!(err, XmlError::NotNmap { line: 2, .. }), "{err}");
    assert!(err.to_string().contains("test.xml:2"), "{err}");
    assert!(matches!(read(b""), Err(XmlError::Empty { .. })));
    assert!(matches!(read(b"   \n"), Err(XmlError::Empty { .. })));
    let err = read(b"<nmaprun>\n<host><ports><port protocol=\"tcp\" portid=\"1\"><state state=\"open\"/></port></ports></hostx></nmaprun>").unwrap_err();
    assert!(matches!(err, XmlError::Malformed { .. }), "{err}");
}

#[test]
fn never_reads_external_entities() {
    let xml = br#"<?xml version="1.0"?>
<!DOCTYPE nmaprun [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<nmaprun scanner="nmap" args="&xxe;" version="7.93">
<host><status state="up"/><address addr="127.0.0.1" addrtype="ipv4"/><hostnames><hostname name="&xxe;"/></hostnames></host>
</nmaprun>"#;
    let outcome = format!("{:?}", read(xml));
    assert!(
        !outcome.contains("root:"),
        "the entity was expanded: {outcome}"
    );
}

#[test]
fn invalid_utf8_is_an_error_not_a_panic() {
    let mut xml =
        b"<nmaprun scanner=\"nmap\"><host><status state=\"up\"/><address addr=\"".to_vec();
    xml.extend_from_slice(&[0xff, 0xfe]);
    xml.extend_from_slice(b"\" addrtype=\"ipv4\"/></host></nmaprun>");
    let _ = read(&xml); // must return, either way
}

#[test]
fn reports_progress_and_hosts_as_they_stream() {
    let xml = br#"<nmaprun scanner="nmap" version="7.93" args="nmap" start="1">
<taskprogress task="Service scan" time="2" percent="40.00" remaining="6" etc="8"/>
<host><status state="up"/><address addr="127.0.0.2" addrtype="ipv4"/></host>
<host><status state="down" reason="no-response"/><address addr="127.0.0.3" addrtype="ipv4"/></host>
<runstats><finished time="9" exit="success"/></runstats></nmaprun>"#;
    let mut events = Vec::new();
    let run = read_scan(&xml[..], "t", |e| {
        events.push(match e {
            ParseEvent::Progress(p) => format!("{} {} {:?}", p.task, p.percent, p.remaining),
            ParseEvent::HostDone(h) => format!("host {}", h.primary_address().unwrap()),
        })
    })
    .unwrap();
    assert_eq!(
        events,
        [
            "Service scan 40 Some(6)",
            "host 127.0.0.2",
            "host 127.0.0.3"
        ]
    );
    assert_eq!(run.end, Some(9));
    assert_eq!(run.hosts[1].status, "down");
    assert_eq!(run.hosts[1].status_reason.as_deref(), Some("no-response"));
}

fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap()
}

#[test]
fn reads_down_hosts_and_mac_addresses_from_a_namespace_scan() {
    let run = read(&fixture("hosts-down.xml")).unwrap();
    assert!(run.complete);
    let states: Vec<&str> = run.hosts.iter().map(|h| h.status.as_str()).collect();
    assert_eq!(
        states,
        ["down", "up"],
        "nmap's <hosthint> elements are not hosts"
    );
    let up = &run.hosts[1];
    assert_eq!(up.addresses[1].kind, AddressKind::Mac);
    assert_eq!(
        up.primary_address(),
        Some("10.231.47.2"),
        "a MAC address is never the primary one"
    );
    let redis = up.ports[0].service.as_ref().unwrap();
    assert_eq!(redis.version.as_deref(), Some("7.0.15"));
    assert!(
        redis.cpes[0].starts_with("cpe:/a:redislabs:redis"),
        "{:?}",
        redis.cpes
    );
}

#[test]
fn reads_ipv6_and_udp_scans() {
    let run = read(&fixture("ipv6-loopback.xml")).unwrap();
    let host = &run.hosts[0];
    assert_eq!(host.addresses[0].kind, AddressKind::Ipv6);
    assert_eq!(host.primary_address(), Some("::1"));
    assert_eq!(
        host.ports[0].service.as_ref().unwrap().product.as_deref(),
        Some("nginx")
    );

    let run = read(&fixture("udp-loopback.xml")).unwrap();
    assert_eq!(run.scan_info[0].scan_type, "udp");
    let ports = &run.hosts[0].ports;
    assert!(ports.iter().all(|p| p.protocol == "udp"));
    assert!(ports.iter().any(|p| p.state == "open"), "{ports:?}");
}
