//! `jidconnect demo-user`: a tiny XMPP client that logs in as the demo user and asks on the
//! terminal whether to accept each XEP-0070 request, so the demo needs no XMPP app. A login
//! code typed (or pasted) on the terminal is sent to the login service, as an XMPP app does
//! with the login page's link: the send-the-code way.
//!
//! It speaks just enough client XMPP (SASL PLAIN without TLS, resource binding) for the
//! demo's private loopback Prosody. It reads raw elements through tokio-xmpp's stream
//! layer instead of using `tokio_xmpp::Client`: this crate enables xmpp-parsers'
//! `component` feature, which makes its typed stanzas expect the component namespace.

use std::borrow::Cow;
use std::io::Write;

use anyhow::{bail, Context};
use base64::Engine;
use futures::{SinkExt, StreamExt};
use jid::{BareJid, Jid};
use minidom::Element;
use tokio::io::{AsyncBufReadExt, BufReader, BufStream};
use tokio::net::TcpStream;
use tokio_xmpp::connect::{DnsConfig, ServerConnector, TcpServerConnector};
use tokio_xmpp::xmlstream::{StreamHeader, Timeouts, XmlStream};
use xmpp_parsers::ns;

type Stream = XmlStream<BufStream<TcpStream>, Element>;

const CLIENT_NS: &str = "jabber:client";
const SASL_NS: &str = "urn:ietf:params:xml:ns:xmpp-sasl";

/// What to answer without asking (for scripts and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AutoAnswer {
    Accept,
    Deny,
}

pub struct DemoUser {
    pub jid: BareJid,
    pub password: String,
    /// host:port of the XMPP server's client port.
    pub server: String,
    pub auto: Option<AutoAnswer>,
    /// With `auto`: how long to "think" before answering, as a person would.
    pub answer_after: std::time::Duration,
    /// The login service, to which typed login codes go.
    pub service: BareJid,
}

fn escape(text: &str) -> Cow<'_, str> {
    if !text.contains(['&', '<', '>', '\'', '"']) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('\'', "&apos;")
            .replace('"', "&quot;"),
    )
}

fn element(xml: &str) -> anyhow::Result<Element> {
    xml.parse().with_context(|| format!("building {xml}"))
}

async fn next_element(stream: &mut Stream) -> anyhow::Result<Element> {
    loop {
        match stream.next().await {
            Some(Ok(element)) => return Ok(element),
            Some(Err(tokio_xmpp::xmlstream::ReadError::SoftTimeout)) => continue,
            Some(Err(e)) => bail!("XMPP stream failed: {e}"),
            None => bail!("the XMPP server closed the connection"),
        }
    }
}

async fn connect(user: &DemoUser) -> anyhow::Result<Stream> {
    let connector = TcpServerConnector::from(DnsConfig::addr(&user.server));
    let jid = Jid::from(user.jid.clone());
    let (pending, _) = connector
        .connect(&jid, ns::JABBER_CLIENT, Timeouts::default())
        .await
        .with_context(|| format!("cannot connect to {}", user.server))?;
    let (features, mut stream) = pending
        .recv_features::<Element>()
        .await
        .context("no stream features")?;
    if !features.sasl_mechanisms.contains("PLAIN") {
        bail!("the server does not offer SASL PLAIN on this connection (it is meant for the demo's loopback Prosody)");
    }
    let node = user.jid.node().map(|n| n.as_str()).unwrap_or_default();
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("\0{node}\0{}", user.password));
    stream
        .send(&element(&format!(
            "<auth xmlns='{SASL_NS}' mechanism='PLAIN'>{credentials}</auth>"
        ))?)
        .await?;
    let answer = next_element(&mut stream).await?;
    if answer.name() != "success" {
        bail!("login as {} failed: wrong password?", user.jid);
    }
    let header = StreamHeader {
        to: Some(Cow::Owned(user.jid.domain().to_string())),
        from: None,
        id: None,
    };
    let pending = stream.initiate_reset().send_header(header).await?;
    let (_, mut stream) = pending
        .recv_features::<Element>()
        .await
        .context("no stream features after login")?;
    stream
        .send(&element(&format!(
            "<iq xmlns='{CLIENT_NS}' type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>jidconnect-demo</resource></bind></iq>"
        ))?)
        .await?;
    loop {
        let answer = next_element(&mut stream).await?;
        if answer.name() == "iq" && answer.attr("id") == Some("bind") {
            if answer.attr("type") != Some("result") {
                bail!("resource binding failed");
            }
            break;
        }
    }
    stream
        .send(&element(&format!("<presence xmlns='{CLIENT_NS}'/>"))?)
        .await?;
    Ok(stream)
}

/// A confirmation request as received.
struct Request {
    from: String,
    code: String,
    url: String,
    reply: Reply,
}

enum Reply {
    Iq {
        id: String,
    },
    Message {
        thread: Option<String>,
        method: String,
    },
}

fn request_in(stanza: &Element) -> Option<Request> {
    let confirm = stanza.get_child("confirm", ns::HTTP_AUTH)?;
    if stanza.attr("type") == Some("error") {
        return None;
    }
    let from = stanza.attr("from")?.to_owned();
    let code = confirm.attr("id")?.to_owned();
    let url = confirm.attr("url").unwrap_or_default().to_owned();
    let reply = match stanza.name() {
        "iq" if stanza.attr("type") == Some("get") => Reply::Iq {
            id: stanza.attr("id")?.to_owned(),
        },
        "message" => Reply::Message {
            thread: stanza
                .children()
                .find(|c| c.name() == "thread")
                .map(Element::text),
            method: confirm.attr("method").unwrap_or("GET").to_owned(),
        },
        _ => return None,
    };
    Some(Request {
        from,
        code,
        url,
        reply,
    })
}

/// The XEP-0070 §4.6 answer.
fn answer(request: &Request, accept: bool) -> anyhow::Result<Element> {
    let to = escape(&request.from);
    let confirm = format!(
        "<confirm xmlns='{}' id='{}' method='{}' url='{}'/>",
        ns::HTTP_AUTH,
        escape(&request.code),
        match &request.reply {
            Reply::Message { method, .. } => escape(method),
            Reply::Iq { .. } => Cow::Borrowed("GET"),
        },
        escape(&request.url)
    );
    let refusal =
        "<error type='auth'><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>";
    let xml = match (&request.reply, accept) {
        (Reply::Iq { id }, true) => format!(
            "<iq xmlns='{CLIENT_NS}' type='result' to='{to}' id='{}'/>",
            escape(id)
        ),
        (Reply::Iq { id }, false) => {
            format!(
                "<iq xmlns='{CLIENT_NS}' type='error' to='{to}' id='{}'>{confirm}{refusal}</iq>",
                escape(id)
            )
        }
        (Reply::Message { thread, .. }, accept) => {
            let thread = thread
                .as_deref()
                .map(|t| format!("<thread>{}</thread>", escape(t)))
                .unwrap_or_default();
            let (kind, error) = if accept {
                ("normal", "")
            } else {
                ("error", refusal)
            };
            format!("<message xmlns='{CLIENT_NS}' type='{kind}' to='{to}'>{thread}{confirm}{error}</message>")
        }
    };
    element(&xml)
}

/// A message from the login service that is no request (its answer to a code), as text.
fn chat_from(stanza: &Element, service: &BareJid) -> Option<String> {
    let from = stanza.attr("from")?;
    let is_service = Jid::new(from).is_ok_and(|jid| jid.to_bare() == *service);
    (stanza.name() == "message" && stanza.attr("type") != Some("error") && is_service)
        .then(|| stanza.get_child("body", CLIENT_NS).map(Element::text))
        .flatten()
}

fn chat_to(service: &BareJid, body: &str) -> anyhow::Result<Element> {
    element(&format!(
        "<message xmlns='{CLIENT_NS}' type='chat' to='{}'><body>{}</body></message>",
        escape(service.as_str()),
        escape(body)
    ))
}

pub async fn run(user: DemoUser) -> anyhow::Result<()> {
    let mut stream = connect(&user).await?;
    println!(
        "Logged in to XMPP as {}. Waiting for confirmation requests (Ctrl-C to stop)…",
        user.jid
    );
    println!(
        "To log in from this app instead, type the code shown on the login page (or paste \
         the text its link opens) and press Enter: it is sent to {}.",
        user.service
    );
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    // A request shown on the terminal, waiting for y/N.
    let mut asking: Option<Request> = None;
    loop {
        tokio::select! {
            stanza = next_element(&mut stream) => {
                let stanza = stanza?;
                let Some(request) = request_in(&stanza) else {
                    if let Some(text) = chat_from(&stanza, &user.service) {
                        println!("{}: {text}", user.service);
                    }
                    continue;
                };
                println!();
                println!("{} asks you to confirm a login as {}", request.from, user.jid);
                println!("    page: {}", request.url);
                println!("    code: {}   (compare it with the code on the login page)", request.code);
                match user.auto {
                    Some(auto) => {
                        tokio::time::sleep(user.answer_after).await;
                        println!("Answering automatically: {auto:?}");
                        let accept = auto == AutoAnswer::Accept;
                        stream.send(&answer(&request, accept)?).await?;
                        println!("{}", if accept { "Accepted." } else { "Refused." });
                    }
                    None => {
                        print!("Accept this login? [y/N] ");
                        std::io::stdout().flush()?;
                        asking = Some(request);
                    }
                }
            }
            line = stdin.next_line(), if stdin_open => {
                let Some(line) = line? else {
                    stdin_open = false;
                    continue;
                };
                if let Some(request) = asking.take() {
                    let accept = matches!(line.trim().to_lowercase().as_str(), "y" | "yes");
                    stream.send(&answer(&request, accept)?).await?;
                    println!("{}", if accept { "Accepted." } else { "Refused." });
                } else if !crate::random::code_candidates(&line).is_empty() {
                    stream.send(&chat_to(&user.service, line.trim())?).await?;
                    println!("Sent to {}.", user.service);
                } else if !line.trim().is_empty() {
                    println!("That has no login code (like K7XM-4QPA) in it.");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_follow_xep_0070() {
        let message: Element = "<message xmlns='jabber:client' from='auth.localhost' type='normal'><thread>t1</thread><confirm xmlns='http://jabber.org/protocol/http-auth' id='AB\"C' method='GET' url='http://x/?a=1&amp;b=2'/></message>".parse().unwrap();
        let request = request_in(&message).unwrap();
        let yes = answer(&request, true).unwrap();
        assert_eq!(yes.attr("type"), Some("normal"));
        assert_eq!(
            yes.get_child("confirm", ns::HTTP_AUTH).unwrap().attr("id"),
            Some("AB\"C")
        );
        assert_eq!(
            yes.get_child("confirm", ns::HTTP_AUTH).unwrap().attr("url"),
            Some("http://x/?a=1&b=2")
        );
        let no = answer(&request, false).unwrap();
        assert_eq!(no.attr("type"), Some("error"));
        let iq: Element = "<iq xmlns='jabber:client' from='auth.localhost' type='get' id='q1'><confirm xmlns='http://jabber.org/protocol/http-auth' id='C' method='GET' url='u'/></iq>".parse().unwrap();
        let request = request_in(&iq).unwrap();
        assert_eq!(answer(&request, true).unwrap().attr("type"), Some("result"));
        assert_eq!(answer(&request, false).unwrap().attr("id"), Some("q1"));
    }

    #[test]
    fn codes_go_to_the_service_and_its_answers_are_shown() {
        let service = BareJid::new("auth.localhost").unwrap();
        let sent = chat_to(&service, "Log in to <Demo>: K7XM-4QPA").unwrap();
        assert_eq!(sent.attr("to"), Some("auth.localhost"));
        assert_eq!(
            sent.get_child("body", CLIENT_NS).unwrap().text(),
            "Log in to <Demo>: K7XM-4QPA"
        );
        let answer: Element = "<message xmlns='jabber:client' from='auth.localhost' type='chat'><body>You are logging in</body></message>".parse().unwrap();
        assert_eq!(
            chat_from(&answer, &service).as_deref(),
            Some("You are logging in")
        );
        let other: Element = "<message xmlns='jabber:client' from='bob@localhost/x' type='chat'><body>hi</body></message>".parse().unwrap();
        assert_eq!(chat_from(&other, &service), None);
    }
}
