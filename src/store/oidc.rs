//! Login flows, sessions, consents, grants, codes and tokens.
//!
//! Secrets (session cookies, codes, tokens) are stored only as SHA-256 digests. Single use
//! is enforced by the database: `UPDATE … WHERE used_at IS NULL` lets exactly one
//! redemption win, even across instances.

use std::sync::LazyLock;

use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::flow_watch::Answer;
use super::{Backend, Store};
use crate::random;

/// SHA-256, hex: how every bearer secret is stored.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowStatus {
    New,
    Sent,
    Accepted,
    Denied,
    Expired,
    Unreachable,
    Done,
}

impl FlowStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FlowStatus::New => "new",
            FlowStatus::Sent => "sent",
            FlowStatus::Accepted => "accepted",
            FlowStatus::Denied => "denied",
            FlowStatus::Expired => "expired",
            FlowStatus::Unreachable => "unreachable",
            FlowStatus::Done => "done",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "sent" => FlowStatus::Sent,
            "accepted" => FlowStatus::Accepted,
            "denied" => FlowStatus::Denied,
            "expired" => FlowStatus::Expired,
            "unreachable" => FlowStatus::Unreachable,
            "done" => FlowStatus::Done,
            _ => FlowStatus::New,
        }
    }
}

/// A validated authorization request, waiting for the person.
#[derive(Debug, Clone)]
pub struct LoginFlow {
    pub id: String,
    pub browser_hash: String,
    pub csrf: String,
    pub client_id: String,
    /// Empty for a device's login.
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    /// Space-separated `prompt` values.
    pub prompt: String,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    pub claims: Option<String>,
    pub status: FlowStatus,
    /// The subject (bare JID) once typed, or from the session.
    pub jid: Option<String>,
    pub code: Option<String>,
    pub sent_at: Option<i64>,
    pub auth_time: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
    /// The code of the send-the-code way, while the page offers it.
    pub send_code: Option<String>,
    /// Where the page was opened: "203.0.113.7, Firefox on Linux".
    pub origin: Option<String>,
    /// The address asked was a contact with no app online when the request went out.
    pub offline: bool,
    /// The language of its pages and XMPP messages (a shipped language's tag).
    pub lang: String,
}

impl LoginFlow {
    /// A flow that waits for the person, asking for `scope` and nothing else yet.
    pub fn new(
        client_id: &str,
        redirect_uri: &str,
        scope: String,
        browser_hash: String,
        origin: String,
        created_at: i64,
        expires_at: i64,
    ) -> Self {
        Self {
            id: random::token(22),
            browser_hash,
            csrf: random::token(22),
            client_id: client_id.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            scope,
            state: None,
            nonce: None,
            code_challenge: None,
            prompt: String::new(),
            max_age: None,
            login_hint: None,
            claims: None,
            status: FlowStatus::New,
            jid: None,
            code: None,
            sent_at: None,
            auth_time: None,
            created_at,
            expires_at,
            send_code: None,
            origin: Some(origin),
            offline: false,
            lang: crate::i18n::current().tag().to_owned(),
        }
    }

    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let status: String = row.try_get("status")?;
        Ok(Self {
            id: row.try_get("id")?,
            browser_hash: row.try_get("browser_hash")?,
            csrf: row.try_get("csrf")?,
            client_id: row.try_get("client_id")?,
            redirect_uri: row.try_get("redirect_uri")?,
            scope: row.try_get("scope")?,
            state: row.try_get("state")?,
            nonce: row.try_get("nonce")?,
            code_challenge: row.try_get("code_challenge")?,
            prompt: row.try_get("prompt")?,
            max_age: row.try_get("max_age")?,
            login_hint: row.try_get("login_hint")?,
            claims: row.try_get("claims")?,
            status: FlowStatus::parse(&status),
            jid: row.try_get("jid")?,
            code: row.try_get("code")?,
            sent_at: row.try_get("sent_at")?,
            auth_time: row.try_get("auth_time")?,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
            send_code: row.try_get("send_code")?,
            origin: row.try_get("origin")?,
            offline: row.try_get::<i64, _>("offline")? != 0,
            lang: row.try_get("lang")?,
        })
    }

    /// The language its pages and messages speak.
    pub fn language(&self) -> crate::i18n::Lang {
        crate::i18n::Lang::parse(&self.lang).unwrap_or_default()
    }

    pub fn prompts(&self, value: &str) -> bool {
        self.prompt.split_whitespace().any(|p| p == value)
    }

    /// A device's login (RFC 8628): it ends on a page, never by a redirect.
    pub fn is_device(&self) -> bool {
        self.redirect_uri.is_empty()
    }

    /// Confirmed by the page's code, sent from the person's app (not by answering a
    /// request): the only logins whose notice exists before they are done.
    pub fn confirmed_by_code(&self) -> bool {
        self.status == FlowStatus::Accepted && self.code.is_some() && self.sent_at.is_none()
    }
}

#[derive(Debug, Clone)]
pub struct Session {
    pub id_hash: String,
    pub subject: String,
    pub auth_time: i64,
}

/// What a code or token leads back to.
#[derive(Debug, Clone)]
pub struct Grant {
    pub id: String,
    pub client_id: String,
    pub subject: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub claims: Option<String>,
    pub auth_time: i64,
    pub session_hash: Option<String>,
    pub revoked: bool,
}

impl Grant {
    pub(super) fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            client_id: row.try_get("client_id")?,
            subject: row.try_get("subject")?,
            scope: row.try_get("scope")?,
            nonce: row.try_get("nonce")?,
            claims: row.try_get("claims")?,
            auth_time: row.try_get("auth_time")?,
            session_hash: row.try_get("session_hash")?,
            revoked: row.try_get::<i64, _>("revoked")? != 0,
        })
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.split_whitespace().any(|s| s == scope)
    }
}

pub struct NewGrant<'a> {
    pub client_id: &'a str,
    pub subject: &'a str,
    pub scope: &'a str,
    pub nonce: Option<&'a str>,
    pub claims: Option<&'a str>,
    pub auth_time: i64,
    pub session_hash: Option<&'a str>,
}

pub struct NewCode<'a> {
    pub redirect_uri: &'a str,
    pub code_challenge: Option<&'a str>,
    pub expires_at: i64,
}

#[derive(Debug, Clone)]
pub struct CodeRow {
    pub grant: Grant,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub expires_at: i64,
}

/// The result of redeeming a single-use secret.
#[derive(Debug)]
pub enum Redemption<T> {
    /// First use: here is what it stands for.
    Fresh(T),
    /// Used before: the grant it belongs to (to revoke).
    Replayed(String),
    /// Not spent: presented without what it was issued for, or expired (the row, for the
    /// caller to say which).
    NotClaimed(Box<CodeRow>),
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    Refresh,
}

#[derive(Debug, Clone)]
pub struct TokenRow {
    pub kind: TokenKind,
    pub grant: Grant,
    pub scope: String,
    pub expires_at: i64,
    pub created_at: i64,
    pub used: bool,
}

impl TokenRow {
    /// Unexpired, of a grant not revoked, and (a refresh token) not spent yet.
    pub fn is_live(&self, now: i64) -> bool {
        self.expires_at > now
            && !self.grant.revoked
            && !(self.kind == TokenKind::Refresh && self.used)
    }
}

pub(super) const GRANT_COLUMNS: &str = "g.id, g.client_id, g.subject, g.scope, g.nonce, g.claims, g.auth_time, g.session_hash, g.revoked";

/// The columns [`Grant::from_row`] reads, for a statement that returns them one by one.
const GRANT_FIELDS: [&str; 9] = [
    "id",
    "client_id",
    "subject",
    "scope",
    "nonce",
    "claims",
    "auth_time",
    "session_hash",
    "revoked",
];

/// The grant of a row of `table` (its `grant_id`), as `RETURNING` subqueries: SQLite's
/// `UPDATE … FROM` cannot name the updated table in `RETURNING`.
pub(super) fn returned_grant(table: &str) -> String {
    GRANT_FIELDS
        .iter()
        .map(|field| {
            format!("(SELECT g.{field} FROM grants g WHERE g.id = {table}.grant_id) AS {field}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Starting a session, and remembering its browser's device as one that logged in as the
/// session's person (the values follow, as each command numbers them).
const SESSION: &str = "INSERT INTO sessions (id_hash, subject, auth_time, expires_at)";
const DEVICE: &str = "INSERT INTO known_devices (device_hash, subject, last_login_at)";
const DEVICE_SEEN_AGAIN: &str =
    "ON CONFLICT (device_hash, subject) DO UPDATE SET last_login_at = excluded.last_login_at";

/// [`Store::create_session`]'s command, on SQLite and PostgreSQL: the session `$1`, for
/// `$2` confirmed at `$3`, until `$4`; the device `$5` at `$6`.
static SESSION_ON_DEVICE: LazyLock<[String; 2]> = LazyLock::new(|| {
    let session = format!("{SESSION} VALUES ($1, $2, $3, $4)");
    let device = format!("{DEVICE} VALUES ($5, $2, $6) {DEVICE_SEEN_AGAIN}");
    [
        format!("{session}; {device}"),
        format!("WITH session AS ({session}) {device}"),
    ]
});

/// [`Store::grant_with_code`]'s command, by backend (SQLite, PostgreSQL) and by what it
/// finishes: nothing, a flow (`$14`), or a flow and the session its confirmation starts
/// (the grant's `session_hash` `$8`, until `$15`, on the device `$16`): `$1`–`$9` the
/// grant, `$10`–`$13` the code. A finished flow's login notice (one confirmed by a code
/// sent from an app) learns the grant and the session it rides on, so that "not me" ends
/// those: the winner's, when the form was sent twice. SQLite runs the statements of one
/// command in turn, each gated on the one before (`changes()`); PostgreSQL chains them with
/// data-modifying `WITH`s. The code's row comes back, with whether the person gets login
/// notices (a subscribed contact).
static GRANT_WITH_CODE: LazyLock<[[String; 3]; 2]> = LazyLock::new(|| {
    let grant = "INSERT INTO grants (id, client_id, subject, scope, nonce, claims, auth_time, \
                 session_hash, revoked, created_at)";
    let grant_values = "$1, $2, $3, $4, $5, $6, $7, $8, 0, $9";
    let code =
        "INSERT INTO auth_codes (code_hash, grant_id, redirect_uri, code_challenge, expires_at)";
    let subscriber = "RETURNING CASE WHEN EXISTS (SELECT 1 FROM contacts WHERE jid = $3 \
                      AND subscription IN ('from', 'both')) THEN 1 ELSE 0 END AS subscriber";
    // Accepted by this person at this time: the flow it was issued from may be a copy.
    let finish = "UPDATE login_flows SET status = 'done', send_code = NULL \
                  WHERE id = $14 AND status = 'accepted' AND jid = $3 AND auth_time = $7";
    let session = format!("{SESSION} SELECT $8, $3, $7, $15");
    let device = format!("{DEVICE} SELECT $16, $3, $9");
    let noticed = "UPDATE login_notices SET session_hash = COALESCE($8, session_hash), \
                   grant_id = $1 WHERE flow_id = $14";
    let sqlite_gated = |finishing: &str| {
        format!(
            "{finishing}{grant} SELECT {grant_values} WHERE changes() = 1; \
             {code} SELECT $10, $1, $11, $12, $13 WHERE changes() = 1 {subscriber}; \
             {noticed} AND changes() = 1"
        )
    };
    let postgres_after = |finishing: &str| {
        format!(
            "WITH done AS ({finish} RETURNING id), {finishing}\
             noticed AS ({noticed} AND EXISTS (SELECT 1 FROM done)), \
             granted AS ({grant} SELECT {grant_values} FROM done RETURNING id) \
             {code} SELECT $10, id, $11, $12, $13 FROM granted {subscriber}"
        )
    };
    [
        [
            format!(
                "{grant} VALUES ({grant_values}); \
                 {code} VALUES ($10, $1, $11, $12, $13) {subscriber}"
            ),
            sqlite_gated(&format!("{finish}; ")),
            sqlite_gated(&format!(
                "{finish}; {session} WHERE changes() = 1; \
                 {device} WHERE changes() = 1 {DEVICE_SEEN_AGAIN}; "
            )),
        ],
        [
            format!(
                "WITH granted AS ({grant} VALUES ({grant_values}) RETURNING id) \
                 {code} SELECT $10, id, $11, $12, $13 FROM granted {subscriber}"
            ),
            postgres_after(""),
            postgres_after(&format!(
                "session AS ({session} FROM done), \
                 device AS ({device} FROM done {DEVICE_SEEN_AGAIN}), "
            )),
        ],
    ]
});

/// The login flow a confirmation request is for: the request is recorded there as sent
/// (see [`Store::flow_sent`]), and its answer goes there.
#[derive(Clone, Copy)]
pub struct SentFlow<'a> {
    pub id: &'a str,
    /// Whether the flow notes that the person's app is known to be offline.
    pub note_offline: bool,
    /// The flow as its form found it, when the browser goes to the flow's page next: that
    /// page is drawn from the flow as recorded sent (see [`crate::store::fresh_flows`]).
    pub page: Option<&'a LoginFlow>,
    /// The flow's language and send-the-code code as its caller found them: it is
    /// recorded sent only if they still are (the JID form may have found them in a copy
    /// kept since `/authorize`, see [`crate::store::fresh_flows`]).
    pub lang: &'a str,
    pub send_code: Option<&'a str>,
}

impl<'a> SentFlow<'a> {
    /// `flow`, as its caller found it, whose page is not drawn from it.
    pub fn of(flow: &'a LoginFlow, note_offline: bool) -> Self {
        SentFlow {
            id: &flow.id,
            note_offline,
            page: None,
            lang: &flow.lang,
            send_code: flow.send_code.as_deref(),
        }
    }
}

/// A single sign-on session to start; the browser keeps `token` in its cookie, the store
/// its digest.
pub struct NewSession {
    pub token: String,
    pub expires_at: i64,
    /// The browser's device cookie, remembered as one that logged in as the session's
    /// person.
    pub device: String,
}

impl NewSession {
    pub fn new(expires_at: i64, device: String) -> Self {
        NewSession {
            token: random::token(32),
            expires_at,
            device,
        }
    }

    /// The session's key in the store (and a grant's `session_hash`).
    pub fn id_hash(&self) -> String {
        digest(&self.token)
    }
}

/// What [`Store::grant_with_code`] finishes with the code: a login flow, and the session
/// its confirmation starts, if any.
#[derive(Clone, Copy)]
pub struct FlowEnd<'a> {
    pub flow_id: &'a str,
    pub session: Option<&'a NewSession>,
}

/// What [`Store::grant_with_code`] issued.
pub struct IssuedCode {
    pub grant_id: String,
    pub code: String,
    /// The person added the login service as a contact: they get login notices.
    pub subscriber: bool,
}

/// [`Store::redeem_code`]'s claim: the code and its grant, or no row when the code is
/// unknown or was used. Built once: sqlx keeps a prepared statement per SQL text.
pub(super) static CLAIM_CODE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE auth_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL \
         RETURNING redirect_uri, code_challenge, expires_at, {}",
        returned_grant("auth_codes")
    )
});

impl Store {
    /// Stores a new flow; a send-the-code code that another live page already has (a
    /// chance of about one in 10^7 with 100,000 pages) is drawn again.
    pub async fn insert_flow(&self, flow: &mut LoginFlow) -> Result<(), sqlx::Error> {
        let mut attempts = 0;
        loop {
            match self.try_insert_flow(flow).await {
                Err(sqlx::Error::Database(e))
                    if e.is_unique_violation() && flow.send_code.is_some() && attempts < 3 =>
                {
                    attempts += 1;
                    flow.send_code = Some(random::confirmation_code());
                }
                result => return result,
            }
        }
    }

    async fn try_insert_flow(&self, flow: &LoginFlow) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO login_flows (id, browser_hash, csrf, client_id, redirect_uri, scope, state, nonce, \
             code_challenge, prompt, max_age, login_hint, claims, status, jid, code, sent_at, auth_time, \
             created_at, expires_at, send_code, origin, offline, lang, kept_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)",
        )
        .bind(&flow.id)
        .bind(&flow.browser_hash)
        .bind(&flow.csrf)
        .bind(&flow.client_id)
        .bind(&flow.redirect_uri)
        .bind(&flow.scope)
        .bind(&flow.state)
        .bind(&flow.nonce)
        .bind(&flow.code_challenge)
        .bind(&flow.prompt)
        .bind(flow.max_age)
        .bind(&flow.login_hint)
        .bind(&flow.claims)
        .bind(flow.status.as_str())
        .bind(&flow.jid)
        .bind(&flow.code)
        .bind(flow.sent_at)
        .bind(flow.auth_time)
        .bind(flow.created_at)
        .bind(flow.expires_at)
        .bind(&flow.send_code)
        .bind(&flow.origin)
        .bind(i64::from(flow.offline))
        .bind(&flow.lang)
        .bind(self.keeper())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The language picked on a login's page: its next pages and messages speak it.
    pub async fn set_flow_lang(&self, id: &str, lang: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE login_flows SET lang = $1 WHERE id = $2")
            .bind(lang)
            .bind(id)
            .execute(self.pool())
            .await?;
        // A copy kept of it would speak the old language (its login notice, say).
        self.fresh_flows.forget(id);
        Ok(())
    }

    pub async fn flow(&self, id: &str) -> Result<Option<LoginFlow>, sqlx::Error> {
        let row = sqlx::query("SELECT * FROM login_flows WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(LoginFlow::from_row).transpose()
    }

    /// Records that a confirmation request went out. Only from a state where the person
    /// may (re)try, and with the flow's language and send-the-code code as its caller
    /// found them; returns false otherwise. With `note_offline`, the flow also records
    /// whether `subject` is a contact whose app is known to be offline right now (read in
    /// the same statement: one round trip per login fewer than asking first).
    pub async fn flow_sent(
        &self,
        flow: SentFlow<'_>,
        subject: &str,
        code: &str,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        static FLOW_SENT: LazyLock<String> = LazyLock::new(|| {
            let sent = flow_sent_statement(FlowSentParameters {
                id: 4,
                subject: 1,
                code: 2,
                now: 3,
                note_offline: 5,
                keeper: 6,
                lang: 7,
                send_code: 8,
            });
            format!("{sent} RETURNING offline")
        });
        let offline: Option<i64> = sqlx::query_scalar(&FLOW_SENT)
            .bind(subject)
            .bind(code)
            .bind(now)
            .bind(flow.id)
            .bind(i64::from(flow.note_offline))
            .bind(self.keeper())
            .bind(flow.lang)
            .bind(flow.send_code)
            .fetch_optional(self.pool())
            .await?;
        let Some(offline) = offline else {
            return Ok(false);
        };
        self.flow_recorded_sent(flow, subject, code, now, offline == 1, false);
        Ok(true)
    }

    /// Undoes [`Self::flow_sent`] for a request that could not be sent.
    pub async fn flow_not_sent(&self, id: &str, code: &str) -> Result<(), sqlx::Error> {
        let done = sqlx::query(
            "UPDATE login_flows SET status = 'new', code = NULL, sent_at = NULL \
             WHERE id = $1 AND code = $2 AND status = 'sent'",
        )
        .bind(id)
        .bind(code)
        .execute(self.pool())
        .await?;
        self.changed_if(done.rows_affected(), id);
        Ok(())
    }

    /// Records the answer to the request with `code` (a later retry has another code).
    pub async fn flow_answered(
        &self,
        id: &str,
        code: &str,
        status: FlowStatus,
        auth_time: Option<i64>,
    ) -> Result<(), sqlx::Error> {
        let done = sqlx::query(
            "UPDATE login_flows SET status = $1, auth_time = $2 WHERE id = $3 AND code = $4 AND status = 'sent'",
        )
        .bind(status.as_str())
        .bind(auth_time)
        .bind(id)
        .bind(code)
        .execute(self.pool())
        .await?;
        if done.rows_affected() > 0 {
            let code = code.to_owned();
            let answer = Answer {
                status,
                code,
                auth_time,
            };
            self.flow_answered_with(id, answer);
        }
        Ok(())
    }

    /// At the start of the only instance (SQLite): requests that were waiting for an answer
    /// went with the previous process, so their logins end now, with a clear message,
    /// instead of at their timeout. Returns how many.
    pub async fn expire_interrupted_flows(&self) -> Result<u64, sqlx::Error> {
        let done = sqlx::query("UPDATE login_flows SET status = 'expired' WHERE status = 'sent'")
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }

    /// Back to the JID form (another address); an answer still on its way is then ignored.
    /// Also from a login confirmed but not continued (say, by a code someone else sent):
    /// the page gets a send-the-code code again if it spent its own.
    pub async fn restart_flow(&self, id: &str) -> Result<(), sqlx::Error> {
        let mut attempts = 0;
        loop {
            let restarted = sqlx::query(
                "UPDATE login_flows SET status = 'new', code = NULL, sent_at = NULL, auth_time = NULL, \
                 jid = NULL, send_code = COALESCE(send_code, $2) \
                 WHERE id = $1 AND status IN ('sent', 'accepted', 'denied', 'expired', 'unreachable') \
                 AND code IS NOT NULL",
            )
            .bind(id)
            .bind(random::confirmation_code())
            .execute(self.pool())
            .await;
            match restarted {
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() && attempts < 3 => {
                    attempts += 1;
                }
                result => {
                    self.changed_if(result?.rows_affected(), id);
                    return Ok(());
                }
            }
        }
    }

    /// Ends a flow the person cancelled, whatever state it was in; true for exactly one
    /// caller.
    pub async fn cancel_flow(&self, id: &str) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE login_flows SET status = 'done', send_code = NULL WHERE id = $1 AND status <> 'done'",
        )
        .bind(id)
        .execute(self.pool())
        .await?;
        self.changed_if(done.rows_affected(), id);
        Ok(done.rows_affected() == 1)
    }

    /// Ends every open flow of the browser whose cookie digest is `browser_hash` (logout:
    /// a consent page or a confirmed login opened before must not log anyone in after).
    pub async fn end_browser_flows(&self, browser_hash: &str) -> Result<u64, sqlx::Error> {
        let ended: Vec<String> = sqlx::query_scalar(
            "UPDATE login_flows SET status = 'done', send_code = NULL \
             WHERE browser_hash = $1 AND status <> 'done' RETURNING id",
        )
        .bind(browser_hash)
        .fetch_all(self.durable_pool())
        .await?;
        for id in &ended {
            self.flow_changed(id);
        }
        Ok(ended.len() as u64)
    }

    /// Marks a flow accepted by `subject` at `auth_time` done; true for exactly one caller.
    pub async fn finish_flow(
        &self,
        id: &str,
        subject: &str,
        auth_time: i64,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE login_flows SET status = 'done', send_code = NULL \
             WHERE id = $1 AND status = 'accepted' AND jid = $2 AND auth_time = $3",
        )
        .bind(id)
        .bind(subject)
        .bind(auth_time)
        .execute(self.pool())
        .await?;
        self.changed_if(done.rows_affected(), id);
        Ok(done.rows_affected() == 1)
    }

    /// Starts `session` for `subject` and remembers its browser's device as one that
    /// logged in as `subject` (at `now`), in one command.
    pub async fn create_session(
        &self,
        subject: &str,
        auth_time: i64,
        session: &NewSession,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(&SESSION_ON_DEVICE[usize::from(self.backend() == Backend::Postgres)])
            .bind(session.id_hash())
            .bind(subject)
            .bind(auth_time)
            .bind(session.expires_at)
            .bind(digest(&session.device))
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Starts `session` for the person who confirmed `flow`, outside the command that
    /// issues a code (consent still to ask, a device's login, an access refusal): a login
    /// confirmed by a code sent from an app has a notice (the answer to that code), which
    /// learns the session so that "not me" ends it. (A code's command links the notice
    /// again, to the session the code rides on.)
    pub async fn start_session(
        &self,
        flow: &LoginFlow,
        subject: &str,
        auth_time: i64,
        session: &NewSession,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        self.create_session(subject, auth_time, session, now)
            .await?;
        if flow.confirmed_by_code() {
            self.notice_login(&flow.id, &session.id_hash()).await?;
        }
        Ok(())
    }

    pub async fn session(&self, token: &str, now: i64) -> Result<Option<Session>, sqlx::Error> {
        let row = sqlx::query("SELECT id_hash, subject, auth_time FROM sessions WHERE id_hash = $1 AND expires_at > $2")
            .bind(digest(token))
            .bind(now)
            .fetch_optional(self.pool())
            .await?;
        row.map(|row| {
            Ok(Session {
                id_hash: row.try_get("id_hash")?,
                subject: row.try_get("subject")?,
                auth_time: row.try_get("auth_time")?,
            })
        })
        .transpose()
    }

    pub async fn end_session(&self, token: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(digest(token))
            .execute(self.durable_pool())
            .await?;
        Ok(())
    }

    /// The scopes `subject` has allowed `client_id`, if any.
    pub async fn consent(
        &self,
        subject: &str,
        client_id: &str,
    ) -> Result<Option<String>, sqlx::Error> {
        let row = sqlx::query("SELECT scope FROM consents WHERE subject = $1 AND client_id = $2")
            .bind(subject)
            .bind(client_id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| r.try_get("scope")).transpose()
    }

    pub async fn save_consent(
        &self,
        subject: &str,
        client_id: &str,
        scope: &str,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO consents (subject, client_id, scope, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (subject, client_id) DO UPDATE SET scope = excluded.scope, created_at = excluded.created_at",
        )
        .bind(subject)
        .bind(client_id)
        .bind(scope)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn create_grant(&self, grant: NewGrant<'_>, now: i64) -> Result<String, sqlx::Error> {
        let id = random::token(22);
        sqlx::query(
            "INSERT INTO grants (id, client_id, subject, scope, nonce, claims, auth_time, session_hash, revoked, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9)",
        )
        .bind(&id)
        .bind(grant.client_id)
        .bind(grant.subject)
        .bind(grant.scope)
        .bind(grant.nonce)
        .bind(grant.claims)
        .bind(grant.auth_time)
        .bind(grant.session_hash)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(id)
    }

    /// A grant and its authorization code, in one command. With `finishing`, only if that
    /// login flow was accepted, which it then marks done (exactly one caller: a form sent
    /// twice gets `None`), and with the session it starts, if any (the grant's
    /// `session_hash` must be that session's).
    pub async fn grant_with_code(
        &self,
        grant: NewGrant<'_>,
        code: NewCode<'_>,
        finishing: Option<FlowEnd<'_>>,
        now: i64,
    ) -> Result<Option<IssuedCode>, sqlx::Error> {
        let grant_id = random::token(22);
        let secret = random::token(32);
        let session = finishing.and_then(|end| end.session);
        debug_assert!(session.is_none_or(|s| grant.session_hash == Some(s.id_hash().as_str())));
        let variant = match (finishing, session) {
            (None, _) => 0,
            (Some(_), None) => 1,
            (Some(_), Some(_)) => 2,
        };
        let statement = &GRANT_WITH_CODE[usize::from(self.backend() == Backend::Postgres)][variant];
        let mut query = sqlx::query(statement)
            .bind(&grant_id)
            .bind(grant.client_id)
            .bind(grant.subject)
            .bind(grant.scope)
            .bind(grant.nonce)
            .bind(grant.claims)
            .bind(grant.auth_time)
            .bind(grant.session_hash)
            .bind(now)
            .bind(digest(&secret))
            .bind(code.redirect_uri)
            .bind(code.code_challenge)
            .bind(code.expires_at);
        if let Some(end) = finishing {
            query = query.bind(end.flow_id);
        }
        if let Some(session) = session {
            query = query.bind(session.expires_at).bind(digest(&session.device));
        }
        // All results, not `fetch_optional`: sqlx's Any driver on SQLite looks for the row
        // only in the command's first result, and here it comes from the last statement.
        let subscriber: Option<i64> = query
            .fetch_all(self.pool())
            .await?
            .pop()
            .map(|row| row.try_get("subscriber"))
            .transpose()?;
        if let Some(end) = finishing {
            self.changed_if(u64::from(subscriber.is_some()), end.flow_id);
        }
        Ok(subscriber.map(|subscriber| IssuedCode {
            grant_id,
            code: secret,
            subscriber: subscriber == 1,
        }))
    }

    pub async fn grant(&self, grant_id: &str) -> Result<Option<Grant>, sqlx::Error> {
        let row = sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS} FROM grants g WHERE g.id = $1"
        ))
        .bind(grant_id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(Grant::from_row).transpose()
    }

    /// Whether any token was ever issued (tokens signed with keys that must still exist).
    pub async fn has_issued_tokens(&self) -> Result<bool, sqlx::Error> {
        let any: Option<String> = sqlx::query_scalar("SELECT id FROM grants LIMIT 1")
            .fetch_optional(self.pool())
            .await?;
        Ok(any.is_some())
    }

    /// Revokes a grant: every code and token issued from it stops working.
    pub async fn revoke_grant(&self, grant_id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE grants SET revoked = 1 WHERE id = $1")
            .bind(grant_id)
            .execute(self.durable_pool())
            .await?;
        Ok(())
    }

    /// Redeems a code: the first caller gets it, every later one learns its grant. (The
    /// token endpoint mints its tokens in the same statement: [`Store::redeem_code_minting`].)
    ///
    /// The first use is one statement: the claim (`used_at IS NULL`, so exactly one caller
    /// wins) returns the code and, through subqueries on its grant, the grant too (SQLite
    /// ≥ 3.35 and PostgreSQL both allow subqueries in RETURNING; SQLite's cannot name the
    /// table of an `UPDATE … FROM`). Only a lost claim reads again, to tell a replayed code
    /// (its grant gets revoked) from an unknown one ([`Store::code_not_claimed`]).
    pub async fn redeem_code(
        &self,
        code: &str,
        now: i64,
    ) -> Result<Redemption<CodeRow>, sqlx::Error> {
        let hash = digest(code);
        let claimed = sqlx::query(&CLAIM_CODE)
            .bind(now)
            .bind(&hash)
            .fetch_optional(self.pool())
            .await?;
        if let Some(row) = claimed {
            // A code whose grant is gone (the join found nothing before) stays unknown.
            if row.try_get::<Option<String>, _>("id")?.is_none() {
                return Ok(Redemption::Unknown);
            }
            return Ok(Redemption::Fresh(CodeRow {
                redirect_uri: row.try_get("redirect_uri")?,
                code_challenge: row.try_get("code_challenge")?,
                expires_at: row.try_get("expires_at")?,
                grant: Grant::from_row(&row)?,
            }));
        }
        self.code_not_claimed(&hash).await
    }

    /// After a claim that did not spend the code: used before (its grant, to revoke), not
    /// used (its row), or unknown.
    pub(super) async fn code_not_claimed<T>(
        &self,
        hash: &str,
    ) -> Result<Redemption<T>, sqlx::Error> {
        let row = sqlx::query(&format!(
            "SELECT c.used_at, c.redirect_uri, c.code_challenge, c.expires_at, {GRANT_COLUMNS} \
             FROM auth_codes c JOIN grants g ON g.id = c.grant_id WHERE c.code_hash = $1"
        ))
        .bind(hash)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else {
            return Ok(Redemption::Unknown);
        };
        let grant = Grant::from_row(&row)?;
        if row.try_get::<Option<i64>, _>("used_at")?.is_some() {
            return Ok(Redemption::Replayed(grant.id));
        }
        Ok(Redemption::NotClaimed(Box::new(CodeRow {
            redirect_uri: row.try_get("redirect_uri")?,
            code_challenge: row.try_get("code_challenge")?,
            expires_at: row.try_get("expires_at")?,
            grant,
        })))
    }

    /// Looks a token up, whatever its state (callers check expiry, use and revocation).
    pub async fn token(&self, token: &str) -> Result<Option<TokenRow>, sqlx::Error> {
        let row = sqlx::query(&format!(
            "SELECT t.kind, t.scope AS token_scope, t.expires_at, t.created_at, t.used_at, {GRANT_COLUMNS} \
             FROM tokens t JOIN grants g ON g.id = t.grant_id WHERE t.token_hash = $1"
        ))
        .bind(digest(token))
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| {
            let kind: String = row.try_get("kind")?;
            Ok(TokenRow {
                kind: if kind == "refresh" {
                    TokenKind::Refresh
                } else {
                    TokenKind::Access
                },
                scope: row.try_get("token_scope")?,
                expires_at: row.try_get("expires_at")?,
                created_at: row.try_get("created_at")?,
                used: row.try_get::<Option<i64>, _>("used_at")?.is_some(),
                grant: Grant::from_row(&row)?,
            })
        })
        .transpose()
    }

    /// Deletes expired login flows, the only rows anyone can create without logging in.
    pub async fn purge_expired_flows(&self, now: i64) -> Result<u64, sqlx::Error> {
        Ok(
            sqlx::query("DELETE FROM login_flows WHERE expires_at <= $1")
                .bind(now)
                .execute(self.pool())
                .await?
                .rows_affected(),
        )
    }

    /// Deletes what has expired: login flows, codes, tokens, sessions, and grants that
    /// nothing refers to any more. Returns the number of rows removed.
    pub async fn purge_expired(&self, now: i64) -> Result<u64, sqlx::Error> {
        let mut removed = self.purge_expired_flows(now).await?;
        // A device that polls a while after expiry still learns `expired_token`.
        removed += self.purge_expired_devices(now, 600).await?;
        for statement in [
            "DELETE FROM auth_codes WHERE expires_at <= $1",
            "DELETE FROM tokens WHERE expires_at <= $1",
            "DELETE FROM sessions WHERE expires_at <= $1",
            "DELETE FROM grants WHERE NOT EXISTS (SELECT 1 FROM tokens t WHERE t.grant_id = grants.id) \
             AND NOT EXISTS (SELECT 1 FROM auth_codes c WHERE c.grant_id = grants.id) \
             AND NOT EXISTS (SELECT 1 FROM device_authorizations d WHERE d.grant_id = grants.id \
             AND d.status = 'approved') AND created_at <= $1",
        ] {
            removed += sqlx::query(statement)
                .bind(now)
                .execute(self.pool())
                .await?
                .rows_affected();
        }
        Ok(removed)
    }

    pub async fn delete_token(&self, token: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM tokens WHERE token_hash = $1")
            .bind(digest(token))
            .execute(self.durable_pool())
            .await?;
        Ok(())
    }
}

/// Where [`flow_sent_statement`] finds its values: their parameter numbers, so that
/// the cluster can put the same UPDATE into the statement that queues the request.
pub(crate) struct FlowSentParameters {
    pub id: u8,
    pub subject: u8,
    pub code: u8,
    pub now: u8,
    /// 1 or 0.
    pub note_offline: u8,
    /// [`Store::keeper`]: this process keeps the sent flow for its wait page.
    pub keeper: u8,
    /// [`SentFlow::lang`] and [`SentFlow::send_code`].
    pub lang: u8,
    pub send_code: u8,
}

/// The UPDATE of [`Store::flow_sent`].
pub(crate) fn flow_sent_statement(
    FlowSentParameters {
        id,
        subject,
        code,
        now,
        note_offline,
        keeper,
        lang,
        send_code,
    }: FlowSentParameters,
) -> String {
    format!(
        "UPDATE login_flows SET status = 'sent', jid = ${subject}, code = ${code}, sent_at = ${now}, \
         auth_time = NULL, kept_by = ${keeper}, offline = CASE WHEN ${note_offline} = 1 AND EXISTS \
           (SELECT 1 FROM contacts WHERE jid = ${subject} AND presence = 'offline') THEN 1 ELSE 0 END \
         WHERE id = ${id} AND status IN ('new', 'denied', 'expired', 'unreachable') \
         AND lang = ${lang} AND send_code IS NOT DISTINCT FROM ${send_code}"
    )
}
