//! What lets every XMPP app log in: send-the-code confirmations, the login service's
//! contacts, login notices (and "not me"), and browsers known to have logged in as a JID.

use sqlx::Row;

use super::oidc::digest;
use super::Store;
use crate::random;

/// A login page confirmed by a message carrying its code.
#[derive(Debug, Clone)]
pub struct ConfirmedByCode {
    pub flow_id: String,
    pub client_id: String,
    pub redirect_uri: String,
    /// Where the page was opened.
    pub origin: Option<String>,
    /// The page's language.
    pub lang: String,
}

/// A contact as stored: its normalized bare JID, subscription (`from`, `to`, `both`) and
/// presence (`online`, `offline`, none while unknown).
#[derive(Debug, Clone)]
pub struct StoredContact {
    pub jid: String,
    pub subscription: String,
    pub presence: Option<String>,
}

/// A login notice to send.
#[derive(Debug, Clone)]
pub struct Notice {
    pub id: String,
    pub subject: String,
    pub body: String,
    /// The body's language.
    pub lang: String,
}

/// A login notice to store.
pub struct NewNotice<'a> {
    pub subject: &'a str,
    pub session_hash: Option<&'a str>,
    pub grant_id: Option<&'a str>,
    pub flow_id: Option<&'a str>,
    pub body: &'a str,
    pub lang: &'a str,
    /// Already sent (the answer to a code), not queued.
    pub sent: bool,
}

/// A login notice that "not me" may undo.
#[derive(Debug, Clone)]
pub struct LastNotice {
    pub id: String,
    pub session_hash: Option<String>,
    pub grant_id: Option<String>,
    pub flow_id: Option<String>,
    pub body: String,
    pub created_at: i64,
}

/// Notices are kept this long: "not me" undoes a login within this time.
pub const NOTICE_RETENTION_SECS: i64 = 7 * 86400;

impl Store {
    /// The client of the live login page whose send-the-code code is `code`, to check the
    /// sender against its access policy before confirming.
    pub async fn send_code_client(
        &self,
        code: &str,
        now: i64,
    ) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT client_id FROM login_flows WHERE send_code = $1 AND expires_at > $2",
        )
        .bind(code)
        .bind(now)
        .fetch_optional(self.pool())
        .await
    }

    /// Confirms, for `subject`, the live login page whose send-the-code code is `code`,
    /// from any state in which the page waits for the person; the code is spent (it becomes
    /// the flow's `code`, which marks it confirmed over XMPP, with no `sent_at`). A
    /// confirmation request the page had sent is then answered by nobody.
    pub async fn confirm_by_send_code(
        &self,
        code: &str,
        subject: &str,
        now: i64,
    ) -> Result<Option<ConfirmedByCode>, sqlx::Error> {
        let row = sqlx::query(
            "UPDATE login_flows SET status = 'accepted', jid = $1, auth_time = $2, code = send_code, \
             sent_at = NULL, send_code = NULL \
             WHERE send_code = $3 AND expires_at > $2 \
             AND status IN ('new', 'sent', 'denied', 'expired', 'unreachable') \
             RETURNING id, client_id, redirect_uri, origin, lang",
        )
        .bind(subject)
        .bind(now)
        .bind(code)
        .fetch_optional(self.pool())
        .await?;
        let confirmed = row
            .map(|row| {
                Ok::<_, sqlx::Error>(ConfirmedByCode {
                    flow_id: row.try_get("id")?,
                    client_id: row.try_get("client_id")?,
                    redirect_uri: row.try_get("redirect_uri")?,
                    origin: row.try_get("origin")?,
                    lang: row.try_get("lang")?,
                })
            })
            .transpose()?;
        if let Some(confirmed) = &confirmed {
            self.flow_changed(&confirmed.flow_id);
        }
        Ok(confirmed)
    }

    pub async fn contacts(&self) -> Result<Vec<StoredContact>, sqlx::Error> {
        let rows = sqlx::query("SELECT jid, subscription, presence FROM contacts")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredContact {
                    jid: row.try_get("jid")?,
                    subscription: row.try_get("subscription")?,
                    presence: row.try_get("presence")?,
                })
            })
            .collect()
    }

    /// Stores a contact's subscription; `None` removes the contact.
    pub async fn set_subscription(
        &self,
        jid: &str,
        subscription: Option<&str>,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        match subscription {
            Some(subscription) => {
                sqlx::query(
                    "INSERT INTO contacts (jid, subscription, presence, created_at, updated_at) \
                     VALUES ($1, $2, NULL, $3, $3) ON CONFLICT (jid) DO UPDATE \
                     SET subscription = excluded.subscription, updated_at = excluded.updated_at",
                )
                .bind(jid)
                .bind(subscription)
                .bind(now)
                .execute(self.pool())
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM contacts WHERE jid = $1")
                    .bind(jid)
                    .execute(self.pool())
                    .await?;
            }
        }
        Ok(())
    }

    /// Records whether a contact has an app online; `None` for every contact: unknown
    /// (the link came up again, their presence is being probed).
    pub async fn set_presence(
        &self,
        jid: Option<&str>,
        online: Option<bool>,
    ) -> Result<(), sqlx::Error> {
        let presence = online.map(|online| if online { "online" } else { "offline" });
        match jid {
            Some(jid) => sqlx::query("UPDATE contacts SET presence = $1 WHERE jid = $2")
                .bind(presence)
                .bind(jid),
            None => sqlx::query("UPDATE contacts SET presence = $1").bind(presence),
        }
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Whether `subject` added the login service as a contact (and so gets login notices).
    pub async fn is_subscriber(&self, subject: &str) -> Result<bool, sqlx::Error> {
        let subscription: Option<String> =
            sqlx::query_scalar("SELECT subscription FROM contacts WHERE jid = $1")
                .bind(subject)
                .fetch_optional(self.pool())
                .await?;
        Ok(matches!(subscription.as_deref(), Some("from" | "both")))
    }

    /// The digest of `device` if that browser logged in as `subject` since `since`.
    pub async fn known_device(
        &self,
        device: &str,
        subject: &str,
        since: i64,
    ) -> Result<Option<String>, sqlx::Error> {
        let hash = digest(device);
        let known: Option<i64> = sqlx::query_scalar(
            "SELECT last_login_at FROM known_devices WHERE device_hash = $1 AND subject = $2 \
             AND last_login_at >= $3",
        )
        .bind(&hash)
        .bind(subject)
        .bind(since)
        .fetch_optional(self.pool())
        .await?;
        Ok(known.map(|_| hash))
    }

    /// Stores a login notice for `subject`: queued for sending, or `sent` already (the
    /// answer to a code). Returns its id, which is also its XMPP thread.
    pub async fn add_notice(&self, notice: NewNotice<'_>, now: i64) -> Result<String, sqlx::Error> {
        let id = random::token(22);
        sqlx::query(
            "INSERT INTO login_notices (id, subject, session_hash, grant_id, flow_id, body, created_at, sent_at, lang) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&id)
        .bind(notice.subject)
        .bind(notice.session_hash)
        .bind(notice.grant_id)
        .bind(notice.flow_id)
        .bind(notice.body)
        .bind(now)
        .bind(notice.sent.then_some(now))
        .bind(notice.lang)
        .execute(self.pool())
        .await?;
        Ok(id)
    }

    /// The login of flow `flow_id` got its session: "not me" ends it too. (Its grant, and
    /// the session the grant rides on, are linked by the command that issues the code.)
    pub(super) async fn notice_login(
        &self,
        flow_id: &str,
        session_hash: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE login_notices SET session_hash = $1 WHERE flow_id = $2")
            .bind(session_hash)
            .bind(flow_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Notices not sent yet, oldest first, newer than `since`.
    pub async fn unsent_notices(&self, since: i64, limit: i64) -> Result<Vec<Notice>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, subject, body, lang FROM login_notices WHERE sent_at IS NULL AND created_at >= $1 \
             ORDER BY created_at LIMIT $2",
        )
        .bind(since)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Notice {
                    id: row.try_get("id")?,
                    subject: row.try_get("subject")?,
                    body: row.try_get("body")?,
                    lang: row.try_get("lang")?,
                })
            })
            .collect()
    }

    /// Marks a notice sent; true for exactly one caller.
    pub async fn notice_sent(&self, id: &str, now: i64) -> Result<bool, sqlx::Error> {
        let done =
            sqlx::query("UPDATE login_notices SET sent_at = $1 WHERE id = $2 AND sent_at IS NULL")
                .bind(now)
                .bind(id)
                .execute(self.pool())
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The notice "not me" answers: the one of `thread` if the reply names it, else the
    /// last one; sent to `subject` since `since` and not undone.
    pub async fn notice_to_undo(
        &self,
        subject: &str,
        thread: Option<&str>,
        since: i64,
    ) -> Result<Option<LastNotice>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT id, session_hash, grant_id, flow_id, body, created_at FROM login_notices \
             WHERE subject = $1 AND created_at >= $2 AND sent_at IS NOT NULL AND undone_at IS NULL \
             AND ($3 IS NULL OR id = $3) ORDER BY created_at DESC LIMIT 1",
        )
        .bind(subject)
        .bind(since)
        .bind(thread)
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| {
            Ok(LastNotice {
                id: row.try_get("id")?,
                session_hash: row.try_get("session_hash")?,
                grant_id: row.try_get("grant_id")?,
                flow_id: row.try_get("flow_id")?,
                body: row.try_get("body")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .transpose()
    }

    /// "not me": ends the notice's login: its page if not finished, its session, and every
    /// grant issued in it. Returns how many grants were revoked, or `None` if the notice
    /// was undone already.
    pub async fn undo_login(
        &self,
        notice: &LastNotice,
        now: i64,
    ) -> Result<Option<u64>, sqlx::Error> {
        let mut tx = self.durable_pool().begin().await?;
        let claimed = sqlx::query(
            "UPDATE login_notices SET undone_at = $1 WHERE id = $2 AND undone_at IS NULL",
        )
        .bind(now)
        .bind(&notice.id)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() == 0 {
            return Ok(None);
        }
        if let Some(flow) = &notice.flow_id {
            sqlx::query(
                "UPDATE login_flows SET status = 'done', send_code = NULL WHERE id = $1 AND status <> 'done'",
            )
            .bind(flow)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(session) = &notice.session_hash {
            sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
                .bind(session)
                .execute(&mut *tx)
                .await?;
        }
        let revoked = sqlx::query(
            "UPDATE grants SET revoked = 1 WHERE revoked = 0 AND \
             ((session_hash IS NOT NULL AND session_hash = $1) OR id = $2)",
        )
        .bind(&notice.session_hash)
        .bind(&notice.grant_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(Some(revoked))
    }

    /// Whether `device` is a device cookie this server issued (a value planted in a
    /// browser by someone else is not adopted).
    pub async fn device_issued(&self, device: &str) -> Result<bool, sqlx::Error> {
        let known: Option<String> =
            sqlx::query_scalar("SELECT subject FROM known_devices WHERE device_hash = $1 LIMIT 1")
                .bind(digest(device))
                .fetch_optional(self.pool())
                .await?;
        Ok(known.is_some())
    }

    /// Forgets browsers that have not logged in since `devices_since`, and notices older
    /// than [`NOTICE_RETENTION_SECS`]. Returns the number of rows removed.
    pub async fn purge_reach(&self, now: i64, devices_since: i64) -> Result<u64, sqlx::Error> {
        let devices = sqlx::query("DELETE FROM known_devices WHERE last_login_at < $1")
            .bind(devices_since)
            .execute(self.pool())
            .await?;
        let notices = sqlx::query("DELETE FROM login_notices WHERE created_at < $1")
            .bind(now - NOTICE_RETENTION_SECS)
            .execute(self.pool())
            .await?;
        Ok(devices.rows_affected() + notices.rows_affected())
    }
}
