//! Languages: pages and XMPP messages in the person's language, chosen by OIDC
//! `ui_locales`, the picker (remembered in a cookie) or `Accept-Language`; refusals typed in
//! any shipped language; the compat `/auth` API's `lang`. Real Prosody, real slixmpp users,
//! the `openidconnect` crate as the relying party.

use openidconnect::TokenResponse;

use crate::browser::{field, Browser, RelyingParty, REDIRECT_URI};
use crate::helpers::{spawn_app, Client, Prosody, Provider, TestApp, XmppUser, COMPONENT};
use crate::reach::xmpp_link;
use jidconnect::store::clients::ClientSettings;

async fn rp_for(app: &TestApp) -> RelyingParty {
    let (id, secret) = app
        .add_client(ClientSettings::new("Wiki", vec![REDIRECT_URI.into()]))
        .await;
    RelyingParty::discover(app, &id, &secret).await
}

pub fn lang_of(html: &str) -> &str {
    let at = html.find("<html lang=\"").expect("an html element") + "<html lang=\"".len();
    &html[at..at + html[at..].find('"').unwrap()]
}

#[tokio::test]
async fn ui_locales_sets_the_pages_and_the_xmpp_request_and_the_login_completes() {
    let prosody = Prosody::start().await;
    let app = spawn_app(&prosody).await;
    let rp = rp_for(&app).await;
    let mut alice = XmppUser::login(&prosody, "alice", "web", Client::PlainText, "body-code").await;
    // The browser prefers English; the site asks for Canadian French first.
    let browser = Browser::speaking(&app, "en");
    let attempt = rp.attempt(&["profile"], false, &[("ui_locales", "fr-CA de")]);

    let (status, login_url, html) = browser.open(attempt.url.as_str()).await.page();
    assert_eq!(status, 200);
    assert_eq!(lang_of(&html), "fr");
    assert!(html.contains("dir=\"ltr\""));
    assert!(
        html.contains("Connexion à <strong class=\"client\">Wiki</strong>")
            && html.contains("Saisissez votre adresse"),
        "{html}"
    );
    // The picker offers every other language, in its own name.
    assert!(
        html.contains("hreflang=\"de\" lang=\"de\">Deutsch</a>"),
        "{html}"
    );
    assert!(html.contains("lang=\"fr\" aria-current=\"true\">Français</span>"));
    // The send-the-code message is French too, and still carries the code.
    let (_, body) = xmpp_link(&html);
    assert!(body.starts_with("Connexion à Wiki : "), "{body}");

    let csrf = field(&html, "csrf").unwrap();
    let (_, wait_url, wait) = browser
        .post(&login_url, &[("jid", "alice@localhost"), ("csrf", &csrf)])
        .await
        .page();
    assert_eq!(lang_of(&wait), "fr");
    assert!(wait.contains("Regardez votre application XMPP"), "{wait}");
    assert!(wait.contains("La demande expire dans"), "{wait}");
    assert!(wait.contains(" secondes</strong>"), "the countdown: {wait}");
    assert!(wait.contains("data-text-denied=\"Vous avez refusé cette connexion.\""));

    // The request reaches the app in the page's language, and says so with xml:lang.
    let request = alice.next_request().await;
    assert_eq!(request.lang, "fr");
    assert!(
        request
            .body
            .contains("Wiki vous demande de confirmer une connexion en tant que alice@localhost"),
        "{}",
        request.body
    );
    assert!(
        request.body.contains("« non » pour refuser"),
        "{}",
        request.body
    );
    // alice answers with the code; the login goes on, consent in French.
    browser
        .wait_for_status(&format!("{wait_url}/status"), "accepted")
        .await;
    let (_, consent_url, consent) = browser
        .post(&format!("{wait_url}/continue"), &[("csrf", &csrf)])
        .await
        .page();
    assert!(consent_url.ends_with("/consent"));
    assert_eq!(lang_of(&consent), "fr");
    assert!(
        consent.contains("aimerait savoir")
            && consent.contains("Votre nom d&#39;utilisateur, alice"),
        "{consent}"
    );
    let callback = browser
        .post(&consent_url, &[("csrf", &csrf), ("decision", "allow")])
        .await
        .away();
    let code = rp.code_from(&app, &callback, &attempt);
    let tokens = rp.exchange(&code, None).await.unwrap();
    let claims = rp.id_claims(&tokens, &attempt.nonce);
    assert_eq!(claims.subject().as_str(), "alice@localhost");
    assert!(tokens.id_token().is_some());

    // Discovery lists what ships.
    let discovery = app.json("/.well-known/openid-configuration").await;
    let mut listed: Vec<&str> = discovery["ui_locales_supported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    listed.sort();
    assert_eq!(listed, ["ca", "de", "en", "es", "fr"]);
}

/// A person answers in their own words, in each shipped language: the request is refused
/// and the page says so in the browser's language.
#[tokio::test]
async fn accept_language_chooses_and_a_translated_no_refuses() {
    let prosody = Prosody::start().await;
    let app = spawn_app(&prosody).await;
    let rp = rp_for(&app).await;
    for (user, accept, word, refused, request_says) in [
        (
            "alice",
            "de-AT,de;q=0.9,en;q=0.5",
            "Nein!",
            "Du hast diese Anmeldung abgelehnt",
            "bittet dich, eine Anmeldung als alice@localhost zu bestätigen",
        ),
        (
            "bob",
            "es-ES;q=0.8, en;q=0.2",
            "rechazo",
            "Has rechazado este inicio de sesión",
            "te pide que confirmes un inicio de sesión como bob@localhost",
        ),
        (
            "carol",
            "ca",
            "Rebutjo.",
            "Heu rebutjat aquest inici de sessió",
            "us demana que confirmeu un inici de sessió com a carol@localhost",
        ),
    ] {
        let mode = format!("body-say:{word}");
        let mut person = XmppUser::login(&prosody, user, "phone", Client::PlainText, &mode).await;
        let browser = Browser::speaking(&app, accept);
        let attempt = rp.attempt(&[], false, &[]);
        let (_, login_url, html) = browser.open(attempt.url.as_str()).await.page();
        let lang = &accept[..2];
        assert_eq!(lang_of(&html), lang, "{html}");
        let csrf = field(&html, "csrf").unwrap();
        let jid = format!("{user}@localhost");
        let (_, wait_url, _) = browser
            .post(&login_url, &[("jid", &jid), ("csrf", &csrf)])
            .await
            .page();
        let request = person.next_request().await;
        assert_eq!(request.lang, lang);
        assert!(request.body.contains(request_says), "{}", request.body);
        // "Nein!" is no code: the request is refused, not accepted.
        let status = loop {
            let status = browser.json(&format!("{wait_url}/status")).await;
            if status["status"] != "sent" {
                break status;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        assert_eq!(status["status"], "denied", "{word}");
        let (_, _, page) = browser.open(&wait_url).await.page();
        assert_eq!(lang_of(&page), lang);
        assert!(page.contains(refused), "{page}");
    }
}

#[tokio::test]
async fn the_picker_changes_the_login_and_is_remembered_and_replies_follow_it() {
    let prosody = Prosody::start().await;
    let app = spawn_app(&prosody).await;
    let rp = rp_for(&app).await;
    let mut bob = XmppUser::login(&prosody, "bob", "phone", Client::PlainText, "ignore").await;
    let browser = Browser::new(&app);

    let attempt = rp.attempt(&[], false, &[]);
    let (_, login_url, html) = browser.open(attempt.url.as_str()).await.page();
    assert_eq!(lang_of(&html), "en", "no preference: English");
    // The person picks Spanish: this page, and the login's next pages and messages.
    let picked = format!("{login_url}?lang=es");
    assert!(html.contains("href=\"?lang=es\""), "{html}");
    let (_, _, html) = browser.open(&picked).await.page();
    assert_eq!(lang_of(&html), "es");
    assert!(html.contains("Escribe tu dirección"), "{html}");
    assert_eq!(browser.cookie("jidconnect_lang").as_deref(), Some("es"));
    let (_, _, html) = browser.open(&login_url).await.page();
    assert_eq!(lang_of(&html), "es", "the login keeps the language picked");

    // Bob sends the page's code from his app: the answer is in the page's language.
    let (to, body) = xmpp_link(&html);
    assert_eq!(to, COMPONENT);
    assert!(body.starts_with("Iniciar sesión en Wiki: "), "{body}");
    bob.send_message(COMPONENT, &body).await;
    let answer = bob.next_chat().await;
    assert_eq!(answer.lang, "es");
    assert!(
        answer.body.contains("Estás iniciando sesión en Wiki")
            && answer.body.contains("«no fui yo»"),
        "{}",
        answer.body
    );

    // The cookie chooses the next login's language; ui_locales still comes first.
    let (_, _, html) = browser
        .open(rp.attempt(&[], false, &[]).url.as_str())
        .await
        .page();
    assert_eq!(lang_of(&html), "es");
    let (_, _, html) = browser
        .open(rp.attempt(&[], false, &[("ui_locales", "de")]).url.as_str())
        .await
        .page();
    assert_eq!(lang_of(&html), "de");
    assert!(html.contains("Adresse eingeben"), "{html}");

    // Pages outside a login follow the cookie too: an expired login, the device page.
    let (status, _, html) = browser.open(&app.url("/login/no-such-login")).await.page();
    assert_eq!(status, 404);
    assert_eq!(lang_of(&html), "es");
    assert!(html.contains("Este inicio de sesión ha caducado"), "{html}");
    let (_, _, html) = Browser::speaking(&app, "ca")
        .open(&app.url("/device?user_code=K7XM-4QPA"))
        .await
        .page();
    assert_eq!(lang_of(&html), "ca");
    assert!(
        html.contains("Inicia la sessió d&#39;un dispositiu"),
        "{html}"
    );
    // The picker keeps the page's other parameters.
    assert!(
        html.contains("href=\"?user_code=K7XM-4QPA&#38;lang=fr\""),
        "{html}"
    );
}

#[tokio::test]
async fn the_compat_api_asks_in_lang_else_in_the_clients_language() {
    let prosody = Prosody::start().await;
    let app = spawn_app(&prosody).await;
    let mut alice = XmppUser::login(&prosody, "alice", "laptop", Client::Xep0070, "accept").await;
    let params = |code: &'static str, lang: &'static str| {
        vec![
            ("jid", "alice@localhost"),
            ("domain", "wiki.example"),
            ("transaction_id", code),
            ("timeout", "20"),
            ("lang", lang),
        ]
    };
    let (status, _) = app.auth(&params("FR22-CODE", "fr")).await;
    assert_eq!(status, 200);
    let request = alice.next_request().await;
    assert_eq!(request.lang, "fr");
    assert!(
        request
            .body
            .contains("vous demande de confirmer que vous êtes alice@localhost")
            && request.body.contains("Ce n'est pas une page de connexion"),
        "{}",
        request.body
    );
    let (status, body) = app.auth(&params("BAD2-LANG", "not a tag!")).await;
    assert_eq!(status, 400, "{body}");

    // A client whose --language is German: calls without `lang`, or with one that does
    // not ship, are German.
    let mut settings = ClientSettings::new("Wiki", vec!["https://wiki.example/cb".into()]);
    settings.language = Some("de".into());
    let (id, secret) = app.add_client(settings).await;
    for (code, lang) in [("DE22-CODE", ""), ("JA22-CODE", "ja")] {
        let response = app
            .http
            .get(app.url("/auth"))
            .basic_auth(&id, Some(&secret))
            .query(&params(code, lang))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{code}");
        let request = alice.next_request().await;
        assert_eq!(request.lang, "de", "{code}");
        assert!(
            request.body.contains("Das ist keine Anmeldeseite"),
            "{}",
            request.body
        );
    }
}
