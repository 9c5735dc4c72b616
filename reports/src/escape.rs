//! Escapers, one per kind of output.
//!
//! Each makes one string from the report (a banner, a host name, script output: text whoever
//! runs the scanned machine controls) safe to print in its format. Tera's autoescaping applies
//! the format's escaper to every string a template prints; numbers and booleans are printed
//! as they are, and arrays must be `join`ed first (Tera does not escape what is not a string).

/// For a terminal: control characters (escape sequences that could move the cursor,
/// change the title or hide text) become visible `\u{..}` codes.
pub fn terminal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// For GitHub-flavoured Markdown: inline text that cannot open markup, links, HTML or table
/// cells, and stays on one line.
pub fn markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '!' | '|'
            | '~' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => out.push_str(&c.escape_unicode().to_string()),
            c => out.push(c),
        }
    }
    out
}

/// For HTML text and quoted attribute values: Tera's own escaping (`& < > " ' /`).
pub fn html(s: &str) -> String {
    tera::escape_html(s)
}

/// Characters after which a line may break in LaTeX: long CPEs, paths, IPv6 addresses and host
/// names would otherwise run out of their table column.
const LATEX_BREAK_AFTER: &[char] = &['/', ':', '.', '_', '@', '=', ',', ';', '&', '?', '|'];

/// A run of this many characters without a place to break gets one, for the same reason.
const LATEX_MAX_RUN: usize = 20;

/// For LaTeX text (pdflatex with `\usepackage[T1]{fontenc}`), in the body, in table cells and
/// in section titles. Every character that means something to TeX is printed, not obeyed:
/// `\ { } $ & # ^ _ ~ %` and the brackets an optional argument would take. Characters that
/// pdflatex cannot typeset (it stops with "Unicode character not set up") become visible
/// `\u{..}` codes instead of breaking the build. `\allowbreak{}` is inserted after
/// punctuation and in long runs so that long tokens wrap.
pub fn latex(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 4);
    let mut run = 0;
    for c in s.chars() {
        match c {
            '\\' => out.push_str(r"\textbackslash{}"),
            '{' | '}' | '$' | '&' | '#' | '_' | '%' => {
                out.push('\\');
                out.push(c);
            }
            '~' => out.push_str(r"\textasciitilde{}"),
            '^' => out.push_str(r"\textasciicircum{}"),
            '<' => out.push_str(r"\textless{}"),
            '>' => out.push_str(r"\textgreater{}"),
            '|' => out.push_str(r"\textbar{}"),
            '"' => out.push_str(r"\textquotedbl{}"),
            '\'' => out.push_str(r"\textquotesingle{}"),
            '`' => out.push_str(r"\textasciigrave{}"),
            // In braces: `\\[` would read a bracket as the optional argument of a line break.
            '[' | ']' => {
                out.push('{');
                out.push(c);
                out.push('}');
            }
            // `--`, `,,` would become ligatures (en dash, low quotes): keep them as typed.
            '-' | ',' => {
                out.push(c);
                out.push_str("{}");
            }
            '\n' | '\r' | '\t' => out.push(' '),
            '\u{2013}' => out.push_str(r"\textendash{}"),
            '\u{2014}' => out.push_str(r"\textemdash{}"),
            '\u{2018}' => out.push_str(r"\textquoteleft{}"),
            '\u{2019}' => out.push_str(r"\textquoteright{}"),
            '\u{201c}' => out.push_str(r"\textquotedblleft{}"),
            '\u{201d}' => out.push_str(r"\textquotedblright{}"),
            '\u{2026}' => out.push_str(r"\ldots{}"),
            '\u{2022}' => out.push_str(r"\textbullet{}"),
            '\u{20ac}' => out.push_str(r"\texteuro{}"),
            c if c.is_ascii_graphic() || c == ' ' || latex_typesets(c) => out.push(c),
            c => out.push_str(&format!(r"\textbackslash{{}}u\{{{:x}\}}", c as u32)),
        }
        run = if c == ' ' || LATEX_BREAK_AFTER.contains(&c) {
            0
        } else {
            run + 1
        };
        if LATEX_BREAK_AFTER.contains(&c) || run >= LATEX_MAX_RUN {
            out.push_str(r"\allowbreak{}");
            run = 0;
        }
    }
    out
}

/// Whether pdflatex with T1 fonts typesets this non-ASCII character from UTF-8 input: Latin-1
/// and Latin Extended-A, less the few letters T1 has no glyph for (checked with TeX Live 2022).
fn latex_typesets(c: char) -> bool {
    matches!(c, '\u{a0}'..='\u{17e}')
        && !matches!(
            c,
            '\u{126}'
                | '\u{127}'
                | '\u{138}'
                | '\u{13f}'
                | '\u{140}'
                | '\u{149}'
                | '\u{166}'
                | '\u{167}'
        )
}

/// For one CSV field (RFC 4180), for spreadsheets: always quoted, `"` doubled, and a field that
/// a spreadsheet would run as a formula (starting with `= + - @`, tab or carriage return) gets a
/// leading `'`, as OWASP's "CSV injection" advice says. A template prints each field with one
/// `{{ … }}` and puts the commas between them itself.
pub fn csv(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 3);
    out.push('"');
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        out.push('\'');
    }
    for c in s.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// For the inside of a JSON string literal (`"{{ value }}"` in a user's JSON template). `<`,
/// `>`, `&` and the JavaScript line separators are written as `\u` escapes too, so the JSON
/// also stays inert inside an HTML `<script>` element.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// No escaping: for formats rendered by code that escapes for itself (JSON).
pub fn none(s: &str) -> String {
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_defuses_control_sequences() {
        assert_eq!(terminal("ok\x1b[2Jgone"), "ok\\u{1b}[2Jgone");
    }

    #[test]
    fn markdown_cannot_open_markup() {
        assert_eq!(
            markdown("a|b [x](http://e) <script>\n*"),
            r"a\|b \[x\]\(http://e\) &lt;script&gt; \*"
        );
    }

    #[test]
    fn latex_prints_every_special_character() {
        assert_eq!(
            latex(r"\ % # _ { } & ~ ^ $"),
            concat!(
                r"\textbackslash{} \% \# \_\allowbreak{} \{ \} \&\allowbreak{} ",
                r"\textasciitilde{} \textasciicircum{} \$"
            )
        );
        // A command, a group and a comment stay text.
        assert_eq!(
            latex(r"\input{/etc/passwd}%"),
            r"\textbackslash{}input\{/\allowbreak{}etc/\allowbreak{}passwd\}\%"
        );
        assert_eq!(latex("[opt]"), "{[}opt{]}");
        assert_eq!(
            latex("a--b,,c"),
            "a-{}-{}b,{}\\allowbreak{},{}\\allowbreak{}c"
        );
        assert_eq!(
            latex("<|>\"'`"),
            concat!(
                r"\textless{}\textbar{}\allowbreak{}\textgreater{}",
                r"\textquotedbl{}\textquotesingle{}\textasciigrave{}"
            )
        );
    }

    #[test]
    fn latex_keeps_what_pdflatex_can_typeset_and_shows_codes_for_the_rest() {
        assert_eq!(latex("Grüße, Łódź"), r"Grüße,{}\allowbreak{} Łódź");
        assert_eq!(
            latex("\u{1b}中"),
            r"\textbackslash{}u\{1b\}\textbackslash{}u\{4e2d\}"
        );
        assert_eq!(latex("a\nb\tc"), "a b c");
        assert_eq!(latex("v1 \u{2013} …"), r"v1 \textendash{} \ldots{}");
    }

    #[test]
    fn latex_lets_long_tokens_break() {
        assert_eq!(
            latex("cpe:/a:x"),
            r"cpe:\allowbreak{}/\allowbreak{}a:\allowbreak{}x"
        );
        let long = latex(&"a".repeat(45));
        assert_eq!(long.matches(r"\allowbreak{}").count(), 2, "{long}");
        assert_eq!(latex(&"a".repeat(19)), "a".repeat(19));
    }

    #[test]
    fn html_escapes_markup_and_quotes() {
        assert_eq!(
            html(r#"</script><img src=x onerror="alert(1)">'"#),
            "&lt;&#x2F;script&gt;&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&#x27;"
        );
    }

    #[test]
    fn csv_quotes_every_field_and_defuses_formulas() {
        assert_eq!(csv("plain"), r#""plain""#);
        assert_eq!(csv(r#"a,"b""#), r#""a,""b""""#);
        assert_eq!(csv("line\nbreak"), "\"line\nbreak\"");
        for formula in ["=1+2", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(csv(formula), format!("\"'{formula}\""));
        }
        assert_eq!(
            csv(r#"=HYPERLINK("http://e")"#),
            r#""'=HYPERLINK(""http://e"")""#
        );
        assert_eq!(csv(""), r#""""#);
    }

    #[test]
    fn json_string_stays_a_string_even_inside_a_script_element() {
        let hostile = "\"}</script><script>alert(1)</script>\u{2028}\\\n\u{1}";
        let escaped = json_string(hostile);
        assert!(
            !escaped.contains('<') && !escaped.contains('\u{2028}'),
            "{escaped}"
        );
        let back: String = serde_json::from_str(&format!("\"{escaped}\"")).unwrap();
        assert_eq!(back, hostile);
    }
}
