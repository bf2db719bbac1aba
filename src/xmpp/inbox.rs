//! Acts on what the component learned ([`Event`]s), where that needs the database: answers
//! to login flows, contacts, login codes people send, "not me", and login notices.
//!
//! One task per instance; it only has work while its instance holds the component (with
//! several instances, the leader's).

use std::time::Duration;

use jid::{BareJid, Jid};
use tokio::sync::{mpsc, watch};

use super::address::UserJid;
use super::confirm::{ConfirmRequest, Decision, Event, RequestError, Status};
use super::dispatch::FlowRequest;
use super::limits::Requester;
use super::roster::{Change, Subscription};
use super::stanzas;
use super::stanzas::{Purpose, RequestText};
use crate::i18n::Lang;
use crate::random;
use crate::state::AppState;
use crate::store::device::DeviceAuthorization;
use crate::store::oidc::SentFlow;
use crate::store::reach::{NewNotice, NOTICE_RETENTION_SECS};

/// A notice older than this is stale (the link was down): it is dropped, not sent.
const NOTICE_FRESH_SECS: i64 = 600;
const NOTICE_BATCH: i64 = 100;

/// Runs until shutdown; at shutdown, what was already decided is still recorded.
pub async fn run(
    app: AppState,
    mut events: mpsc::UnboundedReceiver<Event>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            _ = super::component::stopped(&mut shutdown) => {
                while let Ok(event) = events.try_recv() {
                    if matches!(event, Event::Decided(_)) {
                        handle(&app, event).await;
                    }
                }
                return;
            }
        };
        match event {
            Some(event) => handle(&app, event).await,
            None => return,
        }
    }
}

async fn handle(app: &AppState, event: Event) {
    let result = match event {
        Event::Decided(decision) => {
            if let Err(e) = app
                .dispatcher
                .record(&app.store, &app.clock, decision.clone())
                .await
            {
                tracing::warn!(error = %e, "cannot record an answer yet; retrying");
                tokio::spawn(record_later(app.clone(), decision));
            }
            Ok(())
        }
        Event::Connected => connected(app).await,
        Event::Roster(change) => store_change(app, change).await,
        Event::Code { from, keys, lang } => code_received(app, &from, &keys, lang).await,
        Event::NotMe { from, thread, lang } => {
            not_me(app, &from, thread.as_deref(), lang.unwrap_or_default()).await
        }
        Event::Notices => send_notices(app).await,
    };
    if let Err(e) = result {
        tracing::error!(error = %e, "cannot act on a message from the XMPP link");
    }
}

/// Retries recording an answer while the database is briefly away: a person who said yes
/// must not see "no answer in time".
async fn record_later(app: AppState, decision: Decision) {
    for attempt in 1..=30 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        match app
            .dispatcher
            .record(&app.store, &app.clock, decision.clone())
            .await
        {
            Ok(()) => return,
            // The server is stopping: the answer cannot be recorded any more.
            Err(sqlx::Error::PoolClosed) => return,
            Err(e) if attempt == 30 => {
                tracing::error!(error = %e, "cannot record the answer to a confirmation request");
            }
            Err(_) => {}
        }
    }
}

/// The link is up: who is online is unknown until the probes are answered; our presence
/// goes to the contacts, and notices queued meanwhile go out.
async fn connected(app: &AppState) -> Result<(), sqlx::Error> {
    app.store.set_presence(None, None).await?;
    let stored = app.store.contacts().await?;
    let contacts = stored
        .into_iter()
        .filter_map(|c| {
            let jid = UserJid::parse(&c.jid).ok()?.bare().clone();
            Some((jid, Subscription::parse(&c.subscription)?))
        })
        .collect();
    app.dispatcher.confirmer().load_contacts(contacts);
    send_notices(app).await
}

/// The database key of a contact: its subject (the normalized bare JID).
fn subject_of(jid: &BareJid) -> Option<String> {
    UserJid::parse(jid.as_str())
        .ok()
        .map(|j| j.subject().to_owned())
}

async fn store_change(app: &AppState, change: Change) -> Result<(), sqlx::Error> {
    match change {
        Change::Subscription { jid, subscription } => {
            let Some(subject) = subject_of(&jid) else {
                return Ok(());
            };
            tracing::info!(jid = %subject, subscription = subscription.map(Subscription::as_str), "contact changed");
            app.store
                .set_subscription(
                    &subject,
                    subscription.map(Subscription::as_str),
                    app.clock.now(),
                )
                .await
        }
        Change::Online { jid, online } => match subject_of(&jid) {
            Some(subject) => app.store.set_presence(Some(&subject), Some(online)).await,
            None => Ok(()),
        },
    }
}

fn reply(app: &AppState, to: &UserJid, body: &str, thread: Option<&str>, lang: Lang) {
    let confirmer = app.dispatcher.confirmer();
    let to = Jid::from(to.bare().clone());
    confirmer.send(stanzas::chat(
        confirmer.service_jid(),
        &to,
        body,
        thread,
        lang,
    ));
}

/// "Log in to Gitea: K7XM-4QPA" from `from`: the page showing that code is confirmed for
/// the sender, who is told which site it was and where that page was opened, and can
/// answer "not me". Codes that match no page count against the sender.
/// Answers speak the page's language, else the message's.
async fn code_received(
    app: &AppState,
    from: &UserJid,
    keys: &[String],
    lang: Option<Lang>,
) -> Result<(), sqlx::Error> {
    let now = app.clock.now();
    let l = lang.unwrap_or_default();
    for key in keys {
        let code = random::code_from_key(key);
        if let Some(client_id) = app.store.send_code_client(&code, now).await? {
            if let Some(client) = app.client(&client_id).await? {
                if !crate::access::may_log_in(&app.store, &client, from.subject()).await? {
                    tracing::info!(jid = %from.subject(), "a code from an address this client does not let in");
                    let refusal =
                        crate::login::not_allowed_message(from.subject(), &client.settings.name, l);
                    reply(app, from, &refusal, None, l);
                    return Ok(());
                }
            }
        }
        let Some(confirmed) = app
            .store
            .confirm_by_send_code(&code, from.subject(), now)
            .await?
        else {
            if let Some(device) = app.store.device_by_user_code(&code, now).await? {
                return device_code_received(app, from, device, lang).await;
            }
            continue;
        };
        // A confirmation request the page had sent (to any address) is moot now.
        app.dispatcher.withdraw(&confirmed.flow_id).await;
        app.dispatcher.announce_flow(&confirmed.flow_id).await;
        app.metrics.code_login();
        tracing::info!(jid = %from.subject(), "login page confirmed by a code sent over XMPP");
        let l = Lang::parse(&confirmed.lang).unwrap_or(l);
        let site = match app.client(&confirmed.client_id).await? {
            Some(client) => client.settings.name,
            None => l.t("xmpp-the-website"),
        };
        // A device's login (RFC 8628) has no site to name.
        let site = match url::Url::parse(&confirmed.redirect_uri)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
        {
            Some(host) => format!("{site} ({host})"),
            None => site,
        };
        let origin = confirmed
            .origin
            .clone()
            .unwrap_or_else(|| l.t("xmpp-unknown-origin"));
        let body = l.args(
            "xmpp-code-received",
            &[
                ("site", site.as_str().into()),
                ("jid", from.subject().into()),
                ("origin", origin.as_str().into()),
                ("notme", l.not_me_phrase().as_str().into()),
            ],
        );
        let notice = NewNotice {
            subject: from.subject(),
            session_hash: None,
            grant_id: None,
            flow_id: Some(&confirmed.flow_id),
            body: &body,
            lang: l.tag(),
            sent: true,
        };
        let thread = app.store.add_notice(notice, now).await?;
        reply(app, from, &body, Some(&thread), l);
        return Ok(());
    }
    app.dispatcher.confirmer().wrong_codes(from, keys.len());
    reply(app, from, &l.t("xmpp-code-unknown"), None, l);
    Ok(())
}

/// The user code of a device (RFC 8628), sent from the person's app: a TV login with no
/// browser. The sender gets a confirmation request that names the device's site, and
/// their answer decides (the device's next poll collects the tokens).
async fn device_code_received(
    app: &AppState,
    from: &UserJid,
    device: DeviceAuthorization,
    lang: Option<Lang>,
) -> Result<(), sqlx::Error> {
    let l = lang.unwrap_or_default();
    if device.bound {
        reply(app, from, &l.t("xmpp-device-in-browser"), None, l);
        return Ok(());
    }
    let (Some(client), Some(flow)) = (
        app.client(&device.client_id).await?,
        app.store.flow(&device.flow_id).await?,
    ) else {
        return Ok(());
    };
    if !crate::access::may_log_in(&app.store, &client, from.subject()).await? {
        let refusal = crate::login::not_allowed_message(from.subject(), &client.settings.name, l);
        reply(app, from, &refusal, None, l);
        return Ok(());
    }
    let request = ConfirmRequest {
        jid: from.clone(),
        text: RequestText {
            code: random::confirmation_code(),
            method: "GET".into(),
            url: crate::oidc::device_authorization::verification_uri(app),
            requester: client.settings.name.clone(),
            origin: flow.origin.clone(),
            purpose: Purpose::Device,
            lang: l,
        },
        requester: Requester {
            ip: None,
            client_id: Some(client.client_id.clone()),
            device: None,
        },
        timeout: Duration::from_secs(app.config.xmpp.confirm_timeout_secs),
    };
    // Not noting whether the app is offline: the person just wrote from it.
    let flow_request = SentFlow::of(&flow, false);
    let why = match app
        .dispatcher
        .request_for_flow(&app.store, &app.clock, request, flow_request)
        .await?
    {
        FlowRequest::Sent => return Ok(()),
        FlowRequest::NotSendable => {
            reply(app, from, &l.t("xmpp-device-waiting"), None, l);
            return Ok(());
        }
        FlowRequest::Failed(RequestError::Refused(refused)) => refused.reason.message(l),
        FlowRequest::Failed(RequestError::Disconnected) => l.t("login-disconnected"),
    };
    let why = why.trim_end_matches('.');
    reply(app, from, &l.t1("xmpp-device-cannot", "why", why), None, l);
    Ok(())
}

/// "not me" after a login notice (or the answer to a code): that login ends: its page,
/// its session, and the tokens issued in it. The notice it answers, if the reply says.
async fn not_me(
    app: &AppState,
    from: &UserJid,
    thread: Option<&str>,
    l: Lang,
) -> Result<(), sqlx::Error> {
    let now = app.clock.now();
    let since = now - NOTICE_RETENTION_SECS;
    let mut notice = None;
    if thread.is_some() {
        notice = app
            .store
            .notice_to_undo(from.subject(), thread, since)
            .await?;
    }
    if notice.is_none() {
        notice = app
            .store
            .notice_to_undo(from.subject(), None, since)
            .await?;
    }
    let answer = match notice {
        None => l.t("xmpp-not-me-nothing"),
        Some(notice) => match app.store.undo_login(&notice, now).await? {
            None => l.t("xmpp-not-me-already"),
            Some(revoked) => {
                if let Some(flow) = &notice.flow_id {
                    app.dispatcher.withdraw(flow).await;
                }
                tracing::warn!(jid = %from.subject(), revoked, "a login was undone by its owner (\"not me\")");
                let login = notice.body.lines().next().unwrap_or_default();
                l.args(
                    "xmpp-not-me-done",
                    &[("login", login.into()), ("revoked", revoked.into())],
                )
            }
        },
    };
    reply(app, from, &answer, None, l);
    Ok(())
}

/// Sends queued login notices, if this instance holds the link.
pub async fn send_notices(app: &AppState) -> Result<(), sqlx::Error> {
    let confirmer = app.dispatcher.confirmer();
    if !confirmer.is_connected() {
        return Ok(());
    }
    let now = app.clock.now();
    loop {
        let notices = app
            .store
            .unsent_notices(now - NOTICE_FRESH_SECS, NOTICE_BATCH)
            .await?;
        let batch = notices.len();
        for notice in notices {
            if !app.store.notice_sent(&notice.id, now).await? {
                continue;
            }
            if let Ok(to) = UserJid::parse(&notice.subject) {
                let l = Lang::parse(&notice.lang).unwrap_or_default();
                reply(app, &to, &notice.body, Some(&notice.id), l);
            }
        }
        if batch < NOTICE_BATCH as usize {
            return Ok(());
        }
    }
}

/// What a decided request means for its login flow: nothing if the page gave up on it.
pub fn flow_status(status: Status) -> Option<crate::store::oidc::FlowStatus> {
    (status != Status::Withdrawn).then(|| status.into())
}
