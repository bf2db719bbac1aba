//! The store on both backends: SQLite (default) and PostgreSQL.

use jidconnect::store::clients::{ClientError, ClientSettings};
use jidconnect::store::Store;

use crate::helpers::TestDatabase;

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
    store.ping().await.unwrap();
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
