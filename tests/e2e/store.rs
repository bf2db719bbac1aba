//! The store on both backends: SQLite (default) and PostgreSQL.

use jidconnect::store::client_cache::CHECK_EVERY;
use jidconnect::store::clients::{ClientError, ClientSettings};
use jidconnect::store::mint::{Mint, RefreshRule};
use jidconnect::store::oidc::NewSession;
use jidconnect::store::Store;

use crate::helpers::{spawn_app_on, Backend, Prosody, TestApp, TestDatabase};

async fn client_registry_round_trip(db: &TestDatabase) {
    let store = Store::connect(&db.url).await.unwrap();
    // Migrations are idempotent: a second start finds the schema up to date.
    let store2 = Store::connect(&db.url).await.unwrap();
    let creds = store
        .add_client(
            ClientSettings::new(
                "Grafana",
                vec!["https://grafana.example/login/generic_oauth".into()],
            ),
            1,
        )
        .await
        .unwrap();
    let secret = creds.client_secret.unwrap();
    let client = store2.client(&creds.client_id).await.unwrap().unwrap();
    assert!(client.secret_matches(&secret));
    assert!(!client.settings.public);
    assert_eq!(store.clients().await.unwrap().len(), 1);
    let public = store
        .add_client(
            ClientSettings {
                public: true,
                ..ClientSettings::new("SPA", vec!["http://localhost:5173/cb".into()])
            },
            1,
        )
        .await
        .unwrap();
    assert!(public.client_secret.is_none());
    assert!(matches!(
        store.rotate_client_secret(&public.client_id).await,
        Err(ClientError::Public(_))
    ));
    store.remove_client(&creds.client_id).await.unwrap();
    assert!(store.client(&creds.client_id).await.unwrap().is_none());
    store.check_writable(1).await.unwrap();
}

#[tokio::test]
async fn clients_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    client_registry_round_trip(&TestDatabase::sqlite(dir.path()).await).await;
}

#[tokio::test]
async fn clients_on_postgres() {
    client_registry_round_trip(&TestDatabase::postgres().await).await;
}

async fn purging_keeps_what_is_alive(db: &TestDatabase) {
    use jidconnect::store::oidc::NewGrant;
    let store = Store::connect(&db.url).await.unwrap();
    let now = 1_900_000_000;
    let grant = |subject: &'static str| NewGrant {
        client_id: "c1",
        subject,
        scope: "openid",
        nonce: None,
        claims: None,
        auth_time: now,
        session_hash: None,
    };
    let old = store
        .create_grant(grant("old@x.org"), now - 100)
        .await
        .unwrap();
    let live = store
        .create_grant(grant("live@x.org"), now - 100)
        .await
        .unwrap();
    let dead_token = store
        .issue_tokens(
            &old,
            now - 100,
            Mint::new(now - 1, RefreshRule::Never, 0, None),
        )
        .await
        .unwrap()
        .access;
    let live_token = store
        .issue_tokens(
            &live,
            now - 100,
            Mint::new(now - 1, RefreshRule::Always, now + 100, None),
        )
        .await
        .unwrap()
        .refresh;
    let live_token = live_token.expect("a refresh token");
    let dead = NewSession::new(now - 1, "device".into());
    store
        .create_session("old@x.org", now - 100, &dead, now - 100)
        .await
        .unwrap();
    let live = NewSession::new(now + 100, "device".into());
    store
        .create_session("live@x.org", now - 100, &live, now - 100)
        .await
        .unwrap();
    let (dead_session, live_session) = (dead.token, live.token);
    assert!(store.purge_expired(now).await.unwrap() >= 3);
    assert!(store.token(&dead_token).await.unwrap().is_none());
    assert!(store.token(&live_token).await.unwrap().is_some());
    assert!(store
        .session(&dead_session, now - 50)
        .await
        .unwrap()
        .is_none());
    assert!(store.session(&live_session, now).await.unwrap().is_some());
    assert_eq!(store.purge_expired(now).await.unwrap(), 0);
}

#[tokio::test]
async fn purge_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    purging_keeps_what_is_alive(&TestDatabase::sqlite(dir.path()).await).await;
}

#[tokio::test]
async fn purge_on_postgres() {
    purging_keeps_what_is_alive(&TestDatabase::postgres().await).await;
}

/// Access groups and a client's `allow` patterns, as every instance reads them.
async fn access_policy_round_trip(db: &TestDatabase) {
    use jidconnect::access::may_log_in;
    use jidconnect::store::groups::GroupError;
    let store = Store::connect(&db.url).await.unwrap();
    store
        .add_group("staff", &["carol@example.org".to_owned()], 1)
        .await
        .unwrap();
    assert!(matches!(
        store.add_group("staff", &[], 1).await,
        Err(GroupError::Exists(_))
    ));
    let creds = store
        .add_client(
            ClientSettings {
                allow: vec![
                    "bob@example.org".into(),
                    "team.example".into(),
                    "group:staff".into(),
                ],
                ..ClientSettings::new("Team", vec!["https://team.example/cb".into()])
            },
            1,
        )
        .await
        .unwrap();
    let client = store.client(&creds.client_id).await.unwrap().unwrap();
    for (subject, allowed) in [
        ("bob@example.org", true),
        ("anyone@team.example", true),
        ("carol@example.org", true),
        ("alice@example.org", false),
        ("bob@sub.team.example", false),
    ] {
        assert_eq!(
            may_log_in(&store, &client, subject).await.unwrap(),
            allowed,
            "{subject}"
        );
    }
    store
        .set_group_members("staff", &["dave@example.org".to_owned()])
        .await
        .unwrap();
    assert!(!may_log_in(&store, &client, "carol@example.org")
        .await
        .unwrap());
    assert!(may_log_in(&store, &client, "dave@example.org")
        .await
        .unwrap());
    store.remove_group("staff").await.unwrap();
    assert!(!may_log_in(&store, &client, "dave@example.org")
        .await
        .unwrap());
    assert!(store.groups().await.unwrap().is_empty());
    // A client without patterns lets anyone in.
    let open = store
        .add_client(
            ClientSettings::new("Open", vec!["https://open.example/cb".into()]),
            1,
        )
        .await
        .unwrap();
    let open = store.client(&open.client_id).await.unwrap().unwrap();
    assert!(may_log_in(&store, &open, "alice@example.org")
        .await
        .unwrap());
    // Unnormalized or unknown patterns never reach the database.
    for bad in ["Bob@Example.org", "group:", "bob@example.org/laptop"] {
        let settings = ClientSettings {
            allow: vec![bad.into()],
            ..ClientSettings::new("Bad", vec!["https://bad.example/cb".into()])
        };
        assert!(
            matches!(
                store.add_client(settings, 1).await,
                Err(ClientError::Invalid(_))
            ),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn access_policy_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    access_policy_round_trip(&TestDatabase::sqlite(dir.path()).await).await;
}

#[tokio::test]
async fn access_policy_on_postgres() {
    access_policy_round_trip(&TestDatabase::postgres().await).await;
}

/// A self-registered client and its registration access token (RFC 7592), on both backends.
async fn registration_round_trip(db: &TestDatabase) {
    let store = Store::connect(&db.url).await.unwrap();
    let metadata =
        serde_json::json!({"client_name": "Self", "redirect_uris": ["https://s.example/cb"]});
    let creds = store
        .register_client(
            ClientSettings::new("Self", vec!["https://s.example/cb".into()]),
            "registration-token",
            &metadata,
            1,
        )
        .await
        .unwrap();
    let (client, stored) = store
        .registered_client(&creds.client_id, "registration-token")
        .await
        .unwrap()
        .expect("read with its token");
    assert!(client.self_registered);
    assert_eq!(stored, metadata);
    assert!(store
        .registered_client(&creds.client_id, "another-token")
        .await
        .unwrap()
        .is_none());
    let operator = store
        .add_client(
            ClientSettings::new("Op", vec!["https://o.example/cb".into()]),
            1,
        )
        .await
        .unwrap();
    assert!(
        !store
            .client(&operator.client_id)
            .await
            .unwrap()
            .unwrap()
            .self_registered
    );
    assert!(store
        .registered_client(&operator.client_id, "registration-token")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn registration_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    registration_round_trip(&TestDatabase::sqlite(dir.path()).await).await;
}

#[tokio::test]
async fn registration_on_postgres() {
    registration_round_trip(&TestDatabase::postgres().await).await;
}

/// What the token endpoint says to `client_id` with `secret` asking to refresh with a
/// token that does not exist: `invalid_client` (refused), `unauthorized_client` (the
/// grant is not allowed) or `invalid_grant` (let in, then no such token).
async fn token_endpoint_verdict(app: &TestApp, client_id: &str, secret: &str) -> String {
    let response = app
        .http
        .post(format!("http://{}/token", app.addr))
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "nope")])
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    body["error"].as_str().unwrap().to_owned()
}

/// The app keeps client rows in memory; a change made by another process (the CLI opens
/// its own `Store`, another instance has its own) still reaches it within
/// `client_cache::CHECK_EVERY`, well inside a second.
async fn client_changes_elsewhere_reach_the_app(backend: Backend) {
    let prosody = Prosody::start().await;
    let app = spawn_app_on(&prosody, backend, &[]).await;
    let (id, secret) = app
        .add_client(ClientSettings::new(
            "Wiki",
            vec!["https://wiki.example/cb".into()],
        ))
        .await;
    // Read (and so cached) by the app.
    assert_eq!(
        token_endpoint_verdict(&app, &id, &secret).await,
        "invalid_grant"
    );
    let url = &app
        .env()
        .iter()
        .find(|(name, _)| name == "JIDCONNECT_DATABASE_URL")
        .unwrap()
        .1;
    let cli = Store::connect(url).await.unwrap();
    let mut settings = cli.client(&id).await.unwrap().unwrap().settings;
    settings.grant_types = vec!["authorization_code".into()];
    cli.update_client(&id, settings).await.unwrap();
    tokio::time::sleep(CHECK_EVERY).await;
    assert_eq!(
        token_endpoint_verdict(&app, &id, &secret).await,
        "unauthorized_client",
        "the update is seen"
    );
    let rotated = cli.rotate_client_secret(&id).await.unwrap();
    tokio::time::sleep(CHECK_EVERY).await;
    assert_eq!(
        token_endpoint_verdict(&app, &id, &secret).await,
        "invalid_client",
        "the old secret stopped working"
    );
    let new_secret = rotated.client_secret.unwrap();
    assert_eq!(
        token_endpoint_verdict(&app, &id, &new_secret).await,
        "unauthorized_client"
    );
    cli.remove_client(&id).await.unwrap();
    tokio::time::sleep(CHECK_EVERY).await;
    assert_eq!(
        token_endpoint_verdict(&app, &id, &new_secret).await,
        "invalid_client",
        "the removal is seen"
    );
    cli.close().await;
    app.stop().await;
}

#[tokio::test]
async fn client_changes_elsewhere_on_sqlite() {
    client_changes_elsewhere_reach_the_app(Backend::Sqlite).await;
}

#[tokio::test]
async fn client_changes_elsewhere_on_postgres() {
    client_changes_elsewhere_reach_the_app(Backend::Postgres).await;
}
