//! Device authorization requests (RFC 8628). Each has a login flow that the person goes
//! through, either in a browser that typed the user code (then the flow is that browser's)
//! or from their XMPP app by sending the user code; the device polls the token endpoint
//! until the request is approved, denied or expired.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::oidc::{digest, LoginFlow};
use super::Store;
use crate::random;

/// Where a device authorization stands, as the token endpoint reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStatus {
    Pending,
    /// Approved: the grant is ready for the device's next poll.
    Approved,
    Denied,
    /// The device got its tokens; a later poll with the same code is a replay.
    Redeemed,
}

impl DeviceStatus {
    fn parse(stored: &str) -> Self {
        match stored {
            "approved" => Self::Approved,
            "denied" => Self::Denied,
            "redeemed" => Self::Redeemed,
            _ => Self::Pending,
        }
    }
}

#[derive(Debug, Clone)]
pub struct DeviceAuthorization {
    pub user_code: String,
    pub client_id: String,
    pub flow_id: String,
    pub status: DeviceStatus,
    pub grant_id: Option<String>,
    pub interval_secs: i64,
    pub polled_at: Option<i64>,
    /// A browser took the user code: the login goes on there, not over XMPP.
    pub bound: bool,
    pub expires_at: i64,
}

impl DeviceAuthorization {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let status: String = row.try_get("status")?;
        Ok(Self {
            user_code: row.try_get("user_code")?,
            client_id: row.try_get("client_id")?,
            flow_id: row.try_get("flow_id")?,
            status: DeviceStatus::parse(&status),
            grant_id: row.try_get("grant_id")?,
            interval_secs: row.try_get("interval_secs")?,
            polled_at: row.try_get("polled_at")?,
            bound: row.try_get::<i64, _>("bound")? != 0,
            expires_at: row.try_get("expires_at")?,
        })
    }
}

/// What a poll finds out about the pace of polling (RFC 8628 §3.5).
#[derive(Debug, PartialEq, Eq)]
pub enum Pace {
    Fine,
    /// Too soon: the interval has grown by 5 s for this and every later poll.
    TooFast,
}

/// The browser binding of a device flow that no browser took yet: never a digest (64 hex
/// digits), so no browser's cookie matches it.
pub const UNBOUND_BROWSER: &str = "device";

/// Why a browser cannot take a user code.
#[derive(Debug, PartialEq, Eq)]
pub enum TakeError {
    /// No live device request has this code.
    Unknown,
    /// Another browser took it, or the person is answering it over XMPP.
    Taken,
}

impl Store {
    /// Stores a device authorization request and its login flow (which has no browser
    /// yet); returns the device code (only its digest is kept). A user code that another
    /// live request has is drawn again.
    pub async fn insert_device_authorization(
        &self,
        flow: &mut LoginFlow,
        user_code: &mut String,
        interval_secs: i64,
    ) -> Result<String, sqlx::Error> {
        let device_code = random::token(43);
        let mut attempts = 0;
        loop {
            let inserted = sqlx::query(
                "INSERT INTO device_authorizations (device_code_hash, user_code, client_id, flow_id, \
                 status, interval_secs, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7)",
            )
            .bind(digest(&device_code))
            .bind(user_code.as_str())
            .bind(&flow.client_id)
            .bind(&flow.id)
            .bind(interval_secs)
            .bind(flow.created_at)
            .bind(flow.expires_at)
            .execute(self.pool())
            .await;
            match inserted {
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() && attempts < 3 => {
                    attempts += 1;
                    *user_code = random::confirmation_code();
                }
                result => {
                    result?;
                    break;
                }
            }
        }
        self.insert_flow(flow).await?;
        Ok(device_code)
    }

    pub async fn device_authorization(
        &self,
        device_code: &str,
    ) -> Result<Option<DeviceAuthorization>, sqlx::Error> {
        let row = sqlx::query("SELECT * FROM device_authorizations WHERE device_code_hash = $1")
            .bind(digest(device_code))
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(DeviceAuthorization::from_row).transpose()
    }

    /// The live, pending request whose user code is `user_code`.
    pub async fn device_by_user_code(
        &self,
        user_code: &str,
        now: i64,
    ) -> Result<Option<DeviceAuthorization>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT * FROM device_authorizations WHERE user_code = $1 AND expires_at > $2 \
             AND status = 'pending'",
        )
        .bind(user_code)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(DeviceAuthorization::from_row).transpose()
    }

    /// The device request a login flow serves, if it serves one.
    pub async fn device_of_flow(
        &self,
        flow_id: &str,
    ) -> Result<Option<DeviceAuthorization>, sqlx::Error> {
        let row = sqlx::query("SELECT * FROM device_authorizations WHERE flow_id = $1")
            .bind(flow_id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(DeviceAuthorization::from_row).transpose()
    }

    /// A browser takes the user code: the flow becomes that browser's (with a code of its
    /// own for the send-the-code way), unless another browser took it or the person is
    /// already answering it over XMPP. The browser that took it may come back.
    pub async fn take_user_code(
        &self,
        user_code: &str,
        browser_hash: &str,
        now: i64,
    ) -> Result<Result<String, TakeError>, sqlx::Error> {
        let Some(device) = self.device_by_user_code(user_code, now).await? else {
            return Ok(Err(TakeError::Unknown));
        };
        let bound = sqlx::query(
            "UPDATE login_flows SET browser_hash = $1, send_code = $2 \
             WHERE id = $3 AND browser_hash = $4 AND status = 'new'",
        )
        .bind(browser_hash)
        .bind(random::confirmation_code())
        .bind(&device.flow_id)
        .bind(UNBOUND_BROWSER)
        .execute(self.pool())
        .await?;
        if bound.rows_affected() == 1 {
            sqlx::query("UPDATE device_authorizations SET bound = 1 WHERE flow_id = $1")
                .bind(&device.flow_id)
                .execute(self.pool())
                .await?;
            return Ok(Ok(device.flow_id));
        }
        let mine: Option<String> =
            sqlx::query_scalar("SELECT id FROM login_flows WHERE id = $1 AND browser_hash = $2")
                .bind(&device.flow_id)
                .bind(browser_hash)
                .fetch_optional(self.pool())
                .await?;
        Ok(mine.ok_or(TakeError::Taken))
    }

    /// Records a poll; `TooFast` (and a longer interval) when it came before the interval
    /// was over. A second of leeway: polls are timed by the device's clock, stored here
    /// in whole seconds.
    pub async fn device_polled(
        &self,
        device_code: &str,
        device: &DeviceAuthorization,
        now: i64,
    ) -> Result<Pace, sqlx::Error> {
        let too_fast = device
            .polled_at
            .is_some_and(|last| now - last < (device.interval_secs - 1).max(1));
        let grow = if too_fast { 5 } else { 0 };
        sqlx::query(
            "UPDATE device_authorizations SET polled_at = $1, interval_secs = interval_secs + $2 \
             WHERE device_code_hash = $3",
        )
        .bind(now)
        .bind(grow)
        .bind(digest(device_code))
        .execute(self.pool())
        .await?;
        Ok(if too_fast { Pace::TooFast } else { Pace::Fine })
    }

    /// The person allowed the device: its grant waits for the next poll. True for exactly
    /// one caller.
    pub async fn approve_device(&self, flow_id: &str, grant_id: &str) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE device_authorizations SET status = 'approved', grant_id = $1 \
             WHERE flow_id = $2 AND status = 'pending'",
        )
        .bind(grant_id)
        .bind(flow_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The person refused (or cancelled): the device's next poll gets `access_denied`.
    pub async fn deny_device(&self, flow_id: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE device_authorizations SET status = 'denied' WHERE flow_id = $1 AND status = 'pending'",
        )
        .bind(flow_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The device collects its grant; true for exactly one caller.
    pub async fn redeem_device(&self, device_code: &str) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE device_authorizations SET status = 'redeemed' \
             WHERE device_code_hash = $1 AND status = 'approved'",
        )
        .bind(digest(device_code))
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes requests expired `grace_secs` ago: until then a poll learns `expired_token`
    /// rather than that its code is unknown.
    pub async fn purge_expired_devices(
        &self,
        now: i64,
        grace_secs: i64,
    ) -> Result<u64, sqlx::Error> {
        Ok(
            sqlx::query("DELETE FROM device_authorizations WHERE expires_at <= $1")
                .bind(now - grace_secs)
                .execute(self.pool())
                .await?
                .rows_affected(),
        )
    }
}
