//! Request parameters as OAuth reads them: from a query string or form body, where a
//! parameter "sent without a value MUST be treated as if it were omitted" and none may be
//! "included more than once" (RFC 6749 §3.1).

use axum::http::{header, HeaderMap};

/// Longer values are refused: nothing legitimate needs more (RFC 7636 verifiers are ≤128).
pub const MAX_VALUE_LEN: usize = 4096;

#[derive(Debug, Clone, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub fn parse(raw: &[u8]) -> Self {
        Self {
            pairs: url::form_urlencoded::parse(raw).into_owned().collect(),
        }
    }

    /// A form body; anything but `application/x-www-form-urlencoded` reads as empty.
    pub fn from_form(headers: &HeaderMap, body: &[u8]) -> Option<Self> {
        let content_type = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
        let is_form = content_type.split(';').next().is_some_and(|t| {
            t.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
        is_form.then(|| Self::parse(body))
    }

    /// The value of `name`, if present and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The first non-empty parameter that appears more than once.
    pub fn duplicated(&self) -> Option<&str> {
        self.pairs.iter().enumerate().find_map(|(i, (k, v))| {
            let again = self.pairs[i + 1..]
                .iter()
                .any(|(k2, v2)| k2 == k && !v2.is_empty());
            (!v.is_empty() && again).then_some(k.as_str())
        })
    }

    /// The first parameter whose value is longer than [`MAX_VALUE_LEN`].
    pub fn oversized(&self) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(_, v)| v.len() > MAX_VALUE_LEN)
            .map(|(k, _)| k.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn any_bytes_parse_without_panicking(raw in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let params = Params::parse(&raw);
            if let Some(name) = params.duplicated() {
                proptest::prop_assert!(params.get(name).is_some());
            }
            let _ = params.oversized();
        }
    }

    #[test]
    fn empty_values_count_as_absent_and_duplicates_are_found() {
        let p = Params::parse(b"a=1&b=&c=x%20y&a=2&b=3");
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), Some("3"));
        assert_eq!(p.get("c"), Some("x y"));
        assert_eq!(p.duplicated(), Some("a"));
        assert_eq!(Params::parse(b"a=1&a=").duplicated(), None);
        let long = format!("x={}", "y".repeat(MAX_VALUE_LEN + 1));
        assert_eq!(Params::parse(long.as_bytes()).oversized(), Some("x"));
        assert_eq!(
            Params::parse(b"\xff=\xfe").get("\u{fffd}"),
            Some("\u{fffd}")
        );
    }
}
