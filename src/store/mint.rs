//! Tokens minted in the statement that spends what they are issued for.
//!
//! A code exchange and a refresh spend a single-use secret and then issue tokens. Done as
//! two statements that is two round trips (on SQLite, two hops to sqlx's worker thread)
//! and two commits per request; here the spend and the inserts are one command: on
//! PostgreSQL one statement (the spend as a data-modifying `WITH`), on SQLite the spend and
//! an `INSERT … SELECT … WHERE changes() = 1` sent together (sqlx runs a multi-statement
//! query in one call and numbers `$n` across its statements).
//!
//! A code is claimed only with the redirect URI and PKCE verifier it was issued for
//! ([`Presented`]); the tokens are inserted before the caller's other checks (the client,
//! a refresh's scope), so they are only *candidates*: their values are random and known
//! only to this process until the token endpoint answers, and a request refused after the
//! spend deletes them ([`Store::discard_tokens`]).
//!
//! Whether a refresh token comes too is decided in SQL from the grant's scope
//! ([`REFRESH_ISSUED`]) and reported back, so Rust never hands out a token that was not
//! stored.

use std::sync::LazyLock;

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, Row};

use super::oidc::{
    digest, returned_grant, CodeRow, Grant, Redemption, TokenKind, TokenRow, GRANT_COLUMNS,
};
use super::{Backend, Store};
use crate::random;

/// When a refresh token comes with the access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshRule {
    /// The client may not use the refresh_token grant.
    Never = 0,
    /// Only for a grant with `offline_access` (OIDC Core §11).
    IfOffline = 1,
    /// The client's `always_refresh` setting.
    Always = 2,
}

/// The tokens to issue, with their lifetimes. Both values are drawn up front; the refresh
/// token is stored and handed out only if [`RefreshRule`] says so for the grant.
pub struct Mint<'a> {
    access: String,
    refresh: String,
    access_expires_at: i64,
    refresh_expires_at: i64,
    refresh_rule: RefreshRule,
    /// The access token's scope; `None` for the grant's (or the spent token's) own.
    access_scope: Option<&'a str>,
}

impl<'a> Mint<'a> {
    pub fn new(
        access_expires_at: i64,
        refresh_rule: RefreshRule,
        refresh_expires_at: i64,
        access_scope: Option<&'a str>,
    ) -> Self {
        Self {
            access: random::token(43),
            refresh: random::token(43),
            access_expires_at,
            refresh_expires_at,
            refresh_rule,
            access_scope,
        }
    }

    /// Binds `$1` (now) to `$7`, the parameters every minting statement starts with.
    fn bind<'q>(&self, query: &'q str, now: i64) -> Query<'q, Any, AnyArguments<'q>> {
        sqlx::query(query)
            .bind(now)
            .bind(digest(&self.access))
            .bind(self.access_scope.map(str::to_owned))
            .bind(self.access_expires_at)
            .bind(digest(&self.refresh))
            .bind(self.refresh_expires_at)
            .bind(self.refresh_rule as i64)
    }

    fn minted(self, refresh_issued: bool) -> Minted {
        Minted {
            access: self.access,
            refresh: refresh_issued.then_some(self.refresh),
        }
    }
}

/// Tokens stored for a grant, in clear: to hand out once, never to log.
#[derive(Debug)]
pub struct Minted {
    pub access: String,
    pub refresh: Option<String>,
}

/// Whether grant `g` gets a refresh token under rule `$7`. `offline_access` is a whole word
/// of the space-separated scope (`_` escaped: it is a LIKE wildcard).
const REFRESH_ISSUED: &str =
    "($7 = 2 OR ($7 = 1 AND ' ' || g.scope || ' ' LIKE '% offline\\_access %' ESCAPE '\\'))";

/// Inserts the access token and, if [`REFRESH_ISSUED`], the refresh token for each grant
/// `g` that `from` yields (`from` ends in a WHERE clause). `$1` now; `$2`–`$7` the mint.
fn insert_minted(from: &str, own_scope: &str) -> String {
    format!(
        "INSERT INTO tokens (token_hash, kind, grant_id, scope, expires_at, created_at) \
         SELECT $2, 'access', g.id, COALESCE($3, {own_scope}), $4, $1 {from} \
         UNION ALL SELECT $5, 'refresh', g.id, g.scope, $6, $1 {from} AND {REFRESH_ISSUED}"
    )
}

/// [`REFRESH_ISSUED`] as a value (BIGINT: what both backends decode alike).
static REFRESH_ISSUED_VALUE: LazyLock<String> =
    LazyLock::new(|| format!("CAST(CASE WHEN {REFRESH_ISSUED} THEN 1 ELSE 0 END AS BIGINT)"));

/// What a spend returns of a row of `table`: its grant and whether a refresh token comes.
fn returned_grant_minting(table: &str) -> String {
    format!(
        "{}, (SELECT {} FROM grants g WHERE g.id = {table}.grant_id) AS refresh_issued",
        returned_grant(table),
        &*REFRESH_ISSUED_VALUE
    )
}

/// The claim of a code (`$8`, its digest), with its grant, and the tokens. Only with the
/// redirect URI (`$9`) and PKCE challenge (`$10`) it was issued for, and before it expires:
/// a request without them cannot spend it ([`Presented`]).
static REDEEM_CODE: LazyLock<[String; 2]> = LazyLock::new(|| {
    let claim = "UPDATE auth_codes SET used_at = $1 WHERE code_hash = $8 AND used_at IS NULL \
                 AND redirect_uri = $9 AND expires_at > $1 \
                 AND (code_challenge = $10 OR (code_challenge IS NULL AND $10 IS NULL))";
    [
        format!(
            "{claim} RETURNING redirect_uri, code_challenge, expires_at, {}; {}",
            returned_grant_minting("auth_codes"),
            insert_minted(
                "FROM auth_codes c JOIN grants g ON g.id = c.grant_id \
                 WHERE c.code_hash = $8 AND changes() = 1",
                "g.scope"
            )
        ),
        format!(
            "WITH claimed AS ({claim} RETURNING grant_id, redirect_uri, code_challenge, expires_at), \
             minted AS ({}) \
             SELECT c.redirect_uri, c.code_challenge, c.expires_at, {GRANT_COLUMNS}, {} AS refresh_issued \
             FROM claimed c LEFT JOIN grants g ON g.id = c.grant_id",
            insert_minted("FROM claimed c JOIN grants g ON g.id = c.grant_id WHERE TRUE", "g.scope"),
            &*REFRESH_ISSUED_VALUE
        ),
    ]
});

/// The spend of a live refresh token (`$8`, its digest) of a live grant of client `$9`,
/// with its grant, and the new tokens.
static SPEND_REFRESH: LazyLock<[String; 2]> = LazyLock::new(|| {
    let spend = "UPDATE tokens SET used_at = $1 WHERE token_hash = $8 AND kind = 'refresh' \
                 AND used_at IS NULL AND expires_at > $1 \
                 AND EXISTS (SELECT 1 FROM grants g WHERE g.id = tokens.grant_id \
                             AND g.client_id = $9 AND g.revoked = 0)";
    [
        format!(
            "{spend} RETURNING scope AS token_scope, expires_at, created_at, {}; {}",
            returned_grant_minting("tokens"),
            insert_minted(
                "FROM tokens t JOIN grants g ON g.id = t.grant_id \
                 WHERE t.token_hash = $8 AND changes() = 1",
                "t.scope"
            )
        ),
        format!(
            "WITH spent AS ({spend} RETURNING grant_id, scope, expires_at, created_at), \
             minted AS ({}) \
             SELECT t.scope AS token_scope, t.expires_at, t.created_at, {GRANT_COLUMNS}, {} AS refresh_issued \
             FROM spent t JOIN grants g ON g.id = t.grant_id",
            insert_minted("FROM spent t JOIN grants g ON g.id = t.grant_id WHERE TRUE", "t.scope"),
            &*REFRESH_ISSUED_VALUE
        ),
    ]
});

/// Tokens for grant `$8`, spending nothing (the device grant spends its code first).
static ISSUE_FOR_GRANT: LazyLock<String> =
    LazyLock::new(|| insert_minted("FROM grants g WHERE g.id = $8", "g.scope"));

fn for_backend(statements: &[String; 2], backend: Backend) -> &str {
    match backend {
        Backend::Sqlite => &statements[0],
        Backend::Postgres => &statements[1],
    }
}

/// What a code exchange presents besides the code (RFC 6749 §4.1.3, RFC 7636 §4.5). The
/// code is spent only when they are what it was issued for, so that whoever holds a leaked
/// code without its verifier cannot spend it before its client does (which would then be
/// taken for a replay and lose the grant).
pub struct Presented<'a> {
    pub redirect_uri: &'a str,
    /// The S256 challenge of the `code_verifier` sent; an empty string for a verifier that
    /// is not well-formed (it matches no challenge); `None` when none was sent.
    pub challenge: Option<String>,
}

impl Store {
    /// Redeems a code and mints `mint`'s tokens with it: the first caller that presents
    /// what the code was issued for gets the code's row and the tokens, every later one
    /// learns its grant (to revoke); a caller that presents something else gets the row
    /// to tell why, and the code stays unspent.
    ///
    /// Only a lost claim reads again.
    pub async fn redeem_code_minting(
        &self,
        code: &str,
        presented: &Presented<'_>,
        now: i64,
        mint: Mint<'_>,
    ) -> Result<Redemption<(CodeRow, Minted)>, sqlx::Error> {
        let hash = digest(code);
        // fetch_all, not fetch_optional: on SQLite a row limit would stop before the INSERT.
        let rows = mint
            .bind(for_backend(&REDEEM_CODE, self.backend()), now)
            .bind(&hash)
            .bind(presented.redirect_uri)
            .bind(presented.challenge.as_deref())
            .fetch_all(self.pool())
            .await?;
        if let Some(row) = rows.first() {
            // A code whose grant is gone stays unknown (nothing was minted for it).
            if row.try_get::<Option<String>, _>("id")?.is_none() {
                return Ok(Redemption::Unknown);
            }
            let code = CodeRow {
                redirect_uri: row.try_get("redirect_uri")?,
                code_challenge: row.try_get("code_challenge")?,
                expires_at: row.try_get("expires_at")?,
                grant: Grant::from_row(row)?,
            };
            let minted = mint.minted(refresh_issued(row)?);
            return Ok(Redemption::Fresh((code, minted)));
        }
        self.code_not_claimed(&hash).await
    }

    /// Spends a refresh token of `client_id` (rotation) and mints `mint`'s tokens with it;
    /// exactly one caller wins. `None` when it is unknown, another client's, expired,
    /// revoked or already used: [`Store::token`] then tells which.
    pub async fn spend_refresh_token(
        &self,
        token: &str,
        client_id: &str,
        now: i64,
        mint: Mint<'_>,
    ) -> Result<Option<(TokenRow, Minted)>, sqlx::Error> {
        self.may_spend_durably()?;
        let rows = mint
            .bind(for_backend(&SPEND_REFRESH, self.backend()), now)
            .bind(digest(token))
            .bind(client_id)
            .fetch_all(self.spend_pool())
            .await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        self.spent_durably().await?;
        let spent = TokenRow {
            kind: TokenKind::Refresh,
            scope: row.try_get("token_scope")?,
            expires_at: row.try_get("expires_at")?,
            created_at: row.try_get("created_at")?,
            used: false,
            grant: Grant::from_row(row)?,
        };
        Ok(Some((spent, mint.minted(refresh_issued(row)?))))
    }

    /// Mints `mint`'s tokens for a grant.
    pub async fn issue_tokens(
        &self,
        grant_id: &str,
        now: i64,
        mint: Mint<'_>,
    ) -> Result<Minted, sqlx::Error> {
        let inserted = mint
            .bind(&ISSUE_FOR_GRANT, now)
            .bind(grant_id)
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(mint.minted(inserted == 2))
    }

    /// Deletes tokens minted for a request that was then refused: never handed out.
    pub async fn discard_tokens(&self, minted: &Minted) -> Result<(), sqlx::Error> {
        let refresh = minted.refresh.as_deref().map(digest);
        sqlx::query("DELETE FROM tokens WHERE token_hash IN ($1, $2)")
            .bind(digest(&minted.access))
            .bind(refresh)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

fn refresh_issued(row: &AnyRow) -> Result<bool, sqlx::Error> {
    Ok(row.try_get::<i64, _>("refresh_issued")? == 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::oidc::CLAIM_CODE;

    /// The hot claims read their grant by its key, never by scanning the client's grants
    /// (which grow with every login: a claim that scanned them cost milliseconds).
    #[tokio::test]
    async fn claims_look_their_grant_up_by_key() {
        let (_dir, store) = crate::store::tests::sqlite_store().await;
        let sqlite = [
            CLAIM_CODE.as_str(),
            &REDEEM_CODE[0],
            &SPEND_REFRESH[0],
            &ISSUE_FOR_GRANT,
        ];
        for statement in sqlite.iter().flat_map(|command| command.split("; ")) {
            let plan: Vec<String> = Mint::new(0, RefreshRule::IfOffline, 0, None)
                .bind(&format!("EXPLAIN QUERY PLAN {statement}"), 0)
                .bind("hash")
                .bind("client")
                .fetch_all(store.pool())
                .await
                .unwrap()
                .iter()
                .map(|row| row.try_get::<String, _>("detail").unwrap())
                .collect();
            assert!(
                plan.iter().all(|step| !step.starts_with("SCAN")),
                "{statement}\n{plan:#?}"
            );
        }
        store.close().await;
    }

    async fn tokens_stored(store: &Store) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM tokens")
            .fetch_one(store.pool())
            .await
            .unwrap()
    }

    /// A grant with `scope` and its code: (grant id, code).
    async fn code(store: &Store, scope: &str) -> (String, String) {
        let grant = crate::store::oidc::NewGrant {
            client_id: "rp",
            subject: "alice@example.org",
            scope,
            nonce: Some("n"),
            claims: None,
            auth_time: 1,
            session_hash: None,
        };
        let code = crate::store::oidc::NewCode {
            redirect_uri: "https://rp.example/cb",
            code_challenge: Some("challenge"),
            expires_at: 100,
        };
        let issued = store
            .grant_with_code(grant, code, None, 1)
            .await
            .unwrap()
            .unwrap();
        (issued.grant_id, issued.code)
    }

    /// What each spend mints, on one backend: a code once (its replay mints nothing),
    /// refresh tokens by rule and scope, a refresh spent once by its own client only, a
    /// narrowed scope for the new access token alone, and discarded candidates gone.
    async fn spends_mint_exactly_once(store: &Store) {
        let (offline, first) = code(store, "openid offline_access").await;
        let (online, _) = code(store, "openid profile").await;
        let rule = |rule| Mint::new(50, rule, 500, None);
        let presented = Presented {
            redirect_uri: "https://rp.example/cb",
            challenge: Some("challenge".into()),
        };

        // Without its verifier, with another redirect URI, or expired, a code is not spent.
        let wrong_verifier = Presented {
            challenge: Some("other".into()),
            ..presented
        };
        let no_verifier = Presented {
            challenge: None,
            ..presented
        };
        let other_uri = Presented {
            redirect_uri: "https://rp.example/other",
            challenge: presented.challenge.clone(),
        };
        for (presenting, now) in [
            (&wrong_verifier, 10),
            (&no_verifier, 10),
            (&other_uri, 10),
            (&presented, 100),
        ] {
            match store
                .redeem_code_minting(&first, presenting, now, rule(RefreshRule::Always))
                .await
                .unwrap()
            {
                Redemption::NotClaimed(row) => assert_eq!(row.grant.id, offline),
                other => panic!("not claimed, not {other:?}"),
            }
        }
        assert_eq!(tokens_stored(store).await, 0, "nothing minted");

        let Redemption::Fresh((row, minted)) = store
            .redeem_code_minting(&first, &presented, 10, rule(RefreshRule::IfOffline))
            .await
            .unwrap()
        else {
            panic!("a fresh code redeems");
        };
        assert_eq!(row.grant.id, offline);
        assert_eq!(row.grant.nonce.as_deref(), Some("n"));
        assert_eq!(row.code_challenge.as_deref(), Some("challenge"));
        let access = store.token(&minted.access).await.unwrap().unwrap();
        assert_eq!(
            (access.kind, access.scope.as_str()),
            (TokenKind::Access, "openid offline_access")
        );
        assert_eq!(access.expires_at, 50);
        let refresh = minted
            .refresh
            .expect("offline_access brings a refresh token");
        let stored = store.token(&refresh).await.unwrap().unwrap();
        assert_eq!((stored.kind, stored.expires_at), (TokenKind::Refresh, 500));
        assert_eq!(tokens_stored(store).await, 2);
        match store
            .redeem_code_minting(&first, &presented, 11, rule(RefreshRule::Always))
            .await
            .unwrap()
        {
            Redemption::Replayed(grant_id) => assert_eq!(grant_id, offline),
            other => panic!("a replay, not {other:?}"),
        }
        assert!(matches!(
            store
                .redeem_code_minting("no such code", &presented, 11, rule(RefreshRule::Always))
                .await
                .unwrap(),
            Redemption::Unknown
        ));
        assert_eq!(
            tokens_stored(store).await,
            2,
            "nothing minted without a spend"
        );

        for (scope, refresh_rule, refresh_comes) in [
            ("openid profile", RefreshRule::IfOffline, false),
            ("openid profile", RefreshRule::Always, true),
            ("openid offline_access", RefreshRule::Never, false),
        ] {
            let before = tokens_stored(store).await;
            let Redemption::Fresh((_, minted)) = store
                .redeem_code_minting(
                    &code(store, scope).await.1,
                    &presented,
                    10,
                    rule(refresh_rule),
                )
                .await
                .unwrap()
            else {
                panic!("a fresh code redeems");
            };
            assert_eq!(minted.refresh.is_some(), refresh_comes, "{refresh_rule:?}");
            let stored = tokens_stored(store).await - before;
            assert_eq!(
                stored,
                if refresh_comes { 2 } else { 1 },
                "{refresh_rule:?}"
            );
        }

        let narrowed = Mint::new(60, RefreshRule::IfOffline, 600, Some("openid"));
        assert!(store
            .spend_refresh_token(&refresh, "another-rp", 20, narrowed)
            .await
            .unwrap()
            .is_none());
        let narrowed = Mint::new(60, RefreshRule::IfOffline, 600, Some("openid"));
        let (spent, minted) = store
            .spend_refresh_token(&refresh, "rp", 20, narrowed)
            .await
            .unwrap()
            .expect("its own client spends it");
        assert_eq!(spent.grant.id, offline);
        assert_eq!(spent.scope, "openid offline_access");
        let access = store.token(&minted.access).await.unwrap().unwrap();
        assert_eq!(access.scope, "openid");
        let next = minted.refresh.clone().expect("rotated");
        let next_row = store.token(&next).await.unwrap().unwrap();
        assert_eq!(next_row.scope, "openid offline_access");
        assert!(store.token(&refresh).await.unwrap().unwrap().used);
        let before = tokens_stored(store).await;
        assert!(store
            .spend_refresh_token(&refresh, "rp", 21, rule(RefreshRule::IfOffline))
            .await
            .unwrap()
            .is_none());
        assert_eq!(
            tokens_stored(store).await,
            before,
            "a spent token mints nothing"
        );

        store.discard_tokens(&minted).await.unwrap();
        assert!(store.token(&minted.access).await.unwrap().is_none());
        assert!(store.token(&next).await.unwrap().is_none());
        assert_eq!(tokens_stored(store).await, before - 2);

        let device = store
            .issue_tokens(&online, 10, rule(RefreshRule::IfOffline))
            .await
            .unwrap();
        assert!(device.refresh.is_none());
        assert!(store.token(&device.access).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn sqlite_spends_mint_exactly_once() {
        let (_dir, store) = crate::store::tests::sqlite_store().await;
        spends_mint_exactly_once(&store).await;
        store.close().await;
    }

    /// What a refresh spend on SQLite may mint.
    fn offline_mint() -> Mint<'static> {
        Mint::new(50, RefreshRule::IfOffline, 500, None)
    }

    /// A store on a SQLite file of its own (kept while the directory lives), with a
    /// refresh token of client "rp".
    async fn sqlite_store_with_refresh_token() -> (tempfile::TempDir, Store, String) {
        let (dir, store) = crate::store::tests::sqlite_store().await;
        let (grant, _) = code(&store, "openid offline_access").await;
        let minted = store
            .issue_tokens(&grant, 10, offline_mint())
            .await
            .unwrap();
        let refresh = minted.refresh.expect("a refresh token");
        (dir, store, refresh)
    }

    /// On SQLite, a refresh token's spend returns only after a sync of the write-ahead
    /// log (the pool's own commits are not synced); a refused spend syncs nothing.
    #[tokio::test]
    async fn a_sqlite_refresh_spend_waits_for_its_sync() {
        let (_dir, store, refresh) = sqlite_store_with_refresh_token().await;
        let syncs = || store.wal_sync.as_ref().expect("a SQLite file").syncs();
        assert_eq!(syncs(), 0, "issuing tokens waits for no sync");
        let spend = |token: String| {
            let store = store.clone();
            async move {
                store
                    .spend_refresh_token(&token, "rp", 20, offline_mint())
                    .await
                    .unwrap()
            }
        };
        assert!(spend("unknown".into()).await.is_none());
        assert_eq!(syncs(), 0);
        assert!(spend(refresh).await.is_some());
        assert_eq!(syncs(), 1);
        store.close().await;
    }

    /// Once a sync of the write-ahead log failed, a refresh token is not spent at all:
    /// an answered error after the spend would make the client's retry a replay.
    #[tokio::test]
    async fn no_sqlite_spend_once_a_sync_failed() {
        use crate::store::wal_sync::{GroupSync, SyncError};
        let (_dir, mut store, refresh) = sqlite_store_with_refresh_token().await;
        let failing = std::sync::Arc::new(GroupSync::new(std::sync::Arc::new(|| {
            Err(SyncError::Failed(std::io::Error::other("EIO")))
        })));
        store.wal_sync = Some(failing.clone());
        assert!(failing.wait().await.is_err());
        let spent = store
            .spend_refresh_token(&refresh, "rp", 20, offline_mint())
            .await;
        assert!(spent.is_err());
        let token = store.token(&refresh).await.unwrap().expect("still there");
        assert!(!token.used, "refused before the spend");
        let health = store.check_readable().await.unwrap_err();
        assert!(
            health.contains("write-ahead log"),
            "/healthz tells: {health}"
        );
        store.close().await;
    }

    #[tokio::test]
    async fn postgres_spends_mint_exactly_once() {
        let (store, name, admin) = crate::store::tests::postgres_store().await;
        spends_mint_exactly_once(&store).await;
        crate::store::tests::drop_db(store, &name, admin).await;
    }
}
