//! The driver of the token endpoint's profile (docs/performance.md, "Where a code exchange
//! spends its time"): codes minted straight into the database, then redeemed one at a
//! time, so that a profiler attached to the server (callgrind, or a count of the SQL
//! statements it logs) sees only token requests, with no XMPP login around them.
//!
//!   profile_token mint --database-url sqlite://db --client-id ID --count 200 > codes
//!   profile_token redeem --base http://127.0.0.1:8080 --client-id ID --client-secret S \
//!       --codes codes > refresh_tokens
//!   profile_token refresh --base … --client-id ID --client-secret S --tokens refresh_tokens
//!
//! The codes are what the real flow stores (a grant, then a code for it; scope `openid`,
//! no PKCE, as the bench's trusted client), and each request is the bench's: HTTP Basic,
//! `authorization_code`, then `refresh_token` with the refresh token it returned.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use jidconnect::store::oidc::{NewCode, NewGrant};
use jidconnect::store::Store;

const REDIRECT_URI: &str = "http://127.0.0.1/cb";

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Writes `count` fresh codes to stdout, one a line.
    Mint {
        #[arg(long)]
        database_url: String,
        #[arg(long)]
        client_id: String,
        #[arg(long)]
        count: usize,
    },
    /// Redeems every code; writes the refresh tokens to stdout.
    Redeem {
        #[command(flatten)]
        endpoint: Endpoint,
        #[arg(long)]
        codes: PathBuf,
    },
    /// Spends every refresh token once.
    Refresh {
        #[command(flatten)]
        endpoint: Endpoint,
        #[arg(long)]
        tokens: PathBuf,
    },
}

#[derive(clap::Args)]
struct Endpoint {
    #[arg(long)]
    base: String,
    #[arg(long)]
    client_id: String,
    #[arg(long)]
    client_secret: String,
}

impl Endpoint {
    /// One request per line of `file`, in sequence; the refresh token of each answer.
    async fn post_each(
        &self,
        file: &PathBuf,
        form: impl Fn(&str) -> Vec<(&'static str, String)>,
    ) -> anyhow::Result<Vec<String>> {
        let http = reqwest::Client::new();
        let url = format!("{}/token", self.base);
        let mut refresh_tokens = Vec::new();
        for line in std::fs::read_to_string(file)?.lines() {
            let response = http
                .post(&url)
                .basic_auth(&self.client_id, Some(&self.client_secret))
                .form(&form(line))
                .send()
                .await?;
            let status = response.status();
            let body: serde_json::Value = response.json().await?;
            if !status.is_success() {
                bail!("{status}: {body}");
            }
            refresh_tokens.extend(body["refresh_token"].as_str().map(str::to_owned));
        }
        Ok(refresh_tokens)
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    match Args::parse().command {
        Command::Mint {
            database_url,
            client_id,
            count,
        } => {
            let store = Store::connect(&database_url).await?;
            let now = jidconnect::clock::Clock::system().now();
            for _ in 0..count {
                let grant = NewGrant {
                    client_id: &client_id,
                    subject: "bot@localhost",
                    scope: "openid",
                    nonce: None,
                    claims: None,
                    auth_time: now,
                    session_hash: None,
                };
                let code = NewCode {
                    redirect_uri: REDIRECT_URI,
                    code_challenge: None,
                    expires_at: now + 3600,
                };
                let issued = store
                    .grant_with_code(grant, code, None, now)
                    .await
                    .context("cannot store a code")?
                    .context("a code with no flow to finish is always stored")?;
                println!("{}", issued.code);
            }
        }
        Command::Redeem { endpoint, codes } => {
            let form = |code: &str| {
                vec![
                    ("grant_type", "authorization_code".to_owned()),
                    ("code", code.to_owned()),
                    ("redirect_uri", REDIRECT_URI.to_owned()),
                ]
            };
            for token in endpoint.post_each(&codes, form).await? {
                println!("{token}");
            }
        }
        Command::Refresh { endpoint, tokens } => {
            let form = |token: &str| {
                vec![
                    ("grant_type", "refresh_token".to_owned()),
                    ("refresh_token", token.to_owned()),
                ]
            };
            endpoint.post_each(&tokens, form).await?;
        }
    }
    Ok(())
}
