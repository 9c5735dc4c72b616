//! nmap XML of a large scan, made up here in the shape nmap 7.93 and the vulners script write
//! (the same elements as fixtures/nmap/nmap793_vulners_mockapi.xml): for report sizes no
//! fixture has. The addresses are data only; nothing is scanned.

use std::fmt::Write as _;

/// Every host runs OpenSSH (one of 50 versions, 6 vulnerabilities each) and nginx (one of 40
/// versions, 4 each): 10 findings per host. Every tenth host also has a service nmap could not
/// identify (so it is not checked), every fifth a host name.
pub fn large_scan(hosts: usize) -> String {
    let mut xml = String::from(concat!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE nmaprun>\n",
        "<nmaprun scanner=\"nmap\" args=\"nmap -n -sV --script vulners -oX large.xml 10.20.0.0/22\" ",
        "start=\"1795563079\" startstr=\"Tue Nov 24 23:31:19 2026\" version=\"7.93\" xmloutputversion=\"1.05\">\n",
        "<scaninfo type=\"syn\" protocol=\"tcp\" numservices=\"1000\" services=\"1-1000\"/>\n",
    ));
    for i in 0..hosts {
        let address = format!("10.20.{}.{}", i / 250, i % 250 + 1);
        let hostnames = if i % 5 == 0 {
            format!("<hostname name=\"host{i}.example.internal\" type=\"PTR\"/>")
        } else {
            String::new()
        };
        write!(
            xml,
            "<host starttime=\"1795563079\" endtime=\"1795563085\"><status state=\"up\" reason=\"syn-ack\" reason_ttl=\"0\"/>\n\
             <address addr=\"{address}\" addrtype=\"ipv4\"/>\n<hostnames>{hostnames}</hostnames>\n<ports>"
        )
        .unwrap();
        let ssh = i % 50;
        port(
            &mut xml,
            22,
            "ssh",
            "OpenSSH",
            &format!("8.{}p1", ssh),
            &format!("cpe:/a:openbsd:openssh:8.{ssh}p1"),
            &(0..6)
                .map(|k| {
                    (
                        format!("CVE-20{}-{}", 16 + k, 20000 + ssh * 10 + k),
                        SCORES[k],
                        k == 1,
                    )
                })
                .collect::<Vec<_>>(),
        );
        let http = i % 40;
        port(
            &mut xml,
            443,
            "https",
            "nginx",
            &format!("1.{}.0", http),
            &format!("cpe:/a:igor_sysoev:nginx:1.{http}.0"),
            &(0..4)
                .map(|k| {
                    (
                        format!("CVE-20{}-{}", 18 + k, 30000 + http * 10 + k),
                        SCORES[k + 2],
                        false,
                    )
                })
                .collect::<Vec<_>>(),
        );
        if i % 10 == 0 {
            xml.push_str(
                "<port protocol=\"tcp\" portid=\"9999\"><state state=\"open\" reason=\"syn-ack\" reason_ttl=\"64\"/>\
                 <service name=\"unknown\" method=\"table\" conf=\"3\"/></port>\n",
            );
        }
        xml.push_str("</ports>\n</host>\n");
    }
    write!(
        xml,
        "<runstats><finished time=\"1795563985\" timestr=\"Tue Nov 24 23:46:25 2026\" elapsed=\"906.00\" exit=\"success\"/>\
         <hosts up=\"{hosts}\" down=\"0\" total=\"{hosts}\"/>\n</runstats>\n</nmaprun>\n"
    )
    .unwrap();
    xml
}

/// CVSS scores spread over every severity.
const SCORES: [f64; 6] = [9.8, 8.1, 7.5, 5.3, 4.3, 3.1];

fn port(
    xml: &mut String,
    number: u16,
    name: &str,
    product: &str,
    version: &str,
    cpe: &str,
    vulns: &[(String, f64, bool)],
) {
    let mut output = format!("&#xa;  {cpe}: ");
    let mut tables = String::new();
    for (id, cvss, exploit) in vulns {
        write!(
            output,
            "&#xa;    &#x9;{id}&#x9;{cvss}&#x9;https://vulners.com/cve/{id}"
        )
        .unwrap();
        if *exploit {
            output.push_str("&#x9;*EXPLOIT*");
        }
        write!(
            tables,
            "<table>\n<elem key=\"type\">cve</elem>\n<elem key=\"cvss\">{cvss}</elem>\n\
             <elem key=\"is_exploit\">{exploit}</elem>\n<elem key=\"id\">{id}</elem>\n</table>\n"
        )
        .unwrap();
    }
    write!(
        xml,
        "<port protocol=\"tcp\" portid=\"{number}\"><state state=\"open\" reason=\"syn-ack\" reason_ttl=\"64\"/>\
         <service name=\"{name}\" product=\"{product}\" version=\"{version}\" method=\"probed\" conf=\"10\"><cpe>{cpe}</cpe></service>\
         <script id=\"vulners\" output=\"{output}\"><table key=\"{cpe}\">\n{tables}</table>\n</script></port>\n"
    )
    .unwrap();
}
