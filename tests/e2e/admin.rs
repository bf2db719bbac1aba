//! The admin pages, logged into with an XMPP confirmation.

use crate::browser::{field, Browser, Landing};
use crate::helpers::{spawn_app_with, Client, Prosody, Provider, TestApp, XmppUser};

async fn spawn_app_with_admins(prosody: &Prosody, admins: &str) -> TestApp {
    spawn_app_with(prosody, &[("JIDCONNECT_ADMIN_JIDS", admins)]).await
}

fn secret_on(html: &str) -> Option<String> {
    let at = html.find("class=\"mono\">")? + "class=\"mono\">".len();
    let end = html[at..].find('<')?;
    Some(html[at..at + end].to_owned())
}

#[tokio::test]
async fn admins_log_in_over_xmpp_and_manage_clients() {
    let prosody = Prosody::start().await;
    let app = spawn_app_with_admins(&prosody, r#"["alice@localhost"]"#).await;
    let mut alice = XmppUser::login(&prosody, "alice", "laptop", Client::Xep0070, "accept").await;
    let browser = Browser::new(&app);

    let (status, login_url, html) = browser.open(&app.url("/admin")).await.page();
    assert_eq!(status, 200);
    let Landing::Page { status, html, .. } = browser
        .log_in(&login_url, &html, "alice@localhost", &mut alice)
        .await
    else {
        panic!("the admin page after login");
    };
    assert_eq!(status, 200);
    assert!(
        html.contains("Registered clients") && html.contains("alice@localhost"),
        "{html}"
    );
    let csrf = field(&html, "csrf").unwrap();

    // Add a client: its secret is shown once.
    let (status, _, html) = browser
        .post(
            &app.url("/admin/clients"),
            &[
                ("csrf", csrf.as_str()),
                ("name", "Grafana"),
                (
                    "redirect_uris",
                    "https://grafana.example/login/generic_oauth\n",
                ),
                ("jid_as_email", "on"),
            ],
        )
        .await
        .page();
    assert_eq!(status, 200, "{html}");
    let secret = secret_on(&html).expect("the new secret is shown");
    let clients = app.state.store.clients().await.unwrap();
    let grafana = clients
        .iter()
        .find(|c| c.settings.name == "Grafana")
        .unwrap();
    assert!(grafana.secret_matches(&secret));
    assert!(grafana.settings.jid_as_email);
    let id = grafana.client_id.clone();

    // Bad input is explained, nothing changes.
    let (status, _, html) = browser
        .post(
            &app.url(&format!("/admin/clients/{id}")),
            &[
                ("csrf", csrf.as_str()),
                ("name", "Grafana"),
                ("redirect_uris", "http://evil.example/cb"),
            ],
        )
        .await
        .page();
    assert_eq!(status, 400);
    assert!(html.contains("https"), "{html}");

    // Update, rotate, remove.
    browser
        .post(
            &app.url(&format!("/admin/clients/{id}")),
            &[
                ("csrf", csrf.as_str()),
                ("name", "Grafana 11"),
                (
                    "redirect_uris",
                    "https://grafana.example/login/generic_oauth",
                ),
                ("trusted", "on"),
            ],
        )
        .await
        .page();
    let client = app.state.store.client(&id).await.unwrap().unwrap();
    assert_eq!(client.settings.name, "Grafana 11");
    assert!(client.settings.trusted && !client.settings.jid_as_email);
    assert_eq!(
        client.settings.grant_types,
        ["authorization_code", "refresh_token"],
        "no grant types given: the default"
    );
    // A device-only TV (RFC 8628): no redirect URI, `device_code` for the URN.
    let (status, _, html) = browser
        .post(
            &app.url("/admin/clients"),
            &[
                ("csrf", csrf.as_str()),
                ("name", "TV"),
                ("redirect_uris", ""),
                ("grant_types", "device_code refresh_token"),
                ("public", "on"),
            ],
        )
        .await
        .page();
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("value=\"device_code refresh_token\""),
        "the page shows the grant types as typed"
    );
    let clients = app.state.store.clients().await.unwrap();
    let tv = clients.iter().find(|c| c.settings.name == "TV").unwrap();
    assert!(tv
        .settings
        .allows_grant("urn:ietf:params:oauth:grant-type:device_code"));
    let (_, _, html) = browser
        .post(
            &app.url(&format!("/admin/clients/{id}/rotate-secret")),
            &[("csrf", csrf.as_str())],
        )
        .await
        .page();
    let rotated = secret_on(&html).unwrap();
    let client = app.state.store.client(&id).await.unwrap().unwrap();
    assert!(client.secret_matches(&rotated) && !client.secret_matches(&secret));

    // A forged or missing token changes nothing, on every admin form.
    let before = app.state.store.clients().await.unwrap();
    for path in [
        "/admin/clients".to_owned(),
        format!("/admin/clients/{id}"),
        format!("/admin/clients/{id}/rotate-secret"),
        format!("/admin/clients/{id}/remove"),
    ] {
        for csrf in [None, Some("forged")] {
            let mut form = vec![
                ("name", "Evil"),
                ("redirect_uris", "https://evil.example/cb"),
            ];
            form.extend(csrf.map(|c| ("csrf", c)));
            let landing = browser.post(&app.url(&path), &form).await;
            assert!(
                matches!(landing, Landing::Page { status: 403, .. }),
                "{path} with {csrf:?}: {landing:?}"
            );
        }
    }
    let after = app.state.store.clients().await.unwrap();
    assert_eq!(before, after, "no forged form changed a client");
    let client = app.state.store.client(&id).await.unwrap().unwrap();
    assert!(
        client.secret_matches(&rotated),
        "the secret was not rotated"
    );
    browser
        .post(
            &app.url(&format!("/admin/clients/{id}/remove")),
            &[("csrf", csrf.as_str())],
        )
        .await
        .page();
    assert!(app.state.store.client(&id).await.unwrap().is_none());
}

#[tokio::test]
async fn other_people_are_not_admins() {
    let prosody = Prosody::start().await;
    let app = spawn_app_with_admins(&prosody, r#"["alice@localhost"]"#).await;
    let mut bob = XmppUser::login(&prosody, "bob", "laptop", Client::Xep0070, "accept").await;
    let browser = Browser::new(&app);
    let (_, login_url, html) = browser.open(&app.url("/admin")).await.page();
    let (status, _, html) = browser
        .log_in(&login_url, &html, "bob@localhost", &mut bob)
        .await
        .page();
    assert_eq!(status, 403);
    assert!(html.contains("not listed in admin_jids"), "{html}");
    // And nobody posts to the admin forms without a session.
    let stranger = Browser::new(&app);
    let landing = stranger
        .post(
            &app.url("/admin/clients"),
            &[
                ("csrf", "x"),
                ("name", "X"),
                ("redirect_uris", "https://x.example/"),
            ],
        )
        .await;
    let (_, _, html) = landing.page();
    assert!(
        html.contains("name=\"jid\""),
        "sent to log in first:\n{html}"
    );
    assert!(app
        .state
        .store
        .clients()
        .await
        .unwrap()
        .iter()
        .all(|c| c.settings.name != "X"));
}

/// Access groups on the admin page: add, change members, refuse bad input, remove.
#[tokio::test]
async fn admins_manage_access_groups() {
    let prosody = Prosody::start().await;
    let app = spawn_app_with_admins(&prosody, r#"["alice@localhost"]"#).await;
    let mut alice = XmppUser::login(&prosody, "alice", "laptop", Client::Xep0070, "accept").await;
    let browser = Browser::new(&app);
    let (_, login_url, html) = browser.open(&app.url("/admin")).await.page();
    let Landing::Page { html, .. } = browser
        .log_in(&login_url, &html, "alice@localhost", &mut alice)
        .await
    else {
        panic!("the admin page after login");
    };
    assert!(html.contains("Access groups"), "{html}");
    let csrf = field(&html, "csrf").unwrap();
    let post = |path: &str, form: &[(&str, &str)]| {
        let mut form = form.to_vec();
        form.push(("csrf", csrf.as_str()));
        let form: Vec<(String, String)> = form
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let (url, browser) = (app.url(path), &browser);
        async move {
            let form: Vec<(&str, &str)> =
                form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            browser.post(&url, &form).await.page()
        }
    };
    let (status, _, html) = post(
        "/admin/groups",
        &[
            ("create", "1"),
            ("name", "staff"),
            ("members", "Bob@Localhost\ncarol@localhost\n"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let group = app.state.store.group("staff").await.unwrap().unwrap();
    assert_eq!(group.members, ["bob@localhost", "carol@localhost"]);
    let (status, _, html) = post(
        "/admin/groups",
        &[("create", "1"), ("name", "staff"), ("members", "")],
    )
    .await;
    assert_eq!(status, 400, "adding a group that exists: {html}");
    let (status, _, _) = post(
        "/admin/groups",
        &[("name", "staff"), ("members", "dave@localhost")],
    )
    .await;
    assert_eq!(status, 200);
    let group = app.state.store.group("staff").await.unwrap().unwrap();
    assert_eq!(group.members, ["dave@localhost"]);
    let (status, _, html) = post(
        "/admin/groups",
        &[("name", "staff"), ("members", "dave@localhost/phone")],
    )
    .await;
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("bare JID"), "{html}");
    let (status, _, html) = post("/admin/groups", &[("create", "1"), ("name", "Bad Name")]).await;
    assert_eq!(status, 400, "{html}");
    let (status, _, _) = post("/admin/groups/staff/remove", &[]).await;
    assert_eq!(status, 200);
    assert!(app.state.store.group("staff").await.unwrap().is_none());
    // Without the page's token, nothing changes.
    let forged = browser
        .post(
            &app.url("/admin/groups"),
            &[("csrf", "forged"), ("create", "1"), ("name", "evil")],
        )
        .await
        .page();
    assert_eq!(forged.0, 403);
    assert!(app.state.store.group("evil").await.unwrap().is_none());
}
