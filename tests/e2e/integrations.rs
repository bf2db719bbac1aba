//! The integration guides in docs/integrations/, followed for real where the application
//! runs here: Apache with mod_auth_openidc (Debian) using the guide's own config file.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::browser::Browser;
use crate::helpers::{free_port, spawn_app, Client, Prosody, Provider, XmppUser};
use jidconnect::store::clients::ClientSettings;

struct Apache {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Apache {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Apache with a CGI page under /protected that shows what the application receives.
fn start_apache(port: u16, env: &[(&str, String)]) -> Apache {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(root.join("cgi")).unwrap();
    let script = root.join("cgi/whoami");
    std::fs::write(
        &script,
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\necho \"REMOTE_USER=$REMOTE_USER\"\necho \"USERNAME=$OIDC_CLAIM_preferred_username\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let guide =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/integrations/apache/jidconnect.conf");
    let modules = "/usr/lib/apache2/modules";
    let config = format!(
        "ServerRoot {root}\nServerName 127.0.0.1\nListen 127.0.0.1:{port}\nPidFile {root}/httpd.pid\n\
         ErrorLog {root}/error.log\nLogLevel warn auth_openidc:info\nUser www-data\nGroup www-data\n\
         LoadModule mpm_prefork_module {modules}/mod_mpm_prefork.so\n\
         LoadModule authz_core_module {modules}/mod_authz_core.so\n\
         LoadModule authn_core_module {modules}/mod_authn_core.so\n\
         LoadModule authz_user_module {modules}/mod_authz_user.so\n\
         LoadModule alias_module {modules}/mod_alias.so\n\
         LoadModule cgi_module {modules}/mod_cgi.so\n\
         LoadModule auth_openidc_module {modules}/mod_auth_openidc.so\n\
         DocumentRoot {root}\nScriptAlias /protected/whoami {root}/cgi/whoami\n\
         Include {guide}\n",
        root = root.display(),
        guide = guide.display(),
    );
    std::fs::write(root.join("httpd.conf"), config).unwrap();
    let child = Command::new("apache2")
        .args(["-X", "-f"])
        .arg(root.join("httpd.conf"))
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("apache2 runs (apt-get install apache2 libapache2-mod-auth-openidc)");
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if std::time::Instant::now() > deadline {
            let log = std::fs::read_to_string(root.join("error.log")).unwrap_or_default();
            panic!("apache did not start:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Apache { child, _dir: dir }
}

#[tokio::test]
async fn apache_mod_auth_openidc_guide() {
    let prosody = Prosody::start().await;
    let app = spawn_app(&prosody).await;
    let mut alice = XmppUser::login(&prosody, "alice", "laptop", Client::Xep0070, "accept").await;
    let port = free_port();
    let site = format!("http://127.0.0.1:{port}");
    // Step 1 of the guide.
    let mut settings =
        ClientSettings::new("Intranet", vec![format!("{site}/protected/redirect_uri")]);
    settings.post_logout_redirect_uris = vec![format!("{site}/")];
    let (client_id, client_secret) = app.add_client(settings).await;
    // Step 2: the guide's config file with its variables.
    let _apache = start_apache(
        port,
        &[
            ("JIDCONNECT_ISSUER", app.issuer()),
            ("JIDCONNECT_CLIENT_ID", client_id),
            ("JIDCONNECT_CLIENT_SECRET", client_secret),
            ("SITE_URL", site.clone()),
            ("OIDC_CRYPTO_PASSPHRASE", jidconnect::random::token(32)),
        ],
    );
    let browser = Browser::new(&app);
    // Apache sends the browser to jidconnect's login page.
    let (status, login_url, html) = browser
        .open(&format!("{site}/protected/whoami"))
        .await
        .page();
    assert_eq!(status, 200, "{html}");
    assert!(
        login_url.starts_with(&format!("{}/login/", app.issuer())),
        "{login_url}"
    );
    let back = browser
        .consent_if_asked(
            browser
                .log_in(&login_url, &html, "alice@localhost", &mut alice)
                .await,
        )
        .await;
    assert!(
        back.as_str()
            .starts_with(&format!("{site}/protected/redirect_uri?code=")),
        "{back}"
    );
    // mod_auth_openidc redeems the code, checks the ID token and sends us to the page.
    let response = browser.http.get(back).send().await.unwrap();
    let page = response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    let page = page.expect("a redirect to the protected page");
    let text = browser
        .http
        .get(url::Url::parse(&site).unwrap().join(&page).unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("REMOTE_USER=alice@localhost"), "{text}");
    assert!(text.contains("USERNAME=alice"), "{text}");
}

/// The test site in tests/django/, running the guide's settings under `runserver`.
struct Django {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Django {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_django(port: u16, settings: &str, env: &[(&str, String)]) -> Django {
    let dir = tempfile::tempdir().unwrap();
    let manage = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/django/manage.py");
    let db = dir.path().join("django.sqlite3").display().to_string();
    let command = |args: &[&str]| {
        let mut command = Command::new("python3");
        command
            .arg(&manage)
            .args(args)
            .env("DJANGO_DB", &db)
            .env("DJANGO_SETTINGS_MODULE", settings)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
        command
    };
    let migrated = command(&["migrate", "--noinput"])
        .output()
        .expect("python3 with Django (pip install -r tests/requirements.txt)");
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    let child = command(&["runserver", "--noreload", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "Django did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Django { child, _dir: dir }
}

#[tokio::test]
async fn django_mozilla_django_oidc_guide() {
    let prosody = Prosody::start().await;
    let app = spawn_app(&prosody).await;
    let mut alice = XmppUser::login(&prosody, "alice", "laptop", Client::Xep0070, "accept").await;
    let port = free_port();
    let site = format!("http://127.0.0.1:{port}");
    let settings = ClientSettings::new("My Django site", vec![format!("{site}/oidc/callback/")]);
    let (client_id, client_secret) = app.add_client(settings).await;
    let _django = start_django(
        port,
        "testsite.settings",
        &[
            ("JIDCONNECT_ISSUER", app.issuer()),
            ("JIDCONNECT_CLIENT_ID", client_id),
            ("JIDCONNECT_CLIENT_SECRET", client_secret),
        ],
    );
    let browser = Browser::new(&app);
    let (status, login_url, html) = browser
        .open(&format!("{site}/oidc/authenticate/"))
        .await
        .page();
    assert_eq!(status, 200, "{html}");
    let back = browser
        .consent_if_asked(
            browser
                .log_in(&login_url, &html, "alice@localhost", &mut alice)
                .await,
        )
        .await;
    assert!(
        back.as_str()
            .starts_with(&format!("{site}/oidc/callback/?")),
        "{back}"
    );
    let response = browser.http.get(back).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 302);
    let landing = response.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(landing, "/whoami/", "logged in, sent to LOGIN_REDIRECT_URL");
    let text = browser
        .http
        .get(format!("{site}/whoami/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("username=alice@localhost"), "{text}");
    assert!(text.contains("first_name=alice"), "{text}");
}

#[tokio::test]
async fn django_allauth_guide() {
    let prosody = Prosody::start().await;
    let app = spawn_app(&prosody).await;
    let mut alice = XmppUser::login(&prosody, "alice", "laptop", Client::Xep0070, "accept").await;
    let port = free_port();
    let site = format!("http://127.0.0.1:{port}");
    let callback = format!("{site}/accounts/oidc/jidconnect/login/callback/");
    let (client_id, client_secret) = app
        .add_client(ClientSettings::new(
            "My Django site",
            vec![callback.clone()],
        ))
        .await;
    let _django = start_django(
        port,
        "testsite.settings_allauth",
        &[
            ("JIDCONNECT_ISSUER", app.issuer()),
            ("JIDCONNECT_CLIENT_ID", client_id),
            ("JIDCONNECT_CLIENT_SECRET", client_secret),
        ],
    );
    let browser = Browser::new(&app);
    // allauth's "Continue" form starts the login with a POST.
    let start = format!("{site}/accounts/oidc/jidconnect/login/");
    let (status, _, html) = browser.open(&start).await.page();
    assert_eq!(status, 200, "{html}");
    let csrf = crate::browser::field(&html, "csrfmiddlewaretoken").expect("allauth's form");
    let response = browser
        .http
        .post(&start)
        .header("referer", &start)
        .form(&[("csrfmiddlewaretoken", csrf.as_str())])
        .send()
        .await
        .unwrap();
    let (status, login_url, html) = browser.follow(response).await.page();
    assert_eq!(status, 200, "{html}");
    let back = browser
        .consent_if_asked(
            browser
                .log_in(&login_url, &html, "alice@localhost", &mut alice)
                .await,
        )
        .await;
    assert!(back.as_str().starts_with(&callback), "{back}");
    let mut next = back;
    let text = loop {
        let response = browser.http.get(next.clone()).send().await.unwrap();
        match response.headers().get("location") {
            Some(location) => next = next.join(location.to_str().unwrap()).unwrap(),
            None => break response.text().await.unwrap(),
        }
    };
    assert!(text.contains("username=alice@localhost"), "{next}: {text}");
}

/// The documented Django backend for the `/auth` API (docs/compat-api.md), run as printed with Python `requests`
/// (credentials in the URL) against a real confirmation.
#[tokio::test]
async fn documented_django_backend_for_the_auth_api() {
    let prosody = Prosody::start().await;
    let app = spawn_app(&prosody).await;
    let _alice = XmppUser::login(&prosody, "alice", "pc", Client::Xep0070, "accept").await;
    let _bob = XmppUser::login(&prosody, "bob", "pc", Client::Xep0070, "deny").await;
    // The documented site names itself `my.site`: its client has a redirect URI there.
    let (id, secret) = app
        .add_client(ClientSettings::new(
            "My Site",
            vec!["https://my.site/accounts/oidc/callback/".into()],
        ))
        .await;
    let url = format!("http://{id}:{secret}@{}/auth", app.addr);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = |jid: &'static str| {
        tokio::process::Command::new("python3")
            .arg(root.join("tests/support/documented_auth_backend.py"))
            .arg(root.join("docs/compat-api.md"))
            .arg(&url)
            .arg(jid)
            .output()
    };
    for (jid, logged_in) in [
        ("Alice@localhost", "user alice@localhost"),
        // A no logs nobody in.
        ("bob@localhost", "none"),
    ] {
        let out = run(jid).await.unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            logged_in,
            "{stderr}"
        );
    }
}
