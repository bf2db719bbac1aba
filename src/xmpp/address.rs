//! The JID a person types, checked and normalized before any stanza is sent to it.

use std::fmt;

use jid::{BareJid, FullJid, Jid};

/// OIDC Core §2: `sub` is at most 255 ASCII characters; the bare JID becomes the `sub`.
pub const MAX_SUBJECT_LEN: usize = 255;
/// Longer input is refused before it reaches the stringprep code.
const MAX_INPUT_LEN: usize = 3 * 1024;

/// A user's address: always a bare JID (the subject), sometimes with the resource the user typed.
/// Its domain is in ASCII (IDNA A-labels), whatever form it came in: one person has one
/// key, in the limits, the pending requests and the contacts alike.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct UserJid {
    bare: BareJid,
    full: Option<FullJid>,
    subject: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JidError {
    #[error("enter your XMPP address, like alice@example.org")]
    Empty,
    #[error("that address is too long")]
    TooLong,
    #[error("“{0}” is not a valid XMPP address; it looks like alice@example.org")]
    Malformed(String),
    #[error("enter your own address with a user name, like alice@{0}, not just the server")]
    NoLocalpart(String),
    #[error("the server name “{0}” is not a valid domain")]
    BadDomain(String),
}

impl JidError {
    /// What the login page says, in `l`.
    pub fn message(&self, l: crate::i18n::Lang) -> String {
        match self {
            JidError::Empty => l.t("jid-empty"),
            JidError::TooLong => l.t("jid-too-long"),
            JidError::Malformed(input) => l.t1("jid-malformed", "input", input),
            JidError::NoLocalpart(domain) => l.t1("jid-no-localpart", "domain", domain),
            JidError::BadDomain(domain) => l.t1("jid-bad-domain", "domain", domain),
        }
    }
}

impl UserJid {
    /// Parses what a person typed (or a stanza's sender): surrounding spaces and an `xmpp:`
    /// prefix are dropped; case and Unicode forms are normalized (RFC 7622 stringprep via the
    /// `jid` crate), and the domain becomes ASCII.
    pub fn parse(input: &str) -> Result<Self, JidError> {
        let input = input.trim();
        let input = input.strip_prefix("xmpp:").unwrap_or(input);
        if input.is_empty() {
            return Err(JidError::Empty);
        }
        if input.len() > MAX_INPUT_LEN {
            return Err(JidError::TooLong);
        }
        let jid = Jid::new(input).map_err(|_| JidError::Malformed(shorten(input)))?;
        let Some(node) = jid.node() else {
            return Err(JidError::NoLocalpart(jid.domain().as_str().to_owned()));
        };
        let domain = jid.domain().as_str();
        let ascii_domain = idna::domain_to_ascii(domain)
            .ok()
            .filter(|d| !d.is_empty() && d.split('.').all(|label| !label.is_empty()))
            .ok_or_else(|| JidError::BadDomain(shorten(domain)))?;
        let subject = format!("{}@{}", node.as_str(), ascii_domain);
        if subject.len() > MAX_SUBJECT_LEN {
            return Err(JidError::TooLong);
        }
        let bare = BareJid::new(&subject).map_err(|_| JidError::Malformed(shorten(input)))?;
        let full = jid.resource().map(|resource| bare.with_resource(resource));
        Ok(Self {
            bare,
            full,
            subject,
        })
    }

    /// A stanza's sender as a user address (a JID without a local part is none), in the
    /// same form as what people type.
    pub fn of_sender(jid: &Jid) -> Option<Self> {
        Self::parse(jid.as_str()).ok()
    }

    pub fn bare(&self) -> &BareJid {
        &self.bare
    }

    /// The resource-qualified JID, when the user typed one.
    pub fn full(&self) -> Option<&FullJid> {
        self.full.as_ref()
    }

    /// The OIDC subject: the normalized bare JID with an ASCII (IDNA) domain.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    pub fn local_part(&self) -> &str {
        self.bare.node().map(|n| n.as_str()).unwrap_or_default()
    }

    pub fn domain(&self) -> &str {
        self.bare.domain().as_str()
    }
}

impl fmt::Display for UserJid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.full {
            Some(full) => write!(f, "{full}"),
            None => write!(f, "{}", self.bare),
        }
    }
}

impl fmt::Debug for UserJid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserJid({self})")
    }
}

fn shorten(s: &str) -> String {
    s.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_case_spaces_and_scheme() {
        let jid = UserJid::parse("  xmpp:Alice@Example.ORG ").unwrap();
        assert_eq!(jid.subject(), "alice@example.org");
        assert_eq!(jid.bare().to_string(), "alice@example.org");
        assert_eq!(jid.local_part(), "alice");
        assert!(jid.full().is_none());
    }

    #[test]
    fn keeps_a_typed_resource() {
        let jid = UserJid::parse("alice@example.org/Gajim.X1").unwrap();
        assert_eq!(
            jid.full().unwrap().to_string(),
            "alice@example.org/Gajim.X1"
        );
        assert_eq!(jid.subject(), "alice@example.org");
    }

    #[test]
    fn idn_domains_become_ascii_everywhere() {
        let jid = UserJid::parse("anna@Bücher.example/Phone").unwrap();
        assert_eq!(jid.subject(), "anna@xn--bcher-kva.example");
        assert_eq!(jid.domain(), "xn--bcher-kva.example");
        assert_eq!(
            jid.full().unwrap().as_str(),
            "anna@xn--bcher-kva.example/Phone"
        );
        assert_eq!(
            UserJid::parse("anna@xn--bcher-kva.example").unwrap(),
            UserJid::parse("anna@bücher.example").unwrap()
        );
    }

    #[test]
    fn refuses_bad_input_with_a_reason() {
        assert_eq!(UserJid::parse("  "), Err(JidError::Empty));
        assert!(matches!(
            UserJid::parse("example.org"),
            Err(JidError::NoLocalpart(_))
        ));
        for bad in [
            "/resource",
            "@example.org",
            "alice@",
            "a b@example.org",
            "alice@exa mple.org",
            "alice@example.org/",
        ] {
            assert!(UserJid::parse(bad).is_err(), "{bad} accepted");
        }
        let long = format!("{}@example.org", "a".repeat(250));
        assert_eq!(UserJid::parse(&long), Err(JidError::TooLong));
        let huge = "a".repeat(10_000);
        assert_eq!(UserJid::parse(&huge), Err(JidError::TooLong));
    }

    proptest::proptest! {
        /// Fuzzing the parser: any input is refused or normalized to a stable, bounded form.
        #[test]
        fn any_input_is_refused_or_normalized(input in "\\PC{0,80}|[a-zA-Z0-9.@/_-]{0,40}") {
            if let Ok(jid) = UserJid::parse(&input) {
                proptest::prop_assert!(jid.subject().len() <= MAX_SUBJECT_LEN);
                proptest::prop_assert_eq!(jid.subject().matches('@').count(), 1);
                let again = UserJid::parse(jid.subject()).expect("a subject parses");
                proptest::prop_assert_eq!(again.subject(), jid.subject());
                proptest::prop_assert!(again.full().is_none());
            }
        }
    }

    #[test]
    fn subject_fits_exactly_255_bytes() {
        let local = "a".repeat(255 - "@example.org".len());
        let jid = UserJid::parse(&format!("{local}@example.org")).unwrap();
        assert_eq!(jid.subject().len(), 255);
    }
}
