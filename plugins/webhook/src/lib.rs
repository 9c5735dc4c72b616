//! The `webhook` sink: POSTs the JSON report to an HTTP endpoint.
//!
//! ```toml
//! [[sink]]
//! plugin = "webhook"
//! allow_hosts = ["hooks.example.org"]
//! env = ["WEBHOOK_TOKEN"]          # optional: sent as `Authorization: Bearer …`
//! config = { url = "https://hooks.example.org/brulee", token_env = "WEBHOOK_TOKEN" }
//! ```

use brulee_sdk::http::{send, Request};
use brulee_sdk::{Artifact, Level, Sink};

#[derive(serde::Deserialize)]
struct Config {
    url: String,
    /// The granted environment variable holding a bearer token, if any.
    token_env: Option<String>,
}

struct Webhook;

impl Sink for Webhook {
    fn deliver(report: String, artifacts: Vec<Artifact>) -> Result<(), String> {
        let config: Config = brulee_sdk::config()?;
        let mut request = Request::post(&config.url, report)
            .header("content-type", "application/json")
            .header("x-brulee-artifacts", &artifacts.len().to_string());
        if let Some(name) = &config.token_env {
            let token = brulee_sdk::env(name)?.ok_or(format!("{name} is not set"))?;
            request = request.header("authorization", &format!("Bearer {token}"));
        }
        let response = send(&request)?;
        if !(200..300).contains(&response.status) {
            return Err(format!(
                "{} answered HTTP {}: {}",
                config.url,
                response.status,
                response.text().chars().take(200).collect::<String>()
            ));
        }
        brulee_sdk::log(
            Level::Info,
            &format!("delivered the report to {}", config.url),
        );
        Ok(())
    }
}

brulee_sdk::export!(Webhook as sink);
