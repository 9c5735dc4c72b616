//! The `gcp-compute` source: the addresses of a project's running Compute Engine instances,
//! listed with the API's `instances.aggregatedList` (every zone in one paged listing).
//!
//! ```toml
//! [[source]]
//! plugin = "gcp-compute"
//! allow_hosts = ["compute.googleapis.com", "oauth2.googleapis.com"]
//! env = ["GOOGLE_APPLICATION_CREDENTIALS_JSON"]   # the key file's JSON text
//! config = { project = "my-project", labels = { team = "web" }, address = "internal" }
//! ```
//!
//! No Compute Engine emulator exists: the plugin is built against the documented shape of
//! the v1 API's answers, tested against hand-written pages in `fixtures/gcp-compute/`.
//! brulee validates what a source yields like command-line targets; `brulee scan --manifest
//! m.toml --list-targets` prints them without scanning.

use std::collections::BTreeMap;
use std::time::Duration;

use brulee_sdk::http::Request;
use brulee_sdk::{Level, Source};
use gcp_auth::Credential;
use sink_upload::{percent_encode, Retry};

const DEFAULT_ENDPOINT: &str = "https://compute.googleapis.com";
/// Listing instances needs no more than read-only access to Compute Engine.
const SCOPE: &str = "https://www.googleapis.com/auth/compute.readonly";
/// The largest page the API serves.
const MAX_RESULTS: u32 = 500;

#[derive(serde::Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
enum Address {
    /// The VPC addresses (`networkIP`, and `ipv6Address` on dual-stack interfaces): for a
    /// scanner inside the network.
    #[default]
    Internal,
    /// The external addresses (`accessConfigs[].natIP`, `ipv6AccessConfigs[].externalIpv6`),
    /// when the instance has any.
    External,
    /// Both.
    Both,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum LabelValues {
    One(String),
    Many(Vec<String>),
}

impl LabelValues {
    fn values(&self) -> Vec<&str> {
        match self {
            LabelValues::One(v) => vec![v.as_str()],
            LabelValues::Many(vs) => vs.iter().map(String::as_str).collect(),
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// The project ID whose instances are listed (required).
    project: Option<String>,
    /// Zones to keep (`us-central1-a`); default every zone.
    #[serde(default)]
    zones: Vec<String>,
    /// Label filters: an instance must carry each key with one of the values given.
    #[serde(default)]
    labels: BTreeMap<String, LabelValues>,
    #[serde(default)]
    address: Address,
    /// The API's base URL; default `https://compute.googleapis.com`.
    endpoint: Option<String>,
    /// Overrides the service-account key's `token_uri` (as the gcs sink's `token_uri`).
    #[serde(alias = "token_endpoint")]
    token_uri: Option<String>,
    /// A granted variable holding an OAuth access token; used instead of a key.
    token_env: Option<String>,
    /// The granted variable holding the service-account key JSON.
    credentials_env: Option<String>,
    #[serde(default = "sink_upload::default_attempts")]
    attempts: u32,
    #[serde(default = "default_backoff_ms")]
    backoff_ms: u64,
}

fn default_backoff_ms() -> u64 {
    Retry::default().first_backoff.as_millis() as u64
}

/// One page of `instances.aggregatedList`: instances by scope (`zones/us-central1-a`).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    #[serde(default)]
    items: BTreeMap<String, ScopedInstances>,
    next_page_token: Option<String>,
}

/// A zone's instances, or a warning instead (`NO_RESULTS_ON_PAGE`, `UNREACHABLE`).
#[derive(serde::Deserialize)]
struct ScopedInstances {
    #[serde(default)]
    instances: Vec<Instance>,
    warning: Option<Warning>,
}

#[derive(serde::Deserialize)]
struct Warning {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Instance {
    #[serde(default)]
    name: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    network_interfaces: Vec<NetworkInterface>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct NetworkInterface {
    #[serde(rename = "networkIP")]
    network_ip: Option<String>,
    ipv6_address: Option<String>,
    #[serde(default)]
    access_configs: Vec<AccessConfig>,
    #[serde(default)]
    ipv6_access_configs: Vec<Ipv6AccessConfig>,
}

#[derive(serde::Deserialize)]
struct AccessConfig {
    #[serde(rename = "natIP")]
    nat_ip: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Ipv6AccessConfig {
    external_ipv6: Option<String>,
}

/// A Google API error answer: `{"error": {"code", "message", "status"}}`.
#[derive(serde::Deserialize)]
struct ErrorAnswer {
    error: ErrorBody,
}

#[derive(serde::Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: String,
    #[serde(default)]
    status: String,
}

impl Config {
    fn project(&self) -> Result<&str, String> {
        let project = self.project.as_deref().ok_or(
            "config.project is missing: set project = \"PROJECT_ID\" under [source.config], the ID of the Google Cloud project whose instances to list",
        )?;
        // Project IDs are lowercase letters, digits and hyphens; older domain-scoped ones
        // read `example.com:project`.
        if project.is_empty()
            || !project
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.:".contains(&b))
        {
            return Err(format!(
                "config.project = {project:?} is not a project ID (lowercase letters, digits and hyphens)"
            ));
        }
        Ok(project)
    }

    /// Checks the label filters: Compute Engine's labels are lowercase letters, digits, `_`
    /// and `-`, which also keeps them from changing the meaning of the API filter.
    fn check_labels(&self) -> Result<(), String> {
        let label_text = |s: &str| {
            s.chars()
                .all(|c| c.is_lowercase() || c.is_numeric() || c == '_' || c == '-')
        };
        for (key, values) in &self.labels {
            if key.is_empty() || !label_text(key) {
                return Err(format!("config.labels: {key:?} is not a label key (lowercase letters, digits, _ and -)"));
            }
            let values = values.values();
            if values.is_empty() {
                return Err(format!("config.labels.{key} lists no value"));
            }
            if let Some(bad) = values.iter().find(|v| !label_text(v)) {
                return Err(format!("config.labels.{key}: {bad:?} is not a label value (lowercase letters, digits, _ and -)"));
            }
        }
        Ok(())
    }

    /// The API filter: running instances, with every single-valued label. A label with
    /// several values is checked here only ([`Config::wants`]), as the filter language has
    /// no "one of" for a field.
    fn filter(&self) -> String {
        let mut terms = vec!["(status = \"RUNNING\")".to_string()];
        for (key, values) in &self.labels {
            if let [value] = values.values()[..] {
                terms.push(format!("(labels.{key} = \"{value}\")"));
            }
        }
        terms.join(" ")
    }

    /// Whether an instance of `scope` (`zones/us-central1-a`) is one to list. The API has
    /// filtered already; this check is what holds if it did not.
    fn wants(&self, scope: &str, instance: &Instance) -> bool {
        let zone = scope.strip_prefix("zones/").unwrap_or(scope);
        instance.status == "RUNNING"
            && (self.zones.is_empty() || self.zones.iter().any(|z| z == zone))
            && self.labels.iter().all(|(key, values)| {
                instance
                    .labels
                    .get(key)
                    .is_some_and(|v| values.values().contains(&v.as_str()))
            })
    }
}

impl Instance {
    fn addresses(&self, choice: Address) -> Vec<String> {
        let mut found = Vec::new();
        for nic in &self.network_interfaces {
            if matches!(choice, Address::Internal | Address::Both) {
                found.extend(nic.network_ip.iter().cloned());
                found.extend(nic.ipv6_address.iter().cloned());
            }
            if matches!(choice, Address::External | Address::Both) {
                found.extend(nic.access_configs.iter().filter_map(|a| a.nat_ip.clone()));
                found.extend(
                    nic.ipv6_access_configs
                        .iter()
                        .filter_map(|a| a.external_ipv6.clone()),
                );
            }
        }
        found.retain(|a| !a.is_empty());
        found
    }
}

struct Compute;

impl Source for Compute {
    fn targets() -> Result<Vec<String>, String> {
        let config: Config = brulee_sdk::config()?;
        let project = config.project()?;
        config.check_labels()?;
        let retry = Retry {
            attempts: config.attempts,
            first_backoff: Duration::from_millis(config.backoff_ms),
        };
        let credential = Credential::from_env(
            config.token_env.as_deref(),
            config.credentials_env.as_deref(),
            brulee_sdk::env,
        )?;
        let token = credential
            .access_token(SCOPE, config.token_uri.as_deref(), &retry)
            .map_err(|e| format!("getting an access token for Compute Engine: {e}"))?;
        let base = format!(
            "{}/compute/v1/projects/{}/aggregated/instances",
            config
                .endpoint
                .as_deref()
                .unwrap_or(DEFAULT_ENDPOINT)
                .trim_end_matches('/'),
            percent_encode(project, false)
        );
        let filter = config.filter();
        let mut targets: Vec<String> = Vec::new();
        let (mut instances, mut pages) = (0, 0);
        let mut page_token: Option<String> = None;
        loop {
            let mut url = format!(
                "{base}?filter={}&maxResults={MAX_RESULTS}",
                percent_encode(&filter, false)
            );
            if let Some(t) = &page_token {
                url.push_str(&format!("&pageToken={}", percent_encode(t, false)));
            }
            let page = list_page(&url, &token, &retry, project, &credential)?;
            pages += 1;
            for (scope, scoped) in &page.items {
                if let Some(w) = &scoped.warning {
                    if w.code != "NO_RESULTS_ON_PAGE" {
                        brulee_sdk::log(
                            Level::Warn,
                            &format!("{scope}: {}: {}", w.code, w.message),
                        );
                    }
                }
                for instance in scoped.instances.iter().filter(|i| config.wants(scope, i)) {
                    instances += 1;
                    let found = instance.addresses(config.address);
                    if found.is_empty() {
                        brulee_sdk::log(
                            Level::Debug,
                            &format!(
                                "{scope}/{}: no address of the kind asked for",
                                instance.name
                            ),
                        );
                    }
                    for address in found {
                        if !targets.contains(&address) {
                            targets.push(address);
                        }
                    }
                }
            }
            page_token = page.next_page_token.filter(|t| !t.is_empty());
            if page_token.is_none() {
                break;
            }
        }
        brulee_sdk::log(
            Level::Info,
            &format!(
                "project {project}: {} addresses of {instances} matching running instances ({pages} pages)",
                targets.len()
            ),
        );
        Ok(targets)
    }
}

/// One page of the listing, or what went wrong in words a user can act on.
fn list_page(
    url: &str,
    token: &str,
    retry: &Retry,
    project: &str,
    credential: &Credential,
) -> Result<Page, String> {
    let what = format!("listing the instances of project {project}");
    let response = sink_upload::send(retry, || {
        Request::get(url).header("authorization", &format!("Bearer {token}"))
    })
    .map_err(|e| format!("{what}: {e}"))?;
    if response.status == 200 {
        return serde_json::from_slice(&response.body).map_err(|e| {
            format!("{what}: the answer is not an instances.aggregatedList page: {e}")
        });
    }
    let detail = match serde_json::from_slice::<ErrorAnswer>(&response.body) {
        Ok(answer) => format!("{}: {}", answer.error.status, answer.error.message),
        Err(_) => response.text().chars().take(300).collect(),
    };
    let hint = match response.status {
        401 => format!(
            "the Compute Engine API refused {}: it is not a valid, current access token",
            credential.describe()
        ),
        403 => format!(
            "the Compute Engine API refused {}: the account may not list instances in project {project} (it needs compute.instances.list, e.g. roles/compute.viewer) or the API is not enabled there",
            credential.describe()
        ),
        404 => format!("no project {project}: check config.project"),
        _ => "the Compute Engine API answered with an error".to_string(),
    };
    Err(format!(
        "{what}: {hint} (HTTP {}: {detail})",
        response.status
    ))
}

brulee_sdk::export!(Compute as source);
