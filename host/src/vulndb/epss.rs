//! FIRST's EPSS scores: the daily CSV (`epss_scores-YYYY-MM-DD.csv.gz`), read line by line.
//!
//! Line 1 is `#model_version:v2025.03.14,score_date:2026-01-30T12:55:00Z`, line 2 the header
//! `cve,epss,percentile`, then one row per CVE. Scores may be written in exponent form
//! (`4e-05`). Files from before 2022 have no model line, and the oldest no percentile column.

use std::io::BufRead;

/// One CVE's score.
#[derive(Debug, Clone, PartialEq)]
pub struct EpssScore {
    pub cve_id: String,
    /// Probability of exploitation activity in the next 30 days, 0–1.
    pub score: f64,
    /// Share of all scored CVEs with a lower or equal score, 0–1.
    pub percentile: Option<f64>,
}

/// What line 1 says: which model scored the CVEs, and when.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EpssHeader {
    pub model: Option<String>,
    pub date: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum EpssError {
    #[error("line {line}: {why}")]
    Row { line: u64, why: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Whether `start` (the first bytes of a decompressed file) is an EPSS CSV.
pub fn looks_like_epss(start: &[u8]) -> bool {
    start.starts_with(b"#model_version:") || start.starts_with(b"cve,epss")
}

/// What the reader hands on: the header once, before the first score, then every score.
#[derive(Debug)]
pub enum EpssLine<'a> {
    Header(&'a EpssHeader),
    Score(EpssScore),
}

/// Read an EPSS CSV, calling `each` with the header and then every row. A malformed row
/// fails the whole file (a half-read file must not replace the scores).
pub fn read_epss<R: BufRead, E>(
    input: R,
    mut each: impl FnMut(EpssLine<'_>) -> Result<(), E>,
) -> Result<Result<EpssHeader, E>, EpssError> {
    let mut meta = EpssHeader::default();
    let mut columns: Option<(usize, usize, Option<usize>)> = None;
    let mut announced = false;
    for (index, line) in input.lines().enumerate() {
        let line = line?;
        let number = index as u64 + 1;
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            for pair in comment.split(',') {
                match pair.split_once(':') {
                    Some(("model_version", v)) => meta.model = Some(v.trim().to_string()),
                    Some(("score_date", v)) => meta.date = Some(v.trim().to_string()),
                    _ => {}
                }
            }
            continue;
        }
        let Some((cve, score, percentile)) = columns else {
            let names: Vec<&str> = line.split(',').map(str::trim).collect();
            let find = |name: &str| names.iter().position(|n| *n == name);
            match (find("cve"), find("epss")) {
                (Some(c), Some(e)) => columns = Some((c, e, find("percentile"))),
                _ => {
                    return Err(EpssError::Row {
                        line: number,
                        why: format!("expected the header cve,epss,percentile, found {line:?}"),
                    })
                }
            }
            continue;
        };
        if !announced {
            if let Err(e) = each(EpssLine::Header(&meta)) {
                return Ok(Err(e));
            }
            announced = true;
        }
        let fields: Vec<&str> = line.split(',').collect();
        let bad = |why: String| EpssError::Row { line: number, why };
        let id = fields
            .get(cve)
            .map(|s| s.trim())
            .filter(|s| s.starts_with("CVE-"))
            .ok_or_else(|| bad(format!("no CVE id in {line:?}")))?;
        let number_at = |i: usize, what: &str| -> Result<f64, EpssError> {
            fields
                .get(i)
                .and_then(|s| s.trim().parse::<f64>().ok())
                .filter(|v| (0.0..=1.0).contains(v))
                .ok_or_else(|| bad(format!("{what} of {id} is not a number from 0 to 1")))
        };
        let score = number_at(score, "the score")?;
        let percentile = percentile
            .map(|i| number_at(i, "the percentile"))
            .transpose()?;
        if let Err(e) = each(EpssLine::Score(EpssScore {
            cve_id: id.to_string(),
            score,
            percentile,
        })) {
            return Ok(Err(e));
        }
    }
    if columns.is_none() {
        return Err(EpssError::Row {
            line: 0,
            why: "no header line cve,epss,percentile".into(),
        });
    }
    if !announced {
        if let Err(e) = each(EpssLine::Header(&meta)) {
            return Ok(Err(e));
        }
    }
    Ok(Ok(meta))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn read(text: &str) -> Result<(EpssHeader, Vec<EpssScore>), EpssError> {
        let mut rows = Vec::new();
        let header = read_epss(text.as_bytes(), |line| {
            if let EpssLine::Score(s) = line {
                rows.push(s);
            }
            Ok::<(), ()>(())
        })?
        .unwrap();
        Ok((header, rows))
    }

    #[test]
    fn reads_the_real_daily_file() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/data/epss/epss_scores-2026-01-30.csv.gz");
        let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
        let gz = std::io::BufReader::new(flate2::bufread::MultiGzDecoder::new(file));
        let mut rows = std::collections::HashMap::new();
        let header = read_epss(gz, |line| {
            if let EpssLine::Score(s) = line {
                rows.insert(s.cve_id.clone(), s);
            }
            Ok::<(), ()>(())
        })
        .unwrap()
        .unwrap();
        assert_eq!(header.model.as_deref(), Some("v2025.03.14"));
        assert_eq!(header.date.as_deref(), Some("2026-01-30T12:55:00Z"));
        assert_eq!(rows.len(), 313_089);
        let agent = &rows["CVE-2023-38408"];
        assert_eq!((agent.score, agent.percentile), (0.67312, Some(0.98518)));
        assert_eq!(rows["CVE-2022-0543"].score, 0.94398);
        // Exponent form, as the file writes its smallest scores.
        assert!(rows.values().any(|s| s.score < 1e-4));
    }

    #[test]
    fn reads_exponents_old_files_and_refuses_bad_rows() {
        let (header, rows) =
            read("#model_version:v2023.03.01,score_date:2023-04-01T00:00:00+0000\ncve,epss,percentile\nCVE-2021-1,4e-05,0.01\r\n").unwrap();
        assert_eq!(header.model.as_deref(), Some("v2023.03.01"));
        assert_eq!(rows[0].score, 4e-05);
        let (header, rows) = read("cve,epss\nCVE-2021-2,0.5\n").unwrap();
        assert_eq!((header.model, rows[0].percentile), (None, None));
        let err = read("cve,epss,percentile\nCVE-2021-3,high,0.1\n").unwrap_err();
        assert!(err.to_string().starts_with("line 2:"), "{err}");
        assert!(read("cve,epss,percentile\nCVE-2021-3,1.5,0.1\n").is_err());
        assert!(read("id,score\n").is_err());
    }
}
