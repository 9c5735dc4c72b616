//! What the manifest grants a step: the HTTP hosts it may reach and the environment variables
//! it may read. Both runtimes (WASM and Lua) ask these same checks.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// One `allow_hosts` entry: `host` (any port) or `host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostGrant {
    /// Lower-case host name, or an IP address (IPv6 without brackets).
    pub host: String,
    pub port: Option<u16>,
}

impl HostGrant {
    /// Parse `example.org`, `example.org:8443`, `127.0.0.1:9000` or `[::1]:8080`.
    pub fn parse(text: &str) -> Result<HostGrant, String> {
        if text.contains("://") {
            return Err("a grant is a host or host:port, not a URL: drop the scheme".into());
        }
        if text.contains(['/', '?', '#', '@']) {
            return Err("a grant is a host or host:port, without path, query or user".into());
        }
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (host, after) = rest
                .split_once(']')
                .ok_or("unclosed [ in an IPv6 address")?;
            match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None if after.is_empty() => (host, None),
                None => return Err(format!("unexpected {after:?} after the IPv6 address")),
            }
        } else if text.parse::<IpAddr>().is_ok() {
            (text, None)
        } else {
            match text.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (text, None),
            }
        };
        let port = match port {
            None => None,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => Some(n),
                _ => return Err(format!("{p:?} is not a port (1-65535)")),
            },
        };
        let valid_name = !host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if host.parse::<IpAddr>().is_err() && !valid_name {
            return Err(format!("{host:?} is not a host name or IP address"));
        }
        Ok(HostGrant {
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    fn allows(&self, host: &str, port: u16) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.host.eq_ignore_ascii_case(host) && self.port.is_none_or(|p| p == port)
    }
}

impl fmt::Display for HostGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.host.contains(':'), self.port) {
            (true, Some(p)) => write!(f, "[{}]:{p}", self.host),
            (false, Some(p)) => write!(f, "{}:{p}", self.host),
            (_, None) => f.write_str(&self.host),
        }
    }
}

/// One `files` entry: a file a Lua step may read, by the name the manifest gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileGrant {
    /// As written in the manifest: the name the step asks for.
    pub name: String,
    /// Resolved against the manifest's folder.
    pub path: PathBuf,
}

/// The grants of one step, with the granted variables' values read once at load.
#[derive(Debug, Clone, Default)]
pub struct Grants {
    pub hosts: Vec<HostGrant>,
    /// Granted variable names → their value in brulee's environment (None when unset).
    env: BTreeMap<String, Option<String>>,
    files: Vec<FileGrant>,
}

impl Grants {
    pub fn new(hosts: Vec<HostGrant>, env_names: &[String]) -> Grants {
        Grants {
            hosts,
            env: env_names
                .iter()
                .map(|n| (n.clone(), std::env::var(n).ok()))
                .collect(),
            files: Vec::new(),
        }
    }

    pub fn with_files(mut self, files: Vec<FileGrant>) -> Grants {
        self.files = files;
        self
    }

    /// The path of a granted file, by the name the manifest grants it under; `Err` says how
    /// to grant it. Names are compared as written: no path a step makes up can reach another file.
    pub fn file(&self, name: &str) -> Result<&Path, String> {
        self.files
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.path.as_path())
            .ok_or_else(|| {
                format!("file {name:?} is not granted to this step (add it to the step's files = [...] in the manifest)")
            })
    }

    /// Whether an HTTP request to `host:port` may be sent.
    pub fn allows_http(&self, host: &str, port: u16) -> bool {
        self.hosts.iter().any(|g| g.allows(host, port))
    }

    /// A granted variable's value; `Err` names what the manifest must say to grant it.
    pub fn env(&self, name: &str) -> Result<Option<String>, String> {
        match self.env.get(name) {
            Some(value) => Ok(value.clone()),
            None => Err(format!(
                "environment variable {name} is not granted to this step (add it to the step's env = [...] in the manifest)"
            )),
        }
    }

    /// The granted variables that are set, for WASI's environment.
    pub fn env_pairs(&self) -> Vec<(String, String)> {
        self.env
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k.clone(), v.clone())))
            .collect()
    }

    /// Why a request to `host:port` was refused, for the step's error.
    pub fn refusal(&self, host: &str, port: u16) -> String {
        let granted = if self.hosts.is_empty() {
            "none".to_string()
        } else {
            self.hosts
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!("HTTP request to {host}:{port} refused: not in allow_hosts (granted: {granted})")
    }
}

/// Whether `name` may be granted: a plain environment variable name.
pub fn valid_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_are_hosts_with_optional_ports() {
        let g = HostGrant::parse("S3.eu-west-1.amazonaws.com").unwrap();
        assert_eq!(
            (g.host.as_str(), g.port),
            ("s3.eu-west-1.amazonaws.com", None)
        );
        let g = HostGrant::parse("127.0.0.1:9000").unwrap();
        assert_eq!((g.host.as_str(), g.port), ("127.0.0.1", Some(9000)));
        let g = HostGrant::parse("[::1]:8080").unwrap();
        assert_eq!((g.host.as_str(), g.port), ("::1", Some(8080)));
        assert_eq!(HostGrant::parse("::1").unwrap().port, None);
        for bad in [
            "https://example.org",
            "example.org/path",
            "example.org:0",
            "example.org:http",
            "",
            "exa mple.org",
            "user@example.org",
        ] {
            assert!(HostGrant::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn requests_are_allowed_only_to_granted_hosts_and_ports() {
        let grants = Grants::new(
            vec![
                HostGrant::parse("127.0.0.1:9000").unwrap(),
                HostGrant::parse("example.org").unwrap(),
            ],
            &[],
        );
        assert!(grants.allows_http("127.0.0.1", 9000));
        assert!(!grants.allows_http("127.0.0.1", 9001));
        assert!(grants.allows_http("EXAMPLE.org", 443));
        assert!(!grants.allows_http("example.org.evil.test", 443));
        assert!(!grants.allows_http("localhost", 9000));
    }

    #[test]
    fn only_granted_variables_can_be_read() {
        let grants = Grants::new(vec![], &["BRULEE_SURELY_UNSET_VAR".to_string()]);
        assert_eq!(grants.env("BRULEE_SURELY_UNSET_VAR"), Ok(None));
        assert!(grants.env("HOME").unwrap_err().contains("not granted"));
    }
}
