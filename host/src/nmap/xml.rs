//! Streaming reader of nmap's XML output (`-oX`), into the typed model.
//!
//! nmap writes one `<host>` element per host as soon as that host is done, so we read the
//! document as a stream of events and hand each finished host to serde as one small document.
//! Memory stays bounded by the largest host, not the scan, and a run that was killed part-way
//! still yields every host it completed. The serde structs below mirror nmap's DTD
//! (`/usr/share/nmap/nmap.dtd`); they are private so the rest of brulee sees only
//! [`crate::model`].
//!
//! quick-xml neither resolves external entities nor expands user-defined ones, so a hostile
//! DOCTYPE can neither read files nor blow up memory.

use std::io::{self, BufRead, Read};

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use serde::Deserialize;

use crate::model::{
    Address, AddressKind, Host, OsMatch, Port, ScanInfo, ScanRun, Script, ScriptNode, Service,
};

/// Errors that stop a file from being read at all.
#[derive(Debug, thiserror::Error)]
pub enum XmlError {
    #[error("{source_name}: could not read: {err}")]
    Io { source_name: String, err: io::Error },
    #[error("{source_name}: empty input, no nmap XML in it")]
    Empty { source_name: String },
    #[error("{source_name}:{line}: not nmap XML: the document starts with <{root}>, nmap's starts with <nmaprun>")]
    NotNmap {
        source_name: String,
        line: u64,
        root: String,
    },
    #[error("{source_name}:{line}: malformed XML: {message}")]
    Malformed {
        source_name: String,
        line: u64,
        message: String,
    },
}

/// nmap's `<taskprogress>`: written every `--stats-every` interval while a phase runs.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskProgress {
    /// "Service scan", "SYN Stealth Scan", …
    pub task: String,
    pub percent: f32,
    /// Seconds nmap expects the phase still needs.
    pub remaining: Option<u64>,
}

/// What the reader reports while it reads, so a caller can drive a progress bar.
#[derive(Debug)]
pub enum ParseEvent<'a> {
    Progress(TaskProgress),
    HostDone(&'a Host),
}

/// Read one nmap XML document from `input`; `source_name` names it in errors and warnings.
///
/// A document that ends early (nmap killed, file cut) is not an error: the run comes back
/// with `complete == false`, the hosts that were whole, and a warning.
pub fn read_scan<R: BufRead>(
    input: R,
    source_name: &str,
    mut on_event: impl FnMut(ParseEvent<'_>),
) -> Result<ScanRun, XmlError> {
    let mut hosts = Vec::new();
    let mut run = for_each_host(input, source_name, &mut on_event, |host| hosts.push(host))?;
    run.hosts = hosts;
    Ok(run)
}

/// Read one nmap XML document like [`read_scan`], but hand each host to `on_host` as soon as
/// it is read instead of keeping it: the returned run has everything but the hosts. Memory
/// stays that of one host, however large the scan.
pub fn for_each_host<R: BufRead>(
    input: R,
    source_name: &str,
    mut on_event: impl FnMut(ParseEvent<'_>),
    mut on_host: impl FnMut(Host),
) -> Result<ScanRun, XmlError> {
    let mut reader = Reader::from_reader(Recorder::new(input));
    let mut run = ScanRun::default();
    let mut hosts_read = 0usize;
    let mut buf = Vec::new();
    let mut seen_root = false;
    let malformed = |reader: &Reader<Recorder<R>>, message: String| XmlError::Malformed {
        source_name: source_name.to_string(),
        line: reader.get_ref().line(),
        message,
    };

    loop {
        buf.clear();
        let event = match reader.read_event_into(&mut buf) {
            Ok(event) => event,
            Err(_) if seen_root && reader.get_mut().at_eof() => {
                truncated(&mut run, source_name, hosts_read);
                return Ok(run);
            }
            Err(err) => return Err(malformed(&reader, err.to_string())),
        };
        match event {
            Event::Start(ref e) | Event::Empty(ref e) if !seen_root => {
                let root = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                if root != "nmaprun" {
                    return Err(XmlError::NotNmap {
                        source_name: source_name.to_string(),
                        line: reader.get_ref().line(),
                        root,
                    });
                }
                seen_root = true;
                let attrs = attributes(e);
                run.nmap_version = attrs.get("version");
                run.commands.extend(attrs.get("args"));
                run.start = attrs.get("start").and_then(|s| s.parse().ok());
            }
            Event::Start(ref e) if e.name().as_ref() == b"host" => {
                let mut doc = Vec::with_capacity(4096);
                doc.push(b'<');
                doc.extend_from_slice(e);
                doc.push(b'>');
                let host_line = reader.get_ref().line();
                reader.get_mut().start_recording();
                let mut skip = Vec::new();
                let end = reader.read_to_end_into(quick_xml::name::QName(b"host"), &mut skip);
                doc.extend(reader.get_mut().stop_recording());
                if let Err(err) = end {
                    // Only a cut-off document leaves a host unclosed mid-stream.
                    if reader.get_mut().at_eof() {
                        truncated(&mut run, source_name, hosts_read);
                        return Ok(run);
                    }
                    return Err(malformed(&reader, err.to_string()));
                }
                // From a string, serde borrows the text instead of copying every event.
                let parsed = std::str::from_utf8(&doc)
                    .map_err(|err| format!("not UTF-8: {err}"))
                    .and_then(|text| {
                        quick_xml::de::from_str::<HostXml>(text).map_err(|err| err.to_string())
                    });
                match parsed {
                    Ok(xml) => {
                        let host = xml.into_model(&mut run.warnings, source_name, host_line);
                        on_event(ParseEvent::HostDone(&host));
                        hosts_read += 1;
                        on_host(host);
                    }
                    Err(err) => {
                        return Err(XmlError::Malformed {
                            source_name: source_name.to_string(),
                            line: host_line,
                            message: format!("unreadable <host> element: {err}"),
                        })
                    }
                }
            }
            Event::Start(ref e) | Event::Empty(ref e) => match e.name().as_ref() {
                b"scaninfo" => {
                    let attrs = attributes(e);
                    run.scan_info.push(ScanInfo {
                        scan_type: attrs.get("type").unwrap_or_default(),
                        protocol: attrs.get("protocol").unwrap_or_default(),
                        services: attrs.get("services").unwrap_or_default(),
                    });
                }
                b"taskprogress" => {
                    let attrs = attributes(e);
                    on_event(ParseEvent::Progress(TaskProgress {
                        task: attrs.get("task").unwrap_or_default(),
                        percent: attrs
                            .get("percent")
                            .and_then(|p| p.parse().ok())
                            .unwrap_or(0.0),
                        remaining: attrs.get("remaining").and_then(|r| r.parse().ok()),
                    }));
                }
                b"finished" => {
                    let attrs = attributes(e);
                    run.end = attrs.get("time").and_then(|t| t.parse().ok());
                    if let Some(message) = attrs.get("errormsg").filter(|m| !m.is_empty()) {
                        run.warnings
                            .push(format!("{source_name}: nmap reported: {message}"));
                    }
                }
                _ => {}
            },
            Event::End(ref e) if e.name().as_ref() == b"nmaprun" => {
                run.complete = true;
                return Ok(run);
            }
            Event::Eof => {
                if !seen_root {
                    return Err(XmlError::Empty {
                        source_name: source_name.to_string(),
                    });
                }
                truncated(&mut run, source_name, hosts_read);
                return Ok(run);
            }
            _ => {}
        }
    }
}

fn truncated(run: &mut ScanRun, source_name: &str, hosts_read: usize) {
    run.complete = false;
    run.warnings.push(format!(
        "{source_name}: the XML ends before nmap finished writing it (was nmap stopped?); \
         {hosts_read} complete host(s) kept, results are partial"
    ));
}

/// Attribute values of one tag, unescaped. Attributes that fail to decode are left out: a
/// missing value is handled everywhere, a half-decoded one would not be.
struct Attributes(Vec<(String, String)>);

impl Attributes {
    fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

fn attributes(e: &BytesStart<'_>) -> Attributes {
    Attributes(
        e.attributes()
            .filter_map(Result::ok)
            .filter_map(|a| {
                let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
                let value = a.unescape_value().ok()?.into_owned();
                Some((key, value))
            })
            .collect(),
    )
}

/// A `BufRead` that can copy out the bytes the XML reader consumes, and counts lines for error
/// messages. Copying the raw bytes of a `<host>` lets serde read it without re-serialising
/// events.
struct Recorder<R> {
    inner: R,
    recording: Option<Vec<u8>>,
    newlines: u64,
}

impl<R: BufRead> Recorder<R> {
    fn new(inner: R) -> Self {
        Recorder {
            inner,
            recording: None,
            newlines: 0,
        }
    }

    fn line(&self) -> u64 {
        self.newlines + 1
    }

    fn start_recording(&mut self) {
        self.recording = Some(Vec::with_capacity(4096));
    }

    fn stop_recording(&mut self) -> Vec<u8> {
        self.recording.take().unwrap_or_default()
    }

    fn at_eof(&mut self) -> bool {
        self.inner.fill_buf().map(|b| b.is_empty()).unwrap_or(true)
    }
}

impl<R: BufRead> Read for Recorder<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Recorder<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        // The bytes are still in the inner buffer: fill_buf returns them without new I/O.
        if let Ok(bytes) = self.inner.fill_buf() {
            let taken = &bytes[..amt.min(bytes.len())];
            self.newlines += taken.iter().filter(|&&b| b == b'\n').count() as u64;
            if let Some(rec) = self.recording.as_mut() {
                rec.extend_from_slice(taken);
            }
        }
        self.inner.consume(amt);
    }
}

// ---- nmap's DTD, as much of it as brulee uses -------------------------------------------------

#[derive(Deserialize)]
struct HostXml {
    #[serde(rename = "@starttime")]
    start: Option<String>,
    #[serde(rename = "@endtime")]
    end: Option<String>,
    status: Option<StatusXml>,
    #[serde(rename = "address", default)]
    addresses: Vec<AddressXml>,
    hostnames: Option<HostnamesXml>,
    ports: Option<PortsXml>,
    os: Option<OsXml>,
    hostscript: Option<ScriptsXml>,
}

#[derive(Deserialize)]
struct StatusXml {
    #[serde(rename = "@state")]
    state: String,
    #[serde(rename = "@reason")]
    reason: Option<String>,
}

#[derive(Deserialize)]
struct AddressXml {
    #[serde(rename = "@addr")]
    addr: String,
    #[serde(rename = "@addrtype", default)]
    addrtype: String,
    #[serde(rename = "@vendor")]
    vendor: Option<String>,
}

#[derive(Deserialize)]
struct HostnamesXml {
    #[serde(rename = "hostname", default)]
    names: Vec<HostnameXml>,
}

#[derive(Deserialize)]
struct HostnameXml {
    #[serde(rename = "@name")]
    name: String,
}

#[derive(Deserialize)]
struct PortsXml {
    #[serde(rename = "port", default)]
    ports: Vec<PortXml>,
}

#[derive(Deserialize)]
struct PortXml {
    #[serde(rename = "@protocol")]
    protocol: String,
    #[serde(rename = "@portid")]
    portid: String,
    state: Option<StatusXml>,
    service: Option<ServiceXml>,
    #[serde(rename = "script", default)]
    scripts: Vec<ScriptXml>,
}

#[derive(Deserialize)]
struct ServiceXml {
    #[serde(rename = "@name", default)]
    name: String,
    #[serde(rename = "@product")]
    product: Option<String>,
    #[serde(rename = "@version")]
    version: Option<String>,
    #[serde(rename = "@extrainfo")]
    extrainfo: Option<String>,
    #[serde(rename = "@ostype")]
    ostype: Option<String>,
    #[serde(rename = "@tunnel")]
    tunnel: Option<String>,
    #[serde(rename = "@method")]
    method: Option<String>,
    #[serde(rename = "@conf")]
    conf: Option<String>,
    #[serde(rename = "cpe", default)]
    cpes: Vec<String>,
}

#[derive(Deserialize)]
struct OsXml {
    #[serde(rename = "osmatch", default)]
    matches: Vec<OsMatchXml>,
}

#[derive(Deserialize)]
struct OsMatchXml {
    #[serde(rename = "@name")]
    name: String,
    #[serde(rename = "@accuracy")]
    accuracy: Option<String>,
}

#[derive(Deserialize)]
struct ScriptsXml {
    #[serde(rename = "script", default)]
    scripts: Vec<ScriptXml>,
}

#[derive(Deserialize)]
struct ScriptXml {
    #[serde(rename = "@id")]
    id: String,
    #[serde(rename = "@output", default)]
    output: String,
    #[serde(rename = "$value", default)]
    content: Vec<NodeXml>,
}

#[derive(Deserialize)]
enum NodeXml {
    #[serde(rename = "table")]
    Table {
        #[serde(rename = "@key")]
        key: Option<String>,
        #[serde(rename = "$value", default)]
        children: Vec<NodeXml>,
    },
    #[serde(rename = "elem")]
    Elem {
        #[serde(rename = "@key")]
        key: Option<String>,
        #[serde(rename = "$text", default)]
        value: String,
    },
    /// Text between tables (whitespace in practice); nmap's DTD gives it no meaning.
    #[serde(rename = "$text")]
    Text(#[allow(dead_code)] String),
}

impl HostXml {
    fn into_model(self, warnings: &mut Vec<String>, source_name: &str, line: u64) -> Host {
        let status = self.status;
        let addresses: Vec<Address> = self
            .addresses
            .into_iter()
            .map(|a| Address {
                kind: match a.addrtype.as_str() {
                    "ipv6" => AddressKind::Ipv6,
                    "mac" => AddressKind::Mac,
                    _ => AddressKind::Ipv4,
                },
                addr: a.addr,
                vendor: a.vendor,
            })
            .collect();
        let mut ports = Vec::new();
        for port in self.ports.map(|p| p.ports).unwrap_or_default() {
            let number = port.portid.parse::<u16>().unwrap_or_else(|_| {
                // Not from nmap itself (normalised test files, hand edits); keep the port's
                // data rather than lose findings, and say so.
                let who = addresses.first().map(|a| a.addr.as_str()).unwrap_or("?");
                warnings.push(format!(
                    "{source_name}:{line}: host {who}: port id {:?} is not a port number; it is shown as port 0",
                    port.portid
                ));
                0
            });
            let (state, reason) = port.state.map(|s| (s.state, s.reason)).unwrap_or_default();
            ports.push(Port {
                protocol: port.protocol,
                number,
                state,
                reason,
                service: port.service.map(ServiceXml::into_model),
                scripts: port
                    .scripts
                    .into_iter()
                    .map(ScriptXml::into_model)
                    .collect(),
            });
        }
        Host {
            status: status
                .as_ref()
                .map(|s| s.state.clone())
                .unwrap_or_else(|| "unknown".into()),
            status_reason: status.and_then(|s| s.reason),
            addresses,
            hostnames: self
                .hostnames
                .map(|h| h.names.into_iter().map(|n| n.name).collect())
                .unwrap_or_default(),
            ports,
            os_matches: self
                .os
                .map(|os| {
                    os.matches
                        .into_iter()
                        .map(|m| OsMatch {
                            name: m.name,
                            accuracy: m.accuracy.and_then(|a| a.parse().ok()),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            scripts: self
                .hostscript
                .map(|s| s.scripts.into_iter().map(ScriptXml::into_model).collect())
                .unwrap_or_default(),
            start: self.start.and_then(|s| s.parse().ok()),
            end: self.end.and_then(|s| s.parse().ok()),
        }
    }
}

impl ServiceXml {
    fn into_model(self) -> Service {
        let non_empty = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
        Service {
            name: self.name,
            product: non_empty(self.product),
            version: non_empty(self.version),
            extra_info: non_empty(self.extrainfo),
            os_type: non_empty(self.ostype),
            tunnel: non_empty(self.tunnel),
            method: self.method,
            confidence: self.conf.and_then(|c| c.parse().ok()),
            cpes: self
                .cpes
                .into_iter()
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect(),
        }
    }
}

impl ScriptXml {
    fn into_model(self) -> Script {
        Script {
            id: self.id,
            output: self.output,
            content: nodes(self.content),
        }
    }
}

fn nodes(xml: Vec<NodeXml>) -> Vec<ScriptNode> {
    xml.into_iter()
        .filter_map(|node| match node {
            NodeXml::Table { key, children } => Some(ScriptNode::Table {
                key,
                children: nodes(children),
            }),
            NodeXml::Elem { key, value } => Some(ScriptNode::Elem { key, value }),
            NodeXml::Text(_) => None,
        })
        .collect()
}

#[cfg(test)]
mod tests;
