//! The login driver of the benchmark (bench/run): many browsers at once, each with its
//! own cookies, going through the real authorization flow until the redirect with a code.
//!
//! Against jidconnect it fills in the JID form, waits (asking the status URL, which
//! answers on a change, as the wait page does) for the XMPP user to accept, continues, and
//! allows consent if asked.
//! Against an OIDC provider that approves on its own (the peer) it just follows the
//! redirects. With `--stop-after-send` each login ends once its XEP-0070 request is sent,
//! to leave many pending at once.
//!
//! With several `--base` URLs (instances of one deployment) every request goes to the next
//! instance in turn, like a round-robin balancer without sticky sessions: one login's
//! steps land on different instances.
//!
//! Prints one JSON line: logins, failures, logins/s and latency percentiles. The codes go
//! to `--codes-out`, one a line, for the token benchmark.
//!
//!   bench_logins --base http://127.0.0.1:8080 --client-id ID --jid 'bot@localhost' --count 1000
//!   bench_logins --base http://127.0.0.1:8080 --base http://127.0.0.1:8081 --client-id ID …

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use reqwest::{header, redirect, Client, Response, StatusCode};
use serde_json::json;
use url::Url;

#[derive(Parser)]
struct Args {
    /// The provider's base URL; repeated: instances of one deployment, taken in turn.
    #[arg(long, required = true)]
    base: Vec<Url>,
    /// Its authorization endpoint (jidconnect: /authorize, oidc-provider: /auth).
    #[arg(long, default_value = "/authorize")]
    authorize_path: String,
    #[arg(long)]
    client_id: String,
    #[arg(long, default_value = "http://127.0.0.1/cb")]
    redirect_uri: String,
    #[arg(long, default_value = "openid offline_access")]
    scope: String,
    #[arg(long)]
    prompt: Option<String>,
    /// The JID typed into the form; `{i}` becomes the login's number, `{w}` the worker's
    /// (jidconnect keeps one request pending per JID: give each worker its own).
    #[arg(long, default_value = "bot{w}@localhost")]
    jid: String,
    #[arg(long)]
    count: usize,
    /// The number of the first login (to continue a series with fresh JIDs).
    #[arg(long, default_value_t = 0)]
    first: usize,
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// End each login once its confirmation request is sent (pending logins).
    #[arg(long)]
    stop_after_send: bool,
    #[arg(long)]
    codes_out: Option<PathBuf>,
}

/// One login's result and timings.
struct Done {
    code: Option<String>,
    total: Duration,
    /// From the JID form post until the status says "accepted".
    confirm: Option<Duration>,
}

/// The instances behind the "balancer": every request, of any browser, goes to the next.
struct Instances {
    bases: Vec<Url>,
    next: AtomicUsize,
}

impl Instances {
    /// `url` (a provider URL, possibly absolute with the issuer's origin) on the next
    /// instance: its path and query with that instance's origin.
    fn route(&self, url: &Url) -> anyhow::Result<Url> {
        let turn = self.next.fetch_add(1, Ordering::Relaxed);
        let base = &self.bases[turn % self.bases.len()];
        let mut routed = base.join(url.path())?;
        routed.set_query(url.query());
        Ok(routed)
    }
}

/// A browser: one cookie jar (cookie paths are ignored; the names never clash here, and
/// every instance sees the same jar, as behind one balancer's origin).
struct Browser<'a> {
    http: &'a Client,
    instances: &'a Instances,
    cookies: HashMap<String, String>,
}

impl Browser<'_> {
    async fn send(&mut self, request: reqwest::RequestBuilder) -> anyhow::Result<Response> {
        let cookie: Vec<String> = self
            .cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        let request = if cookie.is_empty() {
            request
        } else {
            request.header(header::COOKIE, cookie.join("; "))
        };
        let response = request.send().await?;
        for set in response.headers().get_all(header::SET_COOKIE) {
            let pair = set.to_str()?.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                self.cookies.insert(name.trim().into(), value.trim().into());
            }
        }
        Ok(response)
    }

    async fn get(&mut self, url: Url) -> anyhow::Result<(Url, Response)> {
        let url = self.instances.route(&url)?;
        let response = self.send(self.http.get(url.clone())).await?;
        Ok((url, response))
    }

    async fn post(&mut self, url: Url, form: &[(&str, &str)]) -> anyhow::Result<(Url, Response)> {
        let url = self.instances.route(&url)?;
        let response = self.send(self.http.post(url.clone()).form(form)).await?;
        Ok((url, response))
    }
}

/// The first form of a jidconnect page: its action and CSRF token.
fn form_of(page: &str) -> Option<(String, String)> {
    let after = |marker: &str| {
        let start = page.find(marker)? + marker.len();
        let end = page[start..].find('"')?;
        Some(page[start..start + end].to_owned())
    };
    Some((
        after("<form method=\"post\" action=\"")?,
        after("name=\"csrf\" value=\"")?,
    ))
}

async fn login(
    args: &Args,
    http: &Client,
    instances: &Instances,
    worker: usize,
    index: usize,
) -> anyhow::Result<Done> {
    let started = Instant::now();
    let mut browser = Browser {
        http,
        instances,
        cookies: HashMap::new(),
    };
    let mut authorize = args.base[0].join(&args.authorize_path)?;
    {
        let mut query = authorize.query_pairs_mut();
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", &args.client_id)
            .append_pair("redirect_uri", &args.redirect_uri)
            .append_pair("scope", &args.scope)
            .append_pair("state", &format!("s{index}"))
            .append_pair("nonce", &format!("n{index}"));
        if let Some(prompt) = &args.prompt {
            query.append_pair("prompt", prompt);
        }
    }
    let mut confirm = None;
    let (mut url, mut response) = browser.get(authorize).await?;
    // Bounded: a login takes a handful of steps; a loop means something is broken.
    for _ in 0..12 {
        if response.status().is_redirection() {
            let location = response
                .headers()
                .get(header::LOCATION)
                .context("redirect without Location")?
                .to_str()?
                .to_owned();
            if location.starts_with(&args.redirect_uri) {
                let back = Url::parse(&location)?;
                let Some((_, code)) = back.query_pairs().find(|(k, _)| k == "code") else {
                    bail!("redirected back without a code: {location}");
                };
                return Ok(Done {
                    code: Some(code.into_owned()),
                    total: started.elapsed(),
                    confirm,
                });
            }
            let next = url.join(&location)?;
            (url, response) = browser.get(next).await?;
            continue;
        }
        let status = response.status();
        let page = response.text().await?;
        let Some((action, csrf)) = form_of(&page).filter(|_| status == StatusCode::OK) else {
            bail!(
                "{status} at {url}: {}",
                page.chars().take(200).collect::<String>()
            );
        };
        let action = url.join(&action)?;
        if action.path().ends_with("/consent") {
            (url, response) = browser
                .post(action, &[("csrf", &csrf), ("decision", "allow")])
                .await?;
            continue;
        }
        // The JID form: send the XEP-0070 request.
        let jid = args
            .jid
            .replace("{i}", &index.to_string())
            .replace("{w}", &worker.to_string());
        let sent_at = Instant::now();
        let (_, sent) = browser
            .post(action.clone(), &[("csrf", &csrf), ("jid", &jid)])
            .await?;
        if sent.status() != StatusCode::SEE_OTHER {
            bail!("JID form answered {}", sent.status());
        }
        if args.stop_after_send {
            return Ok(Done {
                code: None,
                total: started.elapsed(),
                confirm: None,
            });
        }
        // The wait page, as a browser follows the redirect to it.
        let (_, wait_page) = browser.get(action.clone()).await?;
        if wait_page.status() != StatusCode::OK {
            bail!("the wait page answered {}", wait_page.status());
        }
        wait_page.bytes().await?;
        wait_for_answer(&mut browser, &action).await?;
        confirm = Some(sent_at.elapsed());
        (url, response) = browser
            .post(
                Url::parse(&format!("{action}/continue"))?,
                &[("csrf", &csrf)],
            )
            .await?;
    }
    bail!("no code after 12 steps")
}

/// Asks the flow's status as the wait page does: the server answers when it is no longer
/// "sent" (a long poll), or unchanged after a while, and then it asks again.
async fn wait_for_answer(browser: &mut Browser<'_>, flow: &Url) -> anyhow::Result<()> {
    let status_url = Url::parse(&format!("{flow}/status?wait=sent"))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let (_, response) = browser.get(status_url.clone()).await?;
        let body: serde_json::Value = response.json().await?;
        match body["status"].as_str() {
            Some("sent") => {}
            Some("accepted") => return Ok(()),
            other => bail!("the confirmation ended as {other:?}"),
        }
    }
    bail!("no answer within 60 s")
}

fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Arc::new(Args::parse());
    let http = Client::builder()
        .redirect(redirect::Policy::none())
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(120))
        .build()?;
    let instances = Arc::new(Instances {
        bases: args.base.clone(),
        next: AtomicUsize::new(0),
    });
    let next = Arc::new(AtomicUsize::new(0));
    let first_error = Arc::new(Mutex::new(None::<String>));
    let started = Instant::now();
    let workers: Vec<_> = (0..args.concurrency.min(args.count))
        .map(|worker| {
            let (args, http, instances, next, first_error) = (
                args.clone(),
                http.clone(),
                instances.clone(),
                next.clone(),
                first_error.clone(),
            );
            tokio::spawn(async move {
                let mut done = Vec::new();
                let mut failed = 0;
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= args.count {
                        break;
                    }
                    let index = args.first + index;
                    match login(&args, &http, &instances, worker, index).await {
                        Ok(login) => done.push(login),
                        Err(e) => {
                            failed += 1;
                            first_error
                                .lock()
                                .expect("not poisoned")
                                .get_or_insert(format!("{e:#}"));
                        }
                    }
                }
                (done, failed)
            })
        })
        .collect();
    let mut logins = Vec::new();
    let mut failed = 0;
    for worker in workers {
        let (done, worker_failed) = worker.await?;
        logins.extend(done);
        failed += worker_failed;
    }
    let seconds = started.elapsed().as_secs_f64();

    if let Some(path) = &args.codes_out {
        let codes: Vec<&str> = logins.iter().filter_map(|l| l.code.as_deref()).collect();
        std::fs::write(path, codes.join("\n") + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let mut totals: Vec<Duration> = logins.iter().map(|l| l.total).collect();
    let mut confirms: Vec<Duration> = logins.iter().filter_map(|l| l.confirm).collect();
    totals.sort();
    confirms.sort();
    println!(
        "{}",
        json!({
            "logins": logins.len(),
            "failed": failed,
            "seconds": seconds,
            "per_sec": logins.len() as f64 / seconds,
            "p50_ms": percentile_ms(&totals, 0.50),
            "p99_ms": percentile_ms(&totals, 0.99),
            "confirm_p50_ms": percentile_ms(&confirms, 0.50),
            "confirm_p99_ms": percentile_ms(&confirms, 0.99),
            "first_error": *first_error.lock().expect("not poisoned"),
        })
    );
    Ok(())
}
