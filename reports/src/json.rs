//! The JSON formats, written by serde rather than a template so that they are valid JSON
//! whatever the report holds.

use serde_json::Value;

use crate::RenderError;

/// `json`: the report model itself, pretty-printed.
pub(crate) fn canonical(report: &Value) -> Result<String, RenderError> {
    let mut json = serde_json::to_string_pretty(report).map_err(|err| RenderError::Code {
        format: "json",
        message: err.to_string(),
    })?;
    json.push('\n');
    Ok(json)
}

/// `jsonl`: one line per finding, each the finding object of the model's `findings` array
/// (JSON Lines: compact JSON, `\n` after every line).
pub(crate) fn lines(report: &Value) -> Result<String, RenderError> {
    let mut out = String::new();
    for finding in report["findings"].as_array().into_iter().flatten() {
        let line = serde_json::to_string(finding).map_err(|err| RenderError::Code {
            format: "jsonl",
            message: err.to_string(),
        })?;
        out.push_str(&line);
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_finding_even_with_newlines_in_the_data() {
        let report = serde_json::json!({"findings": [
            {"id": "CVE-2023-38408", "product": "a\nb"},
            {"id": "CVE-2020-15778", "product": "</script>"},
        ]});
        let out = lines(&report).unwrap();
        let parsed: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(parsed, report["findings"].as_array().unwrap().clone());
        assert!(out.ends_with('\n'));
        assert_eq!(lines(&serde_json::json!({"findings": []})).unwrap(), "");
    }
}
