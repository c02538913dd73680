//! The one place that decides how text is written into a CSV cell (RFC 4180), for every file
//! hemosurv writes: result tables, the evidence audit trail, rejects, simulated and imported
//! cohort tables.
//!
//! A field is quoted when it holds a comma, a double quote, CR or LF, with each quote doubled.
//! Result tables distinguish NA (an empty cell) from an empty text: [`text_cell`] writes the
//! empty string as `""`; [`field`] (input-side tables, where an empty cell is missing by the
//! data contract) writes it as nothing.

use std::borrow::Cow;

/// `s` as a CSV field: quoted (quotes doubled) when it holds `,` `"` CR or LF.
pub fn field(s: &str) -> Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", s.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(s)
    }
}

/// As [`field`], but the empty string is written `""`, so that it differs from NA (empty cell).
pub fn text_cell(s: &str) -> Cow<'_, str> {
    if s.is_empty() {
        Cow::Borrowed("\"\"")
    } else {
        field(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_when_needed() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field(" spaced "), " spaced ");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(field("cr\r"), "\"cr\r\"");
        assert_eq!(field(""), "");
        assert_eq!(text_cell(""), "\"\"");
        assert_eq!(text_cell("a,b"), "\"a,b\"");
        assert!(matches!(field("plain"), Cow::Borrowed(_)), "no copy for plain text");
    }
}
