//! The `aws-ec2` source: the addresses of EC2 instances, listed with the Query API's
//! `DescribeInstances` (signed with AWS Signature Version 4) in each configured region.
//! Flan Scan's `generate_ips=aws`.
//!
//! ```toml
//! [[source]]
//! plugin = "aws-ec2"
//! allow_hosts = ["ec2.eu-west-1.amazonaws.com"]
//! env = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
//! config = { regions = ["eu-west-1"], address = "private", tags = { team = "blue" } }
//! ```
//!
//! brulee validates what a source yields like command-line targets; `brulee scan --manifest
//! m.toml --list-targets` prints them without scanning.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sigv4::service::{failure, transport, Outcome, RetryPolicy};
use aws_sigv4::{encode, Credentials, Signer, Timestamp};
use brulee_sdk::http::{send, Request};
use brulee_sdk::{Level, Source};

/// The EC2 Query API version whose answer format this parser reads.
const API_VERSION: &str = "2016-11-15";

#[derive(serde::Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
enum Address {
    /// The VPC address (`privateIpAddress`): for a scanner inside the network.
    #[default]
    Private,
    /// The public IPv4 address (`ipAddress`), when the instance has one.
    Public,
    /// Both.
    Both,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum TagValues {
    One(String),
    Many(Vec<String>),
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Default: `AWS_REGION` when granted and set, else us-east-1.
    #[serde(default)]
    regions: Vec<String>,
    /// One endpoint for every region (an EC2-compatible API, or a test server); default
    /// `https://ec2.{region}.amazonaws.com`.
    endpoint: Option<String>,
    #[serde(default)]
    address: Address,
    /// Tag filters: an instance must carry each key with one of the values given.
    #[serde(default)]
    tags: BTreeMap<String, TagValues>,
    /// Instance states to list.
    #[serde(default = "default_states")]
    states: Vec<String>,
    #[serde(default = "default_attempts")]
    attempts: u32,
    #[serde(default = "default_backoff_ms")]
    backoff_ms: u64,
}

fn default_states() -> Vec<String> {
    vec!["running".into()]
}
fn default_attempts() -> u32 {
    4
}
fn default_backoff_ms() -> u64 {
    500
}

fn granted(name: &str) -> Option<String> {
    brulee_sdk::env(name).ok().flatten()
}

/// The query of one DescribeInstances page, every name and value percent-encoded.
fn query(config: &Config, next_token: Option<&str>) -> String {
    let mut params: Vec<(String, String)> = vec![
        ("Action".into(), "DescribeInstances".into()),
        ("Version".into(), API_VERSION.into()),
    ];
    let mut filters: Vec<(String, Vec<String>)> = Vec::new();
    if !config.states.is_empty() {
        filters.push(("instance-state-name".into(), config.states.clone()));
    }
    for (key, values) in &config.tags {
        let values = match values {
            TagValues::One(v) => vec![v.clone()],
            TagValues::Many(vs) => vs.clone(),
        };
        filters.push((format!("tag:{key}"), values));
    }
    for (i, (name, values)) in filters.iter().enumerate() {
        let n = i + 1;
        params.push((format!("Filter.{n}.Name"), name.clone()));
        for (j, value) in values.iter().enumerate() {
            params.push((format!("Filter.{n}.Value.{}", j + 1), value.clone()));
        }
    }
    if let Some(token) = next_token {
        params.push(("NextToken".into(), token.into()));
    }
    params
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The chosen addresses of every instance in one DescribeInstances answer, and its NextToken.
fn addresses(xml: &str, choice: Address) -> Result<(Vec<String>, Option<String>), String> {
    let doc = roxmltree::Document::parse(xml)
        .map_err(|e| format!("EC2 answered XML that does not parse: {e}"))?;
    let child_text = |node: roxmltree::Node, name: &str| {
        node.children()
            .find(|c| c.has_tag_name(name))
            .and_then(|c| c.text())
            .map(str::to_string)
    };
    let mut found = Vec::new();
    for set in doc.descendants().filter(|n| n.has_tag_name("instancesSet")) {
        for instance in set.children().filter(|n| n.has_tag_name("item")) {
            if matches!(choice, Address::Private | Address::Both) {
                found.extend(child_text(instance, "privateIpAddress"));
            }
            if matches!(choice, Address::Public | Address::Both) {
                found.extend(child_text(instance, "ipAddress"));
            }
        }
    }
    let next = doc
        .root_element()
        .children()
        .find(|c| c.has_tag_name("nextToken"))
        .and_then(|c| c.text())
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    Ok((found, next))
}

struct Ec2;

impl Source for Ec2 {
    fn targets() -> Result<Vec<String>, String> {
        let config: Config = brulee_sdk::config()?;
        let credentials = Credentials::from_env(granted).map_err(|e| e.to_string())?;
        let regions = if config.regions.is_empty() {
            vec![granted("AWS_REGION").unwrap_or_else(|| "us-east-1".into())]
        } else {
            config.regions.clone()
        };
        let retry = RetryPolicy {
            attempts: config.attempts,
            first_backoff: Duration::from_millis(config.backoff_ms),
        };
        let mut targets: Vec<String> = Vec::new();
        for region in &regions {
            let signer = Signer {
                credentials: credentials.clone(),
                region: region.clone(),
                service: "ec2".into(),
                content_sha256_header: false,
            };
            let base = match &config.endpoint {
                Some(endpoint) => endpoint.trim_end_matches('/').to_string(),
                None => format!("https://ec2.{region}.amazonaws.com"),
            };
            let mut token: Option<String> = None;
            let mut in_region = 0;
            loop {
                let url = format!("{base}/?{}", query(&config, token.as_deref()));
                let body = retry.run(std::thread::sleep, || describe(&signer, &url, region))?;
                let (found, next) = addresses(&body, config.address)?;
                in_region += found.len();
                for address in found {
                    if !targets.contains(&address) {
                        targets.push(address);
                    }
                }
                match next {
                    Some(next) => token = Some(next),
                    None => break,
                }
            }
            brulee_sdk::log(
                Level::Info,
                &format!("{region}: {in_region} addresses of matching instances"),
            );
        }
        Ok(targets)
    }
}

/// One signed DescribeInstances call; the answer's XML on success.
fn describe(signer: &Signer, url: &str, region: &str) -> Outcome<String> {
    let signed = match signer.sign("GET", url, &[], b"", &Timestamp::now()) {
        Ok(signed) => signed,
        Err(e) => return Outcome::Fail(e.to_string()),
    };
    let mut request = Request::get(url);
    request.headers = signed;
    match send(&request) {
        Ok(r) if r.status == 200 => Outcome::Done(r.text()),
        Ok(r) => failure("EC2", region, r.status, &r.text()),
        Err(e) => transport(e),
    }
}

brulee_sdk::export!(Ec2 as source);
