//! CPE names: nmap's 2.2 URIs (`cpe:/a:openbsd:openssh:9.2p1`) and NVD's 2.3 formatted strings
//! (`cpe:2.3:a:openbsd:openssh:9.3:p1:*:*:*:*:*:*`), parsed into one type.
//!
//! Only the attributes brulee matches on are kept: part, vendor, product, version, update.
//! Values are unescaped and lower-cased (CPE matching is case-insensitive).

use std::fmt;

/// One attribute value: a concrete string, ANY (`*`, or absent in a URI) or NA (`-`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum CpeValue {
    Any,
    Na,
    Value(String),
}

impl CpeValue {
    pub fn as_value(&self) -> Option<&str> {
        match self {
            CpeValue::Value(v) => Some(v),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CpeName {
    /// 'a' application, 'o' operating system, 'h' hardware.
    pub part: char,
    pub vendor: String,
    pub product: String,
    pub version: CpeValue,
    pub update: CpeValue,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{cpe:?} is not a CPE name: {reason}")]
pub struct CpeError {
    pub cpe: String,
    pub reason: &'static str,
}

impl CpeName {
    /// Parse either binding (2.2 URI or 2.3 formatted string).
    pub fn parse(text: &str) -> Result<CpeName, CpeError> {
        let err = |reason| CpeError {
            cpe: text.to_string(),
            reason,
        };
        if let Some(rest) = text.strip_prefix("cpe:2.3:") {
            // `\` quotes the next character; at the very end it quotes nothing.
            if rest.chars().rev().take_while(|&c| c == '\\').count() % 2 == 1 {
                return Err(err("it ends with a lone backslash"));
            }
            let fields = split_escaped(rest);
            if fields.len() < 5 {
                return Err(err(
                    "a 2.3 name needs at least part, vendor, product, version, update",
                ));
            }
            let value = |s: &str| match s {
                "*" | "" => CpeValue::Any,
                "-" => CpeValue::Na,
                other => CpeValue::Value(unescape_fs(other)),
            };
            Ok(CpeName {
                part: part(&fields[0]).ok_or_else(|| err("the part must be a, o or h"))?,
                vendor: unescape_fs(&fields[1]),
                product: unescape_fs(&fields[2]),
                version: value(&fields[3]),
                update: value(&fields[4]),
            })
        } else if let Some(rest) = text.strip_prefix("cpe:/") {
            let fields: Vec<&str> = rest.split(':').collect();
            if fields.len() < 3 {
                return Err(err("a 2.2 URI needs at least part, vendor and product"));
            }
            // `*` is not ANY in the 2.2 binding (that is an empty field), but every tool that
            // writes one means it so, as in 2.3.
            let value = |i: usize| match fields.get(i).copied() {
                None | Some("") | Some("*") => CpeValue::Any,
                Some("-") => CpeValue::Na,
                Some(v) => CpeValue::Value(unescape_uri(v)),
            };
            Ok(CpeName {
                part: part(fields[0]).ok_or_else(|| err("the part must be a, o or h"))?,
                vendor: unescape_uri(fields[1]),
                product: unescape_uri(fields[2]),
                version: value(3),
                update: value(4),
            })
        } else {
            Err(err("it starts with neither cpe:/ nor cpe:2.3:"))
        }
    }
}

impl fmt::Display for CpeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = |v: &CpeValue| match v {
            CpeValue::Any => "*".to_string(),
            CpeValue::Na => "-".to_string(),
            CpeValue::Value(s) => s.clone(),
        };
        write!(
            f,
            "cpe:2.3:{}:{}:{}:{}:{}",
            self.part,
            self.vendor,
            self.product,
            v(&self.version),
            v(&self.update)
        )
    }
}

fn part(s: &str) -> Option<char> {
    match s {
        "a" | "o" | "h" => s.chars().next(),
        _ => None,
    }
}

/// Split a 2.3 formatted string on the colons that are not escaped with a backslash.
fn split_escaped(s: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                fields.last_mut().unwrap().push('\\');
                if let Some(next) = chars.next() {
                    fields.last_mut().unwrap().push(next);
                }
            }
            ':' => fields.push(String::new()),
            c => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

/// `\:` → `:`, `\.` → `.` …; lower-case.
fn unescape_fs(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out.to_lowercase()
}

/// `%21` → `!` …; lower-case.
fn unescape_uri(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 3 <= bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nmaps_uris() {
        let c = CpeName::parse("cpe:/a:openbsd:openssh:9.2p1").unwrap();
        assert_eq!(
            (c.part, c.vendor.as_str(), c.product.as_str()),
            ('a', "openbsd", "openssh")
        );
        assert_eq!(c.version, CpeValue::Value("9.2p1".into()));
        assert_eq!(c.update, CpeValue::Any);
        let c = CpeName::parse("cpe:/o:linux:linux_kernel").unwrap();
        assert_eq!(c.version, CpeValue::Any);
        let c = CpeName::parse("cpe:/a:postgresql:postgresql:9.6").unwrap();
        assert_eq!(c.version.as_value(), Some("9.6"));
        let c = CpeName::parse("cpe:/a:Vendor%21:prod").unwrap();
        assert_eq!(c.vendor, "vendor!");
    }

    #[test]
    fn parses_nvds_formatted_strings_with_escapes() {
        let c = CpeName::parse("cpe:2.3:a:openbsd:openssh:9.3:p1:*:*:*:*:*:*").unwrap();
        assert_eq!(c.version.as_value(), Some("9.3"));
        assert_eq!(c.update.as_value(), Some("p1"));
        let c = CpeName::parse(r"cpe:2.3:a:foo\:bar:baz\.qux:1.0:-:*:*:*:*:*:*").unwrap();
        assert_eq!(c.vendor, "foo:bar");
        assert_eq!(c.product, "baz.qux");
        assert_eq!(c.update, CpeValue::Na);
        let c = CpeName::parse("cpe:2.3:a:openbsd:openssh:-:*:*:*:*:*:*:*").unwrap();
        assert_eq!(c.version, CpeValue::Na);
    }

    #[test]
    fn a_bare_asterisk_is_any_in_both_bindings_found_by_fuzzing() {
        // The `cpe` fuzz target's crash: a 2.2 URI with `*` for its version read as the
        // version "*", where the 2.3 string reads ANY.
        let c = CpeName::parse("cpe:/a:redhat:opes:*:*t_data_foundation:4").unwrap();
        assert_eq!(c.version, CpeValue::Any);
        assert_eq!(c.update, CpeValue::Value("*t_data_foundation".into()));
        let c = CpeName::parse("cpe:2.3:a:redhat:opes:*:*:*:*:*:*:*:*").unwrap();
        assert_eq!((c.version, c.update), (CpeValue::Any, CpeValue::Any));
        // The `cpe` fuzz target's second crash: a lone backslash at the end quoted nothing
        // and left an empty value.
        assert!(CpeName::parse(r"cpe:2.3:o:cisco:i.1.:\\|*\o:\").is_err());
        assert!(
            CpeName::parse(r"cpe:2.3:a:v:p:1.0:\\").is_ok(),
            "a quoted backslash"
        );
        // Quoted, it is a character.
        let c = CpeName::parse(r"cpe:2.3:a:v:p:\*:-:*:*:*:*:*:*").unwrap();
        assert_eq!(
            (c.version, c.update),
            (CpeValue::Value("*".into()), CpeValue::Na)
        );
    }

    #[test]
    fn refuses_what_is_not_a_cpe() {
        for bad in [
            "",
            "cpe:",
            "cpe:/x:a:b",
            "cpe:/a:onlyvendor",
            "cpe:2.3:a:v",
            "openssh 9.2",
            "cpe:/a:v:p:%",
            "cpe:/a:v:p:%é",
        ] {
            // "cpe:/a:v:p:%" is a valid name with an odd version; the rest must fail.
            if bad.starts_with("cpe:/a:v:p:%") {
                assert!(CpeName::parse(bad).is_ok());
            } else {
                assert!(CpeName::parse(bad).is_err(), "{bad}");
            }
        }
    }
}
