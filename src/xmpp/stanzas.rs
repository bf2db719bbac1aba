//! The stanzas jidconnect sends, and what it understands of the ones it receives.
//!
//! Incoming stanzas are read from raw elements rather than through xmpp-parsers' strict
//! types: real clients answer XEP-0070 off-spec (Gajim and Libervia reply with other message
//! types, the XEP's own examples misspell the error namespace), and a reply that cannot be
//! parsed must still be matched to its request, as a deny.

use jid::{BareJid, FullJid, Jid};
use minidom::Element;
use xmpp_parsers::confirm::Confirm;
use xmpp_parsers::disco::{DiscoInfoQuery, DiscoInfoResult, Identity};
use xmpp_parsers::iq::Iq;
use xmpp_parsers::message::{Id, Lang, Message, Thread};
use xmpp_parsers::ns;
use xmpp_parsers::ping::Ping;
use xmpp_parsers::presence::{Presence, Type as PresenceType};
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};

use crate::i18n::Lang as Language;
use crate::random;

/// What a confirmation request says, in both its machine and human forms.
#[derive(Debug, Clone)]
pub struct RequestText {
    pub code: String,
    pub method: String,
    pub url: String,
    /// Who asks, e.g. the client's name.
    pub requester: String,
    /// Where the request comes from, e.g. the browser's IP address, when known.
    pub origin: Option<String>,
    pub purpose: Purpose,
    /// The language of the body (that of the page that asked).
    pub lang: Language,
}

/// What the person is asked to confirm. The compat `/auth` API's check is worded apart from
/// a login, so that a site using it cannot make its request pass for a login elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A login page (OIDC or `/admin`) waits for the answer.
    Login,
    /// A site asks through `/auth` whether the person is who they claim, for its own page.
    SiteCheck,
    /// A device (RFC 8628) asks to log in: the person typed its code on `/device`, or sent
    /// it from their XMPP app.
    Device,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::SiteCheck => "site_check",
            Self::Device => "device",
        }
    }

    pub fn parse(stored: &str) -> Self {
        match stored {
            "site_check" => Self::SiteCheck,
            "device" => Self::Device,
            _ => Self::Login,
        }
    }
}

fn confirm(text: &RequestText) -> Confirm {
    Confirm {
        method: text.method.clone(),
        url: text.url.clone(),
        id: text.code.clone(),
    }
}

/// XEP-0070 §4.5 for a bare JID: a message with thread, a human-readable body for clients
/// without XEP-0070, and the confirm element.
pub fn confirm_message(
    from: &BareJid,
    to: &Jid,
    id: &str,
    thread: &str,
    text: &RequestText,
) -> Element {
    let l = text.lang;
    let origin = text
        .origin
        .as_ref()
        .map(|o| format!("{}\n", l.t1("xmpp-requested-from", "origin", o)))
        .unwrap_or_default();
    let bare = to.to_bare().to_string();
    let no = l.refusal_word();
    let args = [
        ("requester", text.requester.as_str().into()),
        ("code", text.code.as_str().into()),
        ("url", text.url.as_str().into()),
        ("jid", bare.as_str().into()),
        ("origin", origin.as_str().into()),
        ("no", no.as_str().into()),
    ];
    let body = match text.purpose {
        Purpose::Login => l.args("xmpp-request-login", &args),
        Purpose::SiteCheck => l.args("xmpp-request-site-check", &args),
        Purpose::Device => l.args("xmpp-request-device", &args),
    };
    let mut message = Message::normal(Some(to.clone()))
        .with_body(Lang::new(), body)
        .with_payload(confirm(text));
    message.from = Some(Jid::from(from.clone()));
    message.id = Some(Id(id.to_owned()));
    message.thread = Some(Thread {
        parent: None,
        id: thread.to_owned(),
    });
    let mut element = Element::from(message);
    // xmpp-parsers omits type='normal' (the default), but Libervia ignores requests without it.
    element.set_attr(
        minidom::rxml::Namespace::NONE,
        minidom::rxml::xml_ncname!("type").to_owned(),
        "normal",
    );
    with_language(element, l)
}

/// `xml:lang` on a stanza whose text is in `lang` (RFC 6120 §8.1.5).
fn with_language(mut element: Element, lang: Language) -> Element {
    element.set_attr(
        minidom::rxml::Namespace::XML,
        minidom::rxml::xml_ncname!("lang").to_owned(),
        lang.tag(),
    );
    element
}

/// XEP-0070 §4.5 for a full JID: an IQ get carrying the confirm element.
pub fn confirm_iq(from: &BareJid, to: &FullJid, id: &str, text: &RequestText) -> Element {
    Iq::from_get(id, confirm(text))
        .with_from(Jid::from(from.clone()))
        .with_to(Jid::from(to.clone()))
        .into()
}

/// A chat message from the login service (answers, login notices); `chat` so that apps
/// show it in the conversation with us. A `thread` lets a reply say which message it
/// answers.
pub fn chat(from: &BareJid, to: &Jid, body: &str, thread: Option<&str>, lang: Language) -> Element {
    let mut message = Message::chat(Some(to.clone())).with_body(Lang::new(), body.to_owned());
    message.from = Some(Jid::from(from.clone()));
    message.id = Some(Id(random::token(16)));
    message.thread = thread.map(|id| Thread {
        parent: None,
        id: id.to_owned(),
    });
    with_language(message.into(), lang)
}

/// A presence stanza of `kind` (subscriptions, probes, unavailable) from the service.
pub fn presence(from: &BareJid, to: &Jid, kind: PresenceKind) -> Element {
    let type_ = match kind {
        PresenceKind::Available => PresenceType::None,
        PresenceKind::Unavailable => PresenceType::Unavailable,
        PresenceKind::Subscribe => PresenceType::Subscribe,
        PresenceKind::Subscribed => PresenceType::Subscribed,
        PresenceKind::Unsubscribe => PresenceType::Unsubscribe,
        PresenceKind::Unsubscribed => PresenceType::Unsubscribed,
        PresenceKind::Probe => PresenceType::Probe,
        PresenceKind::Error => PresenceType::Error,
    };
    Presence::new(type_)
        .with_from(Jid::from(from.clone()))
        .with_to(to.clone())
        .into()
}

/// The service's available presence, with the status text apps show under its name in
/// every shipped language (apps pick theirs; the one without `xml:lang` is English).
pub fn available(from: &BareJid, to: &Jid) -> Element {
    let mut presence = Presence::new(PresenceType::None)
        .with_from(Jid::from(from.clone()))
        .with_to(to.clone());
    for lang in Language::shipped() {
        let tag = if lang == Language::default() {
            String::new()
        } else {
            lang.tag().to_owned()
        };
        presence.set_status(Lang(tag), lang.t("xmpp-status"));
    }
    presence.into()
}

/// XEP-0030 disco#info to one app (with `node`, the XEP-0115 caps node#ver it announced).
pub fn disco_query(from: &BareJid, to: &FullJid, id: &str, node: Option<&str>) -> Element {
    Iq::from_get(
        id,
        DiscoInfoQuery {
            node: node.map(str::to_owned),
        },
    )
    .with_from(Jid::from(from.clone()))
    .with_to(Jid::from(to.clone()))
    .into()
}

/// XEP-0199 ping to our own server, to learn whether the link is alive.
pub fn server_ping(from: &BareJid, server: &Jid, id: &str) -> Element {
    Iq::from_get(id, Ping)
        .with_from(Jid::from(from.clone()))
        .with_to(server.clone())
        .into()
}

/// The answer to an IQ request addressed to the component itself.
pub fn answer_request(me: &BareJid, request: &IqRequest) -> Element {
    let to = request.from.clone();
    let from = request.to.clone().unwrap_or_else(|| Jid::from(me.clone()));
    let iq = match request.kind {
        IqRequestKind::Ping => Iq::empty_result(to, request.id.clone()),
        IqRequestKind::DiscoInfo => {
            let info = DiscoInfoResult {
                node: None,
                identities: vec![Identity::new("component", "generic", "en", "jidconnect")],
                features: [ns::DISCO_INFO, ns::PING]
                    .into_iter()
                    .map(String::from)
                    .collect(),
                extensions: vec![],
            };
            Iq::from_result(request.id.clone(), Some(info)).with_to(to)
        }
        IqRequestKind::Other => Iq::from_error(
            request.id.clone(),
            StanzaError::new(
                ErrorType::Cancel,
                DefinedCondition::ServiceUnavailable,
                "en",
                "",
            ),
        )
        .with_to(to),
    };
    iq.with_from(from).into()
}

/// The XEP-0070-relevant reading of an incoming stanza.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    IqResult {
        from: Jid,
        id: String,
        /// The result's child, e.g. a disco#info answer.
        payload: Option<Element>,
    },
    /// `condition` is the defined condition's element name, whatever its namespace.
    IqError {
        from: Jid,
        id: String,
        condition: Option<String>,
    },
    IqRequest(IqRequest),
    Message(IncomingMessage),
    Presence(IncomingPresence),
    /// Stanzas without a usable `from`, and anything else we have no use for.
    Ignored,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresenceKind {
    Available,
    Unavailable,
    Subscribe,
    Subscribed,
    Unsubscribe,
    Unsubscribed,
    Probe,
    Error,
}

/// An XEP-0115 caps announcement, as sent (`ver` in base64).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapsRef {
    pub node: String,
    pub ver: String,
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IncomingPresence {
    pub from: Jid,
    pub to: Option<Jid>,
    pub kind: PresenceKind,
    pub caps: Option<CapsRef>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IqRequest {
    pub from: Jid,
    pub to: Option<Jid>,
    pub id: String,
    pub kind: IqRequestKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IqRequestKind {
    Ping,
    DiscoInfo,
    Other,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IncomingMessage {
    pub from: Jid,
    pub id: Option<String>,
    pub is_error: bool,
    /// `chat` or `normal`: something a person typed (not groupchat, headline or error).
    pub conversational: bool,
    pub error_condition: Option<String>,
    /// The `id` of a `<confirm xmlns='http://jabber.org/protocol/http-auth'/>` child.
    pub confirm_id: Option<String>,
    /// A `<confirm/>` child without an `id`: an answer we cannot read.
    pub confirm_unreadable: bool,
    pub body: Option<String>,
    /// The shipped language the body says it is in, if any.
    pub lang: Option<Language>,
    /// The conversation thread (XEP-0201) the message continues, if it says.
    pub thread: Option<String>,
}

pub fn classify(stanza: &Element) -> Incoming {
    let Some(from) = stanza.attr("from").and_then(|f| Jid::new(f).ok()) else {
        return Incoming::Ignored;
    };
    let id = stanza.attr("id").map(str::to_owned);
    match stanza.name() {
        "iq" => {
            let Some(id) = id else {
                return Incoming::Ignored;
            };
            match stanza.attr("type") {
                Some("result") => Incoming::IqResult {
                    from,
                    id,
                    payload: stanza.children().next().cloned(),
                },
                Some("error") => Incoming::IqError {
                    from,
                    id,
                    condition: error_condition(stanza),
                },
                Some("get") | Some("set") => {
                    let payload = stanza.children().next();
                    let is_get = stanza.attr("type") == Some("get");
                    let kind = match payload {
                        Some(p) if is_get && p.is("ping", ns::PING) => IqRequestKind::Ping,
                        Some(p) if is_get && p.is("query", ns::DISCO_INFO) => {
                            IqRequestKind::DiscoInfo
                        }
                        _ => IqRequestKind::Other,
                    };
                    let to = stanza.attr("to").and_then(|t| Jid::new(t).ok());
                    Incoming::IqRequest(IqRequest { from, to, id, kind })
                }
                _ => Incoming::Ignored,
            }
        }
        "message" => {
            let is_error = stanza.attr("type") == Some("error");
            let confirm = stanza.children().find(|c| c.is("confirm", ns::HTTP_AUTH));
            let confirm_id = confirm.and_then(|c| c.attr("id")).map(str::to_owned);
            let confirm_unreadable = confirm.is_some() && confirm_id.is_none();
            let body_element = stanza.children().find(|c| c.name() == "body");
            let body = body_element.map(Element::text);
            // The body's language, else the stanza's (RFC 6120 §8.1.5).
            let lang = body_element
                .and_then(|b| b.attr_ns(minidom::rxml::Namespace::xml(), "lang"))
                .or_else(|| stanza.attr_ns(minidom::rxml::Namespace::xml(), "lang"))
                .and_then(Language::parse);
            let conversational = matches!(stanza.attr("type"), None | Some("chat" | "normal"));
            Incoming::Message(IncomingMessage {
                from,
                id,
                is_error,
                conversational,
                error_condition: if is_error {
                    error_condition(stanza)
                } else {
                    None
                },
                confirm_id,
                confirm_unreadable,
                body,
                lang,
                thread: stanza
                    .children()
                    .find(|c| c.name() == "thread")
                    .map(Element::text),
            })
        }
        "presence" => {
            let kind = match stanza.attr("type") {
                None => PresenceKind::Available,
                Some("unavailable") => PresenceKind::Unavailable,
                Some("subscribe") => PresenceKind::Subscribe,
                Some("subscribed") => PresenceKind::Subscribed,
                Some("unsubscribe") => PresenceKind::Unsubscribe,
                Some("unsubscribed") => PresenceKind::Unsubscribed,
                Some("probe") => PresenceKind::Probe,
                Some("error") => PresenceKind::Error,
                Some(_) => return Incoming::Ignored,
            };
            let caps = stanza
                .children()
                .find(|c| c.is("c", ns::CAPS))
                .and_then(|c| {
                    Some(CapsRef {
                        node: c.attr("node")?.to_owned(),
                        ver: c.attr("ver")?.to_owned(),
                        hash: c.attr("hash")?.to_owned(),
                    })
                });
            let to = stanza.attr("to").and_then(|t| Jid::new(t).ok());
            Incoming::Presence(IncomingPresence {
                from,
                to,
                kind,
                caps,
            })
        }
        _ => Incoming::Ignored,
    }
}

/// The first child of `<error/>` that is not `<text/>`, by name only: clients copy the
/// XEP-0070 example's misspelled namespace.
fn error_condition(stanza: &Element) -> Option<String> {
    stanza
        .children()
        .find(|c| c.name() == "error")?
        .children()
        .find(|c| c.name() != "text")
        .map(|c| c.name().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: &str = "jabber:component:accept";

    fn parse(xml: &str) -> Element {
        xml.replace("xmlns='NS'", &format!("xmlns='{NS}'"))
            .parse()
            .unwrap()
    }

    fn text() -> RequestText {
        RequestText {
            code: "K7XM-4QPA".into(),
            method: "GET".into(),
            url: "https://idp.example/login".into(),
            requester: "Example Wiki".into(),
            origin: Some("203.0.113.9".into()),
            purpose: Purpose::Login,
            lang: Language::default(),
        }
    }

    #[test]
    fn a_site_check_does_not_read_as_a_login() {
        let from = BareJid::new("auth.example").unwrap();
        let to = Jid::from(BareJid::new("alice@example.org").unwrap());
        let check = RequestText {
            purpose: Purpose::SiteCheck,
            url: "https://shop.example/".into(),
            ..text()
        };
        let body =
            |text: &RequestText| String::from(&confirm_message(&from, &to, "m1", "t1", text));
        let login = body(&text());
        let site = body(&check);
        assert!(
            login.contains("confirm a login as alice@example.org"),
            "{login}"
        );
        assert!(!site.contains("login as"), "{site}");
        assert!(site.contains("It is not a login page"), "{site}");
        assert!(site.contains("The site https://shop.example/"), "{site}");
    }

    #[test]
    fn message_request_has_thread_body_and_confirm() {
        let from = BareJid::new("auth.example").unwrap();
        let to = BareJid::new("alice@example.org").unwrap();
        let elem = confirm_message(&from, &Jid::from(to), "m1", "t1", &text());
        let xml = String::from(&elem);
        assert_eq!(elem.attr("type"), Some("normal"), "{xml}");
        assert!(xml.contains("<thread"), "{xml}");
        let confirm = elem.get_child("confirm", ns::HTTP_AUTH).unwrap();
        assert_eq!(confirm.attr("id"), Some("K7XM-4QPA"));
        assert_eq!(confirm.attr("url"), Some("https://idp.example/login"));
        let body = elem.get_child("body", NS).unwrap().text();
        assert!(
            body.contains("K7XM-4QPA") && body.contains("Example Wiki") && body.contains("“no”"),
            "{body}"
        );
        assert_eq!(
            elem.attr_ns(minidom::rxml::Namespace::xml(), "lang"),
            Some("en")
        );
    }

    /// The request speaks the language of the page that asked, and says so.
    #[test]
    fn a_request_is_in_the_pages_language_with_xml_lang() {
        let from = BareJid::new("auth.example").unwrap();
        let to = Jid::from(BareJid::new("alice@example.org").unwrap());
        let french = RequestText {
            lang: Language::parse("fr").unwrap(),
            ..text()
        };
        let elem = confirm_message(&from, &to, "m1", "t1", &french);
        assert_eq!(
            elem.attr_ns(minidom::rxml::Namespace::xml(), "lang"),
            Some("fr")
        );
        let body = elem.get_child("body", NS).unwrap().text();
        assert!(
            body.contains("vous demande de confirmer une connexion"),
            "{body}"
        );
        assert!(
            body.contains("« non »") && body.contains("K7XM-4QPA"),
            "{body}"
        );
        assert!(body.contains("Demandé depuis : 203.0.113.9"), "{body}");
        let reply = chat(&from, &to, "Bonjour", None, Language::parse("de").unwrap());
        assert_eq!(
            reply.attr_ns(minidom::rxml::Namespace::xml(), "lang"),
            Some("de")
        );
    }

    #[test]
    fn iq_request_is_a_get_to_the_full_jid() {
        let from = BareJid::new("auth.example").unwrap();
        let to = FullJid::new("alice@example.org/phone").unwrap();
        let elem = confirm_iq(&from, &to, "iq1", &text());
        assert_eq!(elem.attr("type"), Some("get"));
        assert_eq!(elem.attr("to"), Some("alice@example.org/phone"));
        assert!(elem.get_child("confirm", ns::HTTP_AUTH).is_some());
    }

    #[test]
    fn reads_off_spec_replies() {
        // Libervia: type='result', no thread.
        let libervia = parse("<message xmlns='NS' type='result' from='alice@example.org/x'><confirm xmlns='http://jabber.org/protocol/http-auth' id='K7XM-4QPA' method='GET' url='u'/></message>");
        let Incoming::Message(m) = classify(&libervia) else {
            panic!()
        };
        assert_eq!(m.confirm_id.as_deref(), Some("K7XM-4QPA"));
        assert!(!m.is_error);
        // XEP-0070 example error with the misspelled namespace.
        let deny = parse("<iq xmlns='NS' type='error' id='ha000' from='alice@example.org/x'><error code='401' type='auth'><not-authorized xmlns='urn:ietf:params:xml:xmpp-stanzas'/></error></iq>");
        assert_eq!(
            classify(&deny),
            Incoming::IqError {
                from: Jid::new("alice@example.org/x").unwrap(),
                id: "ha000".into(),
                condition: Some("not-authorized".into())
            }
        );
        let bounce = parse("<message xmlns='NS' type='error' id='m1' from='nobody@example.org'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>");
        let Incoming::Message(m) = classify(&bounce) else {
            panic!()
        };
        assert!(m.is_error);
        assert_eq!(m.error_condition.as_deref(), Some("service-unavailable"));
        assert_eq!(m.id.as_deref(), Some("m1"));
        let plain = parse("<message xmlns='NS' type='chat' from='alice@example.org/x'><body> k7xm-4qpa </body></message>");
        let Incoming::Message(m) = classify(&plain) else {
            panic!()
        };
        assert_eq!(m.body.as_deref(), Some(" k7xm-4qpa "));
    }

    proptest::proptest! {
        /// Fuzzing incoming stanzas: whatever parses as XML is classified without panicking.
        #[test]
        fn any_element_is_classified(
            name in "(message|iq|presence|x)",
            kind in "(get|set|result|error|chat|normal|groupchat|)",
            from in "\\PC{0,30}",
            id in "\\PC{0,10}",
            child in "(confirm|body|error|ping|query|thread)",
            child_ns in "(http://jabber.org/protocol/http-auth|urn:xmpp:ping|jabber:component:accept|urn:ietf:params:xml:xmpp-stanzas|x)",
            text in "\\PC{0,20}",
        ) {
            let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('\'', "&apos;");
            let xml = format!(
                "<{name} xmlns='{NS}' type='{kind}' from='{}' id='{}'><{child} xmlns='{child_ns}' id='{}'>{}</{child}></{name}>",
                escape(&from), escape(&id), escape(&id), escape(&text)
            );
            if let Ok(element) = xml.parse::<Element>() {
                let _ = classify(&element);
            }
        }
    }

    #[test]
    fn ignores_stanzas_without_sender() {
        assert_eq!(
            classify(&parse("<message xmlns='NS'><body>x</body></message>")),
            Incoming::Ignored
        );
        assert_eq!(
            classify(&parse("<presence xmlns='NS' type='bogus' from='a@b'/>")),
            Incoming::Ignored
        );
        assert_eq!(
            classify(&parse("<message xmlns='NS' from='@@bad'/>")),
            Incoming::Ignored
        );
    }

    #[test]
    fn answers_pings_and_disco_and_refuses_the_rest() {
        let me = BareJid::new("auth.example").unwrap();
        for (payload, expect) in [
            ("<ping xmlns='urn:xmpp:ping'/>", "result"),
            (
                "<query xmlns='http://jabber.org/protocol/disco#info'/>",
                "result",
            ),
            ("<query xmlns='jabber:iq:version'/>", "error"),
        ] {
            let req = parse(&format!(
                "<iq xmlns='NS' type='get' id='q' from='a@b/c' to='auth.example'>{payload}</iq>"
            ));
            let Incoming::IqRequest(r) = classify(&req) else {
                panic!()
            };
            let answer = answer_request(&me, &r);
            assert_eq!(answer.attr("type"), Some(expect), "{payload}");
            assert_eq!(answer.attr("id"), Some("q"));
            assert_eq!(answer.attr("to"), Some("a@b/c"));
        }
    }
}
