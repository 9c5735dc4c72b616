//! The `webhook` sink: POSTs the JSON report to an HTTP endpoint or, with a baseline, only the
//! vulnerabilities that are new since then; as plain JSON or as a Slack or Teams message.
//!
//! ```toml
//! [[sink]]
//! plugin = "webhook"
//! allow_hosts = ["hooks.slack.com"]
//! env = ["SLACK_WEBHOOK_URL"]          # the URL is a secret: read it from a variable
//! config = { url_env = "SLACK_WEBHOOK_URL", format = "slack" }
//! ```
//!
//! With `brulee scan … --baseline last-week/report.json` the report carries a `diff` section,
//! and the webhook tells only the new vulnerabilities (`send = "auto"`); when there are none it
//! says so in brulee's log and posts nothing (`when_nothing_new = "skip"`).

mod message;

use brulee_sdk::http::{send, Request};
use brulee_sdk::{Artifact, Level, Sink};
use message::{Alert, Format, Send};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Where to POST; or `url_env`.
    url: Option<String>,
    /// A granted variable holding the URL (Slack's and Teams' webhook URLs are secrets).
    url_env: Option<String>,
    /// The granted environment variable holding a bearer token, if any.
    token_env: Option<String>,
    #[serde(default)]
    format: Format,
    #[serde(default)]
    send: Send,
    #[serde(default)]
    when_nothing_new: WhenNothingNew,
    /// Vulnerabilities listed in a Slack or Teams message; the rest are counted.
    #[serde(default = "default_max_listed")]
    max_listed: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
enum WhenNothingNew {
    /// Post nothing (brulee's log says so).
    #[default]
    Skip,
    /// Post the "no new vulnerabilities" message anyway (a heartbeat).
    Send,
}

fn default_max_listed() -> usize {
    20
}

struct Webhook;

impl Sink for Webhook {
    fn deliver(report: String, artifacts: Vec<Artifact>) -> Result<(), String> {
        let config: Config = brulee_sdk::config()?;
        let url = match (&config.url, &config.url_env) {
            (Some(url), None) => url.clone(),
            (None, Some(name)) => brulee_sdk::env(name)?
                .filter(|u| !u.is_empty())
                .ok_or(format!("config.url_env names {name}, which is not set"))?,
            _ => return Err("give exactly one of config.url and config.url_env".into()),
        };
        let parsed: serde_json::Value = serde_json::from_str(&report)
            .map_err(|e| format!("the report brulee handed over is not JSON: {e}"))?;
        let alert = Alert::of(&parsed, config.send)?;
        if alert.only_new
            && alert.items.is_empty()
            && config.when_nothing_new == WhenNothingNew::Skip
        {
            brulee_sdk::log(
                Level::Info,
                &format!("{}: nothing sent to {}", alert.headline(), redact(&url)),
            );
            return Ok(());
        }
        let body = match config.format {
            Format::Json if !alert.only_new => report,
            Format::Json => alert.json().to_string(),
            Format::Slack => alert.slack(config.max_listed).to_string(),
            Format::Teams => alert.teams(config.max_listed).to_string(),
        };
        let mut request = Request::post(&url, body)
            .header("content-type", "application/json")
            .header("x-brulee-artifacts", &artifacts.len().to_string());
        if let Some(name) = &config.token_env {
            let token = brulee_sdk::env(name)?.ok_or(format!("{name} is not set"))?;
            request = request.header("authorization", &format!("Bearer {token}"));
        }
        let response = send(&request).map_err(|e| e.replace(&url, &redact(&url)))?;
        if !(200..300).contains(&response.status) {
            return Err(format!(
                "{} answered HTTP {}: {}",
                redact(&url),
                response.status,
                response.text().chars().take(200).collect::<String>()
            ));
        }
        brulee_sdk::log(
            Level::Info,
            &format!("{}: sent to {}", alert.headline(), redact(&url)),
        );
        Ok(())
    }
}

/// The URL without its path: Slack's and Teams' webhook URLs carry their secret there, and
/// brulee's log and report must not.
fn redact(url: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => format!("{}/…", &url[..after_scheme + i]),
        None => url.to_string(),
    }
}

brulee_sdk::export!(Webhook as sink);
