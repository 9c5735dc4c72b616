//! What the webhook posts: the JSON report, or an alert of the new vulnerabilities since a
//! baseline, as plain JSON or as a Slack or Microsoft Teams message.
//!
//! Everything here reads the JSON report (docs/report.schema.json) by key, so that a report of
//! a newer minor schema still works. Text from scanned services (product names, versions)
//! ends up in chat messages: it is escaped for each format, so a banner cannot add links or
//! mentions.

use serde_json::{json, Value};

/// The payload formats of `config.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// The JSON report itself, or with a baseline a JSON alert of the new vulnerabilities.
    #[default]
    Json,
    /// A Slack message (incoming webhook): `text` and Block Kit `blocks`.
    Slack,
    /// A Microsoft Teams message with an Adaptive Card (a Workflows "when a Teams webhook
    /// request is received" trigger, or a bot).
    Teams,
}

/// Which vulnerabilities `config.send` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Send {
    /// Only the new ones when the report has a baseline (`--baseline`), else all.
    #[default]
    Auto,
    /// Only the new ones; the run must have a baseline.
    New,
    /// All of them.
    All,
}

/// One vulnerability to tell about.
#[derive(Debug, Clone, PartialEq)]
pub struct Item<'a> {
    pub finding: &'a Value,
}

impl Item<'_> {
    fn text(&self, key: &str) -> &str {
        self.finding[key].as_str().unwrap_or("")
    }

    fn severity(&self) -> &str {
        match self.text("severity") {
            "" => "unknown",
            s => s,
        }
    }

    fn endpoint(&self) -> String {
        format!(
            "{}:{}/{}",
            self.text("address"),
            self.finding["port"],
            self.text("protocol")
        )
    }

    fn software(&self) -> String {
        let product = self.text("product");
        let product = if product.is_empty() {
            self.text("service")
        } else {
            product
        };
        format!("{product} {}", self.text("version"))
            .trim()
            .to_string()
    }

    fn score(&self) -> String {
        self.finding["cvss"]
            .as_f64()
            .map(|c| format!(" {c:.1}"))
            .unwrap_or_default()
    }

    fn marks(&self) -> &'static str {
        if self.finding["kev"].as_bool() == Some(true) {
            " · known exploited"
        } else if self.finding["exploit"].as_bool() == Some(true) {
            " · exploit"
        } else {
            ""
        }
    }
}

/// What the run tells: which vulnerabilities, counted how.
#[derive(Debug)]
pub struct Alert<'a> {
    /// True when only the new vulnerabilities since a baseline are told.
    pub only_new: bool,
    /// Most severe first.
    pub items: Vec<Item<'a>>,
    pub baseline_started: Option<&'a str>,
    pub fixed: u64,
    pub unchanged: u64,
    report: &'a Value,
}

impl<'a> Alert<'a> {
    /// The vulnerabilities `send` asks for, out of `report`.
    pub fn of(report: &'a Value, send: Send) -> Result<Alert<'a>, String> {
        let diff = report.get("diff").filter(|d| d.is_object());
        let only_new = match (send, diff) {
            (Send::All, _) | (Send::Auto, None) => false,
            (Send::Auto | Send::New, Some(_)) => true,
            (Send::New, None) => {
                return Err(
                    "config.send = \"new\" needs a baseline: run brulee with --baseline OLD.json (or set send = \"auto\")"
                        .into(),
                )
            }
        };
        let findings = report["findings"].as_array().map_or(&[][..], Vec::as_slice);
        let mut items: Vec<Item> = match diff.filter(|_| only_new) {
            None => findings.iter().map(|finding| Item { finding }).collect(),
            Some(diff) => {
                let mut new = Vec::new();
                for endpoint in diff["endpoints"].as_array().into_iter().flatten() {
                    for cve in endpoint["new"].as_array().into_iter().flatten() {
                        // The diff names them; the findings say the rest.
                        new.extend(
                            findings
                                .iter()
                                .find(|f| {
                                    f["address"] == endpoint["address"]
                                        && f["port"] == endpoint["port"]
                                        && f["protocol"] == endpoint["protocol"]
                                        && f["cve"] == *cve
                                })
                                .map(|finding| Item { finding }),
                        );
                    }
                }
                new
            }
        };
        items.sort_by(|a, b| {
            let cvss = |i: &Item| i.finding["cvss"].as_f64().unwrap_or(-1.0);
            rank(b.severity())
                .cmp(&rank(a.severity()))
                .then(cvss(b).total_cmp(&cvss(a)))
                .then_with(|| a.text("cve").cmp(b.text("cve")))
                .then_with(|| a.endpoint().cmp(&b.endpoint()))
        });
        Ok(Alert {
            only_new,
            items,
            baseline_started: diff.and_then(|d| d["baseline_started"].as_str()),
            fixed: diff.and_then(|d| d["fixed"].as_u64()).unwrap_or(0),
            unchanged: diff.and_then(|d| d["unchanged"].as_u64()).unwrap_or(0),
            report,
        })
    }

    /// The one-line summary: "3 new vulnerabilities (1 critical, 2 high) since 2026-11-24 …".
    pub fn headline(&self) -> String {
        let n = self.items.len();
        let what = match (self.only_new, n) {
            (true, 0) => "no new vulnerabilities".to_string(),
            (true, 1) => "1 new vulnerability".to_string(),
            (true, n) => format!("{n} new vulnerabilities"),
            (false, 0) => "no vulnerabilities".to_string(),
            (false, 1) => "1 vulnerability".to_string(),
            (false, n) => format!("{n} vulnerabilities"),
        };
        let counts = self.severity_counts();
        let since = match self.baseline_started.filter(|_| self.only_new) {
            Some(t) => format!(" since the scan of {}", short_time(t)),
            None => String::new(),
        };
        if counts.is_empty() {
            format!("brulee: {what}{since}")
        } else {
            format!("brulee: {what} ({counts}){since}")
        }
    }

    /// "1 critical, 2 high".
    fn severity_counts(&self) -> String {
        let mut counts: Vec<(&str, usize)> = Vec::new();
        for item in &self.items {
            match counts.iter_mut().find(|(s, _)| *s == item.severity()) {
                Some((_, n)) => *n += 1,
                None => counts.push((item.severity(), 1)),
            }
        }
        counts
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The facts a chat message shows under the headline.
    fn facts(&self) -> Vec<(&'static str, String)> {
        let scan = &self.report["scan"];
        let mut facts = vec![(
            "Scan",
            format!(
                "{}{}",
                scan["started"].as_str().map(short_time).unwrap_or_default(),
                match scan["targets"].as_array().filter(|t| !t.is_empty()) {
                    Some(targets) => format!(
                        " of {}",
                        targets
                            .iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(" ")
                    ),
                    None => String::new(),
                }
            ),
        )];
        let summary = &self.report["summary"];
        facts.push((
            "Hosts",
            format!(
                "{} up, {} open ports, {} vulnerable services",
                summary["hosts_up"], summary["open_ports"], summary["vulnerable_services"]
            ),
        ));
        if self.only_new {
            facts.push((
                "Since baseline",
                format!(
                    "{} new, {} fixed, {} unchanged",
                    self.items.len(),
                    self.fixed,
                    self.unchanged
                ),
            ));
        } else {
            facts.push(("Findings", summary["findings"].to_string()));
        }
        facts
    }

    /// The JSON alert (format json with a baseline).
    pub fn json(&self) -> Value {
        json!({
            "kind": "brulee.new-vulnerabilities",
            "headline": self.headline(),
            "scan": {
                "started": self.report["scan"]["started"],
                "finished": self.report["scan"]["finished"],
                "targets": self.report["scan"]["targets"],
            },
            "baseline_started": self.baseline_started,
            "new": self.items.len(),
            "fixed": self.fixed,
            "unchanged": self.unchanged,
            "findings": self.items.iter().map(|i| i.finding.clone()).collect::<Vec<_>>(),
        })
    }

    /// A Slack message: the headline as `text` (notifications, clients without blocks) and
    /// Block Kit blocks: a header, the facts, then one line per vulnerability, at most
    /// `max_listed`.
    pub fn slack(&self, max_listed: usize) -> Value {
        let mut blocks = vec![
            json!({"type": "header", "text": {"type": "plain_text", "text": clip(&self.headline(), 150)}}),
            json!({"type": "section", "fields": self.facts().iter().map(|(k, v)| json!({
                "type": "mrkdwn",
                "text": clip(&format!("*{k}*\n{}", slack_escape(v)), 2000),
            })).collect::<Vec<_>>()}),
        ];
        let lines: Vec<String> = self
            .items
            .iter()
            .take(max_listed)
            .map(|item| {
                let id = slack_escape(item.text("cve"));
                let id = match item.finding["url"]
                    .as_str()
                    .filter(|u| u.starts_with("https://"))
                {
                    Some(url) => format!("<{}|{id}>", slack_escape(url)),
                    None => id,
                };
                format!(
                    "*{}{}* {id} · {} · `{}`{}",
                    item.severity().to_uppercase(),
                    item.score(),
                    slack_escape(&item.software()),
                    slack_escape(&item.endpoint()),
                    item.marks()
                )
            })
            .collect();
        if !lines.is_empty() {
            blocks.push(json!({"type": "divider"}));
        }
        // A section's text holds at most 3000 characters.
        let mut text = String::new();
        for line in lines {
            if !text.is_empty() && text.len() + line.len() + 1 > 2900 {
                blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}));
                text = String::new();
            }
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&line);
        }
        if !text.is_empty() {
            blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}));
        }
        if let Some(more) = self.more(max_listed) {
            blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": more}]}));
        }
        json!({"text": self.headline(), "blocks": blocks})
    }

    /// A Teams message carrying an Adaptive Card (schema 1.4): the headline, the facts, one
    /// line per vulnerability (at most `max_listed`).
    pub fn teams(&self, max_listed: usize) -> Value {
        let mut body = vec![
            json!({"type": "TextBlock", "text": teams_escape(&self.headline()), "size": "Large", "weight": "Bolder", "wrap": true}),
            json!({"type": "FactSet", "facts": self.facts().iter().map(|(k, v)| json!({
                "title": k, "value": teams_escape(v),
            })).collect::<Vec<_>>()}),
        ];
        for item in self.items.iter().take(max_listed) {
            let id = teams_escape(item.text("cve"));
            let id = match item.finding["url"]
                .as_str()
                .filter(|u| u.starts_with("https://"))
            {
                Some(url) => format!("[{id}]({url})"),
                None => id,
            };
            body.push(json!({
                "type": "TextBlock",
                "wrap": true,
                "spacing": "Small",
                "text": format!(
                    "**{}{}** {id} · {} · {}{}",
                    item.severity().to_uppercase(),
                    item.score(),
                    teams_escape(&item.software()),
                    teams_escape(&item.endpoint()),
                    item.marks()
                ),
            }));
        }
        if let Some(more) = self.more(max_listed) {
            body.push(json!({"type": "TextBlock", "text": more, "isSubtle": true, "wrap": true}));
        }
        json!({
            "type": "message",
            "summary": self.headline(),
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": body,
                },
            }],
        })
    }

    fn more(&self, max_listed: usize) -> Option<String> {
        let rest = self.items.len().saturating_sub(max_listed);
        (rest > 0).then(|| format!("… and {rest} more in the report"))
    }
}

fn rank(severity: &str) -> u8 {
    match severity {
        "critical" => 5,
        "high" => 4,
        "medium" => 3,
        "low" => 2,
        "none" => 1,
        _ => 0,
    }
}

/// "2026-11-25T14:38:02Z" → "2026-11-25 14:38 UTC".
fn short_time(rfc3339: &str) -> String {
    match (rfc3339.get(..10), rfc3339.get(11..16)) {
        (Some(day), Some(time)) if rfc3339.ends_with('Z') => format!("{day} {time} UTC"),
        _ => rfc3339.to_string(),
    }
}

/// Slack's mrkdwn: `&`, `<`, `>` are its control characters; the formatting characters are
/// neutralised too, so that a banner cannot bold, strike or quote.
fn slack_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().filter(|c| !c.is_control()) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '*' | '_' | '~' | '`' => {
                out.push(c);
                out.push('\u{200b}'); // a zero-width space breaks the markup
            }
            c => out.push(c),
        }
    }
    out
}

/// Adaptive Cards' Markdown subset: escape its markup characters with a backslash.
fn teams_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().filter(|c| !c.is_control()) {
        if "\\*_[]()`#<>~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// At most `max` characters (Slack's header holds 150).
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut clipped: String = text.chars().take(max - 1).collect();
        clipped.push('…');
        clipped
    }
}
