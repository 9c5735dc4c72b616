//! Generated nmap XML for the report-path benchmark, shaped like a real `nmap -sV --script
//! vulners` scan of many servers.
//!
//! Hosts draw their services from `fixtures/bench/service-mix.tsv` (real products and versions
//! as nmap names them, with nmap's CPEs, weighted), and each versioned service gets the vulners
//! table a scan of that version has: the CVEs and CVSS scores that NVD's records give for it,
//! from `fixtures/bench/vulners-tables.tsv` (made by `cargo xtask bench --refresh-tables`, see
//! the README beside them). The same seed always gives the same file.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};

/// One line of the service mix.
#[derive(Debug, Clone)]
pub struct MixEntry {
    weight: u32,
    port: u16,
    name: String,
    product: String,
    version: String,
    extrainfo: String,
    pub cpe: String,
}

/// One bulletin of a vulners table.
#[derive(Debug, Clone)]
pub struct Bulletin {
    id: String,
    cvss: String,
}

/// The service mix and the vulners tables, read from `fixtures/bench/`.
pub struct Mix {
    pub entries: Vec<MixEntry>,
    tables: HashMap<String, Vec<Bulletin>>,
    total_weight: u32,
}

impl Mix {
    pub fn load(root: &Path) -> Result<Mix> {
        let dir = root.join("fixtures/bench");
        let mut entries = Vec::new();
        for (line, fields) in tsv(&dir.join("service-mix.tsv"))? {
            let [weight, port, name, product, version, extrainfo, cpe] = &fields[..] else {
                bail!("service-mix.tsv:{line}: expected 7 tab-separated fields");
            };
            entries.push(MixEntry {
                weight: weight
                    .parse()
                    .with_context(|| format!("service-mix.tsv:{line}: weight"))?,
                port: port
                    .parse()
                    .with_context(|| format!("service-mix.tsv:{line}: port"))?,
                name: name.clone(),
                product: product.clone(),
                version: version.clone(),
                extrainfo: extrainfo.clone(),
                cpe: cpe.clone(),
            });
        }
        let mut tables: HashMap<String, Vec<Bulletin>> = HashMap::new();
        let tables_file = dir.join("vulners-tables.tsv");
        if tables_file.exists() {
            for (line, fields) in tsv(&tables_file)? {
                let [cpe, id, cvss] = &fields[..] else {
                    bail!("vulners-tables.tsv:{line}: expected cpe, id, cvss");
                };
                tables.entry(cpe.clone()).or_default().push(Bulletin {
                    id: id.clone(),
                    cvss: cvss.clone(),
                });
            }
        }
        let total_weight = entries.iter().map(|e| e.weight).sum();
        if total_weight == 0 {
            bail!("service-mix.tsv has no services");
        }
        Ok(Mix {
            entries,
            tables,
            total_weight,
        })
    }

    fn draw(&self, r: u64) -> &MixEntry {
        let mut at = (r % u64::from(self.total_weight)) as u32;
        for e in &self.entries {
            if at < e.weight {
                return e;
            }
            at -= e.weight;
        }
        unreachable!("the draw is below the total weight")
    }

    /// Distinct bulletins over all services (each service's table counted once).
    pub fn table_sizes(&self) -> impl Iterator<Item = (&str, usize)> {
        self.tables.iter().map(|(k, v)| (k.as_str(), v.len()))
    }
}

/// Non-comment lines of a TSV file, split on tabs, with 1-based line numbers.
fn tsv(path: &Path) -> Result<Vec<(usize, Vec<String>)>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .map(|(i, l)| (i + 1, l.split('\t').map(str::to_string).collect()))
        .collect())
}

/// A xorshift generator: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// How many open ports a host has: most servers expose one to three services.
const PORTS_PER_HOST: [(u64, usize); 5] = [(30, 1), (30, 2), (20, 3), (12, 4), (8, 5)];

/// Write a scan of `hosts` hosts to `out`, with vulners tables unless `vulners` is false.
pub fn write_scan(mix: &Mix, hosts: usize, vulners: bool, out: &mut impl Write) -> Result<()> {
    let args = if vulners {
        "nmap -sV --script vulners -oX - 10.0.0.0/8"
    } else {
        "nmap -sV -oX - 10.0.0.0/8"
    };
    write!(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE nmaprun>\n<nmaprun scanner=\"nmap\" args=\"{args}\" start=\"1795563079\" version=\"7.93\" xmloutputversion=\"1.05\">\n<scaninfo type=\"syn\" protocol=\"tcp\" numservices=\"1000\" services=\"1-1000\"/>\n")?;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut host = String::with_capacity(16 * 1024);
    for h in 0..hosts {
        host.clear();
        let ip = format!("10.{}.{}.{}", (h >> 16) & 255, (h >> 8) & 255, h & 255);
        let _ = write!(host, "<host starttime=\"1795563079\" endtime=\"1795563085\"><status state=\"up\" reason=\"syn-ack\" reason_ttl=\"64\"/>\n<address addr=\"{ip}\" addrtype=\"ipv4\"/>\n<hostnames>\n");
        if rng.next() % 2 == 0 {
            let _ = write!(
                host,
                "<hostname name=\"srv{h}.example.internal\" type=\"PTR\"/>\n"
            );
        }
        let mut roll = rng.next() % 100;
        let count = PORTS_PER_HOST
            .iter()
            .find(|(p, _)| {
                let hit = roll < *p;
                roll = roll.saturating_sub(*p);
                hit
            })
            .map_or(1, |(_, n)| *n);
        let mut used = Vec::new();
        let mut ports = Vec::new();
        for _ in 0..count {
            let entry = mix.draw(rng.next());
            // A second service on a well-known port moves to an unprivileged one.
            let mut port = entry.port;
            while used.contains(&port) {
                port = port.wrapping_add(8000);
            }
            used.push(port);
            ports.push((port, entry));
        }
        ports.sort_by_key(|(p, _)| *p);
        let _ = write!(host, "</hostnames>\n<ports><extraports state=\"closed\" count=\"{}\"><extrareasons reason=\"resets\" count=\"{}\"/></extraports>\n", 1000 - count, 1000 - count);
        for (port, e) in ports {
            write_port(
                &mut host,
                port,
                e,
                vulners.then(|| mix.tables.get(&e.cpe)).flatten(),
            );
        }
        host.push_str("</ports>\n<times srtt=\"183\" rttvar=\"2903\" to=\"100000\"/>\n</host>\n");
        out.write_all(host.as_bytes())?;
    }
    write!(out, "<runstats><finished time=\"1795563985\" elapsed=\"906\" exit=\"success\"/><hosts up=\"{hosts}\" down=\"0\" total=\"{hosts}\"/></runstats>\n</nmaprun>\n")?;
    Ok(())
}

/// One `<port>` as nmap writes it, with the vulners script when there is a table.
fn write_port(xml: &mut String, port: u16, e: &MixEntry, table: Option<&Vec<Bulletin>>) {
    let _ = write!(
        xml,
        "<port protocol=\"tcp\" portid=\"{port}\"><state state=\"open\" reason=\"syn-ack\" reason_ttl=\"64\"/><service name=\"{}\"",
        e.name
    );
    for (attr, value) in [
        ("product", &e.product),
        ("version", &e.version),
        ("extrainfo", &e.extrainfo),
    ] {
        if !value.is_empty() {
            let _ = write!(xml, " {attr}=\"{}\"", escape(value));
        }
    }
    let method = if e.product.is_empty() {
        "method=\"table\" conf=\"3\""
    } else {
        "method=\"probed\" conf=\"10\""
    };
    let _ = write!(xml, " {method}>");
    if !e.cpe.is_empty() {
        let _ = write!(xml, "<cpe>{}</cpe>", e.cpe);
    }
    xml.push_str("</service>");
    if let Some(table) = table.filter(|t| !t.is_empty()) {
        // The vulners script's layout: the text output, then one table per bulletin.
        let cpe = &e.cpe;
        let _ = write!(xml, "<script id=\"vulners\" output=\"&#xa;  {cpe}: &#xa;");
        for b in table {
            let _ = write!(
                xml,
                "    &#x9;{}&#x9;{}&#x9;https://vulners.com/cve/{}&#xa;",
                b.id, b.cvss, b.id
            );
        }
        let _ = write!(xml, "\"><table key=\"{cpe}\">\n");
        for b in table {
            let _ = write!(xml, "<table>\n<elem key=\"id\">{}</elem>\n<elem key=\"cvss\">{}</elem>\n<elem key=\"type\">cve</elem>\n<elem key=\"is_exploit\">false</elem>\n</table>\n", b.id, b.cvss);
        }
        xml.push_str("</table>\n</script>");
    }
    xml.push_str("</port>\n");
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
}

/// One host per service of the mix, without vulners: the input from which
/// `--refresh-tables` asks brulee's CVE database what applies to each service.
pub fn write_probe(entries: &[MixEntry], out: &mut impl Write) -> Result<()> {
    write!(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<nmaprun scanner=\"nmap\" args=\"nmap -sV -oX - 10.0.0.0/24\" start=\"1795563079\" version=\"7.93\" xmloutputversion=\"1.05\">\n")?;
    for (i, e) in entries.iter().enumerate() {
        let mut host = String::new();
        let _ = write!(host, "<host><status state=\"up\" reason=\"syn-ack\"/><address addr=\"10.0.0.{}\" addrtype=\"ipv4\"/><ports>", i + 1);
        write_port(&mut host, e.port, e, None);
        host.push_str("</ports></host>\n");
        out.write_all(host.as_bytes())?;
    }
    write!(
        out,
        "<runstats><finished time=\"1795563085\" exit=\"success\"/></runstats>\n</nmaprun>\n"
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_size_gives_the_same_scan_and_every_service_is_drawn() {
        let mix = Mix::load(&crate::project_root()).unwrap();
        let mut a = Vec::new();
        let mut b = Vec::new();
        write_scan(&mix, 300, true, &mut a).unwrap();
        write_scan(&mix, 300, true, &mut b).unwrap();
        assert_eq!(a, b);
        let text = String::from_utf8(a).unwrap();
        assert_eq!(text.matches("<host ").count(), 300);
        for e in mix.entries.iter().filter(|e| !e.cpe.is_empty()) {
            assert!(
                text.contains(&format!("<cpe>{}</cpe>", e.cpe)),
                "{} never drawn",
                e.cpe
            );
        }
        // Real tables: the CVEs NVD gives OpenSSH 7.4, not random ids.
        assert!(text.contains("<table key=\"cpe:/a:openbsd:openssh:7.4\">"));
        assert!(
            text.contains("CVE-2016-10012"),
            "a CVE of OpenSSH 7.4 is in its table"
        );
    }
}
