//! Login notices: a person who added the login service as a contact is told of every login
//! as them ("Logged in to Gitea from 203.0.113.7, Firefox on Linux"), and can answer
//! "not me" to end it (see `xmpp::inbox`).

use std::net::{IpAddr, SocketAddr};

use axum::http::{header, HeaderMap};

use crate::i18n::Lang;
use crate::state::AppState;
use crate::store::clients::Client;
use crate::store::reach::NewNotice;

/// Where a login comes from, as a notice describes it.
#[derive(Debug, Clone)]
pub struct Visitor {
    pub ip: IpAddr,
    pub user_agent: Option<String>,
}

impl Visitor {
    pub fn new(app: &AppState, peer: SocketAddr, headers: &HeaderMap) -> Self {
        Self {
            ip: app.client_ip(peer, headers),
            user_agent: headers
                .get(header::USER_AGENT)
                .and_then(|ua| ua.to_str().ok())
                .map(str::to_owned),
        }
    }

    /// "203.0.113.7, Firefox on Linux": where a login comes from, for the person.
    pub fn describe(&self) -> String {
        match self.browser() {
            Some(browser) => format!("{}, {browser}", self.ip),
            None => self.ip.to_string(),
        }
    }

    /// "Firefox on Linux", when the User-Agent says.
    fn browser(&self) -> Option<String> {
        let parsed = woothee::parser::Parser::new().parse(self.user_agent.as_deref()?)?;
        let known = |s: &str| !s.is_empty() && s != woothee::woothee::VALUE_UNKNOWN;
        match (known(parsed.name), known(parsed.os)) {
            (true, true) => Some(format!("{} on {}", parsed.name, parsed.os)),
            (true, false) => Some(parsed.name.to_owned()),
            _ => None,
        }
    }
}

/// The notice's text; its first line says what happened (and is quoted back after "not me").
fn notice_text(client: &Client, visitor: &Visitor, l: Lang) -> String {
    l.args(
        "xmpp-notice",
        &[
            ("site", client.settings.name.as_str().into()),
            ("origin", visitor.describe().as_str().into()),
            ("notme", l.not_me_phrase().as_str().into()),
        ],
    )
}

/// Queues a notice of this login (its session and grant) for `subject`, a subscribed
/// contact of the service (the callers know it from the store).
pub async fn queue(
    app: &AppState,
    client: &Client,
    subject: &str,
    session_hash: Option<&str>,
    grant_id: &str,
    visitor: &Visitor,
    l: Lang,
) -> Result<(), sqlx::Error> {
    let body = notice_text(client, visitor, l);
    let notice = NewNotice {
        subject,
        session_hash,
        grant_id: Some(grant_id),
        flow_id: None,
        body: &body,
        lang: l.tag(),
        sent: false,
    };
    app.store.add_notice(notice, app.clock.now()).await?;
    app.dispatcher.notices_queued().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::clients::ClientSettings;

    #[test]
    fn notices_name_the_site_address_and_browser() {
        let client = Client::builtin("c", ClientSettings::new("Gitea", vec![]));
        let visitor = Visitor {
            ip: "203.0.113.7".parse().unwrap(),
            user_agent: Some(
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0".into(),
            ),
        };
        assert_eq!(
            notice_text(&client, &visitor, Lang::default())
                .lines()
                .next(),
            Some("Logged in to Gitea from 203.0.113.7, Firefox on Linux.")
        );
        let unknown = Visitor {
            user_agent: Some("curl/8.0".into()),
            ..visitor
        };
        let text = notice_text(&client, &unknown, Lang::default());
        assert!(
            text.starts_with("Logged in to Gitea from 203.0.113.7"),
            "{text}"
        );
    }
}
