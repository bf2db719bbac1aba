//! The command line. `main.rs` only calls [`run`].

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use sqlx::Postgres;

use crate::clock::Clock;
use crate::config::{Config, CONFIG_ENV};
use crate::keys::SigningAlg;
use crate::startup::{shutdown_signal, Application};
use crate::store::clients::{
    expand_grant_type, Client, ClientSettings, NewCredentials, GRANT_TYPES,
};
use crate::store::connections::Connections;
use crate::store::Store;

#[derive(Parser)]
#[command(
    name = "jidconnect",
    version,
    about = "OpenID Connect provider with logins confirmed over XMPP"
)]
pub struct Cli {
    /// The TOML configuration file (see config.example.toml).
    #[arg(long, short, global = true, env = CONFIG_ENV)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the provider.
    Serve,
    /// Check the configuration and print it (secrets hidden).
    CheckConfig,
    /// Manage registered clients (relying parties).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage access groups, which clients' `--allow group:NAME` names.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Manage ID token signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Log in to XMPP as a (demo) user and answer confirmation requests from the terminal,
    /// or send the login code typed there (the send-the-code way). Needs no configuration
    /// file.
    DemoUser {
        #[arg(long, default_value = "demo@localhost")]
        jid: String,
        #[arg(long, default_value = "demo")]
        password: String,
        /// host:port of the XMPP server's client port.
        #[arg(long, default_value = "127.0.0.1:5222")]
        server: String,
        /// Answer every request without asking.
        #[arg(long, value_enum)]
        auto: Option<crate::demo_user::AutoAnswer>,
        /// With --auto: seconds to wait before answering.
        #[arg(long, default_value_t = 0)]
        answer_after: u64,
        /// The login service's JID, to which a login code typed on the terminal is sent.
        #[arg(long, default_value = "auth.localhost")]
        service: String,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Add a new signing key per algorithm; the old ones stay published until the tokens
    /// they signed have expired. Restart (or reload) the server to start using them.
    Rotate,
    /// List the published keys.
    List,
}

/// Client options shared by `add` and `update`.
#[derive(clap::Args)]
struct ClientOptions {
    /// An exact post-logout redirect URI; repeat for several.
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// Scopes the client may get (repeat, or space-separated); default: all supported.
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// ID token signing algorithm: RS256 (default), ES256 or EdDSA.
    #[arg(long, value_parser = parse_alg)]
    id_token_alg: Option<SigningAlg>,
    /// Who may log in: a bare JID, a domain (every JID on it) or group:NAME; repeat for
    /// several. None: anyone.
    #[arg(long = "allow")]
    allow: Vec<String>,
    /// A grant type the client may use: authorization_code, refresh_token, device_code
    /// (RFC 8628, for TVs and command-line tools); repeat for several. Default:
    /// authorization_code and refresh_token. `update` replaces the list.
    #[arg(long = "grant-type", value_parser = parse_grant_type)]
    grant_types: Vec<String>,
    /// The language of the compat /auth API's XMPP requests when a call gives no `lang`
    /// (en, fr, es, ca, de, or any language in locales/); default: English.
    #[arg(long, value_parser = parse_language)]
    language: Option<String>,
}

/// A shipped language's tag (`fr-CA` is French).
fn parse_language(value: &str) -> Result<String, String> {
    crate::i18n::Lang::parse(value)
        .map(|lang| lang.tag().to_owned())
        .ok_or_else(|| {
            let shipped: Vec<&str> = crate::i18n::Lang::shipped().map(|l| l.tag()).collect();
            format!("not a shipped language; use one of {}", shipped.join(", "))
        })
}

/// `device_code` is short for RFC 8628's URN, which is also accepted.
fn parse_grant_type(value: &str) -> Result<String, String> {
    let full = expand_grant_type(value);
    if GRANT_TYPES.contains(&full) {
        Ok(full.to_owned())
    } else {
        Err("use authorization_code, refresh_token or device_code".into())
    }
}

fn normalize_patterns(patterns: &[String]) -> anyhow::Result<Vec<String>> {
    patterns
        .iter()
        .map(|p| {
            crate::access::normalize_pattern(p).map_err(|why| anyhow::anyhow!("--allow {why}"))
        })
        .collect()
}

fn normalize_members(members: &[String]) -> anyhow::Result<Vec<String>> {
    members
        .iter()
        .map(|m| {
            crate::access::normalize_member(m).map_err(|why| anyhow::anyhow!("--member {why}"))
        })
        .collect()
}

#[derive(Subcommand)]
enum GroupCommand {
    /// Create a group.
    Add {
        name: String,
        /// A member's bare JID; repeat for several.
        #[arg(long = "member")]
        members: Vec<String>,
    },
    /// Replace a group's members.
    Update {
        name: String,
        #[arg(long = "member")]
        members: Vec<String>,
    },
    /// List the groups and their members.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one group.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a group (clients that allow it then allow nobody through it).
    Remove { name: String },
}

fn parse_alg(s: &str) -> Result<SigningAlg, String> {
    SigningAlg::parse(s).ok_or_else(|| "use RS256, ES256 or EdDSA".to_owned())
}

fn split_scopes(scopes: &[String]) -> Vec<String> {
    scopes
        .iter()
        .flat_map(|s| s.split_whitespace())
        .map(str::to_owned)
        .collect()
}

#[derive(Subcommand)]
enum ClientCommand {
    /// Register a client; prints its id and (confidential clients) its secret, once.
    Add {
        #[arg(long)]
        name: String,
        /// An exact redirect URI; repeat for several. Required unless the client only
        /// uses --grant-type device_code.
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// A public client (no secret; PKCE required).
        #[arg(long)]
        public: bool,
        /// Trusted: no consent page.
        #[arg(long)]
        trusted: bool,
        /// Put the JID in the `email` claim (email_verified false), for Grafana and
        /// mozilla-django-oidc, which refuse logins without an email.
        #[arg(long)]
        jid_as_email: bool,
        /// Issue refresh tokens even without the offline_access scope.
        #[arg(long)]
        always_refresh: bool,
        #[command(flatten)]
        options: ClientOptions,
        #[arg(long)]
        json: bool,
    },
    /// Change a client; options not given stay as they are. Lists given replace the old ones.
    Update {
        client_id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// true: drop the secret; false: create one (printed once).
        #[arg(long)]
        public: Option<bool>,
        #[arg(long)]
        trusted: Option<bool>,
        #[arg(long)]
        jid_as_email: Option<bool>,
        #[arg(long)]
        always_refresh: Option<bool>,
        /// Remove all post-logout redirect URIs.
        #[arg(long)]
        clear_post_logout_redirect_uris: bool,
        /// Let anyone log in again (drops every --allow pattern).
        #[arg(long)]
        clear_allow: bool,
        #[command(flatten)]
        options: ClientOptions,
        #[arg(long)]
        json: bool,
    },
    /// List registered clients.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one client.
    Show {
        client_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a client.
    Remove { client_id: String },
    /// Replace a client's secret; the old one stops working at once.
    RotateSecret {
        client_id: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = || Config::load(cli.config.as_deref(), std::env::vars());
    match cli.command {
        Command::DemoUser {
            jid,
            password,
            server,
            auto,
            answer_after,
            service,
        } => {
            let jid =
                jid::BareJid::new(&jid).with_context(|| format!("{jid} is not a bare JID"))?;
            let service =
                jid::BareJid::new(&service).with_context(|| format!("{service} is not a JID"))?;
            let user = crate::demo_user::DemoUser {
                jid,
                password,
                server,
                auto,
                answer_after: std::time::Duration::from_secs(answer_after),
                service,
            };
            crate::demo_user::run(user).await
        }
        Command::Serve => {
            let config = config()?;
            crate::telemetry::init();
            let app = Application::build(config).await?;
            app.run_until_stopped(shutdown_signal()).await
        }
        Command::CheckConfig => {
            let config = config()?;
            let store = Store::connect(&config.database_url).await?;
            store
                .check_writable(Clock::system().now())
                .await
                .map_err(|e| anyhow::anyhow!("the database is not usable: {e}"))?;
            print!("{}", toml::to_string_pretty(&config)?);
            println!(
                "configuration OK; database reachable ({:?})",
                store.backend()
            );
            Ok(())
        }
        Command::Client(command) => {
            let config = config()?;
            let store = Store::connect(&config.database_url).await?;
            client_command(&store, command, &Clock::system()).await
        }
        Command::Group(command) => {
            let config = config()?;
            let store = Store::connect(&config.database_url).await?;
            group_command(&store, command, &Clock::system()).await
        }
        Command::Keys(KeysCommand::Rotate) => {
            let config = config()?;
            let now = Clock::system().now();
            let shared = shared_keys(&config, now).await?;
            let added = match &shared {
                Some((pool, _)) => crate::cluster::keys::rotate(pool, now).await?,
                None => crate::keys::rotate(&config.keys_dir, now)?,
            };
            for (alg, kid) in added {
                println!("new {} key {kid}", alg.as_str());
            }
            let ttl = config.oidc.id_token_ttl_secs;
            match shared {
                Some(_) => println!("every running instance signs with the new keys now; the old ones stay published for {ttl} s"),
                None => println!("jidconnect signs with the new keys within a minute (no restart needed); the old ones stay published for {ttl} s"),
            }
            Ok(())
        }
        Command::Keys(KeysCommand::List) => {
            let config = config()?;
            let now = Clock::system().now();
            let retention = config.oidc.id_token_ttl_secs as i64;
            let ring = match shared_keys(&config, now).await? {
                Some((_, ring)) => ring,
                None => crate::keys::KeyRing::load_or_create(&config.keys_dir, now, retention)?,
            };
            for (kid, alg, created) in ring.published() {
                println!("{kid}\t{}\tcreated {created}", alg.as_str());
            }
            Ok(())
        }
    }
}

/// With PostgreSQL the keys live in the database, shared by every instance (imported
/// from `keys_dir` if this is the first time), with the pool that reached them; `None` for
/// SQLite, whose keys are files.
async fn shared_keys(
    config: &Config,
    now: i64,
) -> anyhow::Result<Option<(Connections<Postgres>, crate::keys::KeyRing)>> {
    let store = Store::connect(&config.database_url).await?;
    if store.backend() != crate::store::Backend::Postgres {
        return Ok(None);
    }
    let pool = Connections::new(sqlx::PgPool::connect(&config.database_url).await?, None);
    // An operator's rotate is the deliberate way past lost keys: never refuse it.
    let ring = crate::cluster::keys::load_or_import(
        &pool,
        &config.keys_dir,
        now,
        config.oidc.id_token_ttl_secs as i64,
        false,
    )
    .await?;
    Ok(Some((pool, ring)))
}

async fn client_command(
    store: &Store,
    command: ClientCommand,
    clock: &Clock,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match command {
        ClientCommand::Add {
            name,
            redirect_uris,
            public,
            trusted,
            jid_as_email,
            always_refresh,
            options,
            json,
        } => {
            let mut settings = ClientSettings {
                public,
                trusted,
                jid_as_email,
                always_refresh,
                post_logout_redirect_uris: options.post_logout_redirect_uris,
                allowed_scopes: split_scopes(&options.scopes),
                id_token_alg: options.id_token_alg.unwrap_or(SigningAlg::RS256),
                allow: normalize_patterns(&options.allow)?,
                language: options.language,
                ..ClientSettings::new(name, redirect_uris)
            };
            if !options.grant_types.is_empty() {
                settings.grant_types = options.grant_types;
            }
            warn_about(&settings);
            let creds = store.add_client(settings, clock.now()).await?;
            print_credentials(&mut out, &creds, json)?;
        }
        ClientCommand::Update {
            client_id,
            name,
            redirect_uris,
            public,
            trusted,
            jid_as_email,
            always_refresh,
            clear_post_logout_redirect_uris,
            clear_allow,
            options,
            json,
        } => {
            let client = store
                .client(&client_id)
                .await?
                .with_context(|| format!("no client with id {client_id}"))?;
            let mut settings = client.settings;
            if let Some(name) = name {
                settings.name = name;
            }
            if !redirect_uris.is_empty() {
                settings.redirect_uris = redirect_uris;
            }
            if clear_post_logout_redirect_uris {
                settings.post_logout_redirect_uris.clear();
            }
            if !options.post_logout_redirect_uris.is_empty() {
                settings.post_logout_redirect_uris = options.post_logout_redirect_uris;
            }
            if !options.scopes.is_empty() {
                settings.allowed_scopes = split_scopes(&options.scopes);
            }
            if clear_allow {
                settings.allow.clear();
            }
            if !options.allow.is_empty() {
                settings.allow = normalize_patterns(&options.allow)?;
            }
            if !options.grant_types.is_empty() {
                settings.grant_types = options.grant_types;
            }
            settings.id_token_alg = options.id_token_alg.unwrap_or(settings.id_token_alg);
            if options.language.is_some() {
                settings.language = options.language;
            }
            settings.public = public.unwrap_or(settings.public);
            settings.trusted = trusted.unwrap_or(settings.trusted);
            settings.jid_as_email = jid_as_email.unwrap_or(settings.jid_as_email);
            settings.always_refresh = always_refresh.unwrap_or(settings.always_refresh);
            warn_about(&settings);
            match store.update_client(&client_id, settings).await? {
                Some(creds) => print_credentials(&mut out, &creds, json)?,
                None => {
                    let client = store.client(&client_id).await?.context("client vanished")?;
                    if json {
                        serde_json::to_writer_pretty(&mut out, &client)?;
                        writeln!(out)?;
                    } else {
                        print_client(&mut out, &client)?;
                    }
                }
            }
        }
        ClientCommand::List { json } => {
            let clients = store.clients().await?;
            if json {
                serde_json::to_writer_pretty(&mut out, &clients)?;
                writeln!(out)?;
            } else {
                for client in &clients {
                    let kind = if client.settings.public {
                        "public"
                    } else {
                        "confidential"
                    };
                    writeln!(
                        out,
                        "{}\t{}\t{kind}",
                        client.client_id, client.settings.name
                    )?;
                }
            }
        }
        ClientCommand::Show { client_id, json } => {
            let client = store
                .client(&client_id)
                .await?
                .with_context(|| format!("no client with id {client_id}"))?;
            if json {
                serde_json::to_writer_pretty(&mut out, &client)?;
                writeln!(out)?;
            } else {
                print_client(&mut out, &client)?;
            }
        }
        ClientCommand::Remove { client_id } => {
            store.remove_client(&client_id).await?;
            writeln!(out, "removed client {client_id}")?;
        }
        ClientCommand::RotateSecret { client_id, json } => {
            let creds = store.rotate_client_secret(&client_id).await?;
            print_credentials(&mut out, &creds, json)?;
        }
    }
    Ok(())
}

async fn group_command(store: &Store, command: GroupCommand, clock: &Clock) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match command {
        GroupCommand::Add { name, members } => {
            store
                .add_group(&name, &normalize_members(&members)?, clock.now())
                .await?;
            writeln!(out, "added group {name}")?;
        }
        GroupCommand::Update { name, members } => {
            store
                .set_group_members(&name, &normalize_members(&members)?)
                .await?;
            writeln!(out, "updated group {name}")?;
        }
        GroupCommand::List { json } => {
            let groups = store.groups().await?;
            if json {
                serde_json::to_writer_pretty(&mut out, &groups)?;
                writeln!(out)?;
            } else {
                for group in &groups {
                    writeln!(out, "{}\t{}", group.name, group.members.join(" "))?;
                }
            }
        }
        GroupCommand::Show { name, json } => {
            let group = store
                .group(&name)
                .await?
                .with_context(|| format!("no group named {name}"))?;
            if json {
                serde_json::to_writer_pretty(&mut out, &group)?;
                writeln!(out)?;
            } else {
                writeln!(out, "group:   {}", group.name)?;
                for member in &group.members {
                    writeln!(out, "member:  {member}")?;
                }
            }
        }
        GroupCommand::Remove { name } => {
            store.remove_group(&name).await?;
            writeln!(out, "removed group {name}")?;
        }
    }
    Ok(())
}

fn print_credentials(
    out: &mut impl Write,
    creds: &NewCredentials,
    json: bool,
) -> anyhow::Result<()> {
    if json {
        serde_json::to_writer(&mut *out, creds)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(out, "client_id:     {}", creds.client_id)?;
    match &creds.client_secret {
        Some(secret) => {
            writeln!(out, "client_secret: {secret}")?;
            writeln!(
                out,
                "(the secret is shown only now: store it in the relying party's configuration)"
            )?;
        }
        None => writeln!(out, "client_secret: none (public client: PKCE required)")?,
    }
    Ok(())
}

/// On standard error, so that `--json` output stays parseable.
fn warn_about(settings: &ClientSettings) {
    for warning in settings.warnings() {
        eprintln!("warning: {warning}");
    }
}

fn print_client(out: &mut impl Write, client: &Client) -> anyhow::Result<()> {
    let s = &client.settings;
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    writeln!(out, "client_id:       {}", client.client_id)?;
    writeln!(out, "name:            {}", s.name)?;
    let kind = if s.public { "public" } else { "confidential" };
    writeln!(out, "type:            {kind}")?;
    for uri in &s.redirect_uris {
        writeln!(out, "redirect_uri:    {uri}")?;
    }
    for uri in &s.post_logout_redirect_uris {
        writeln!(out, "post_logout_uri: {uri}")?;
    }
    writeln!(out, "trusted:         {}", yes_no(s.trusted))?;
    writeln!(out, "jid_as_email:    {}", yes_no(s.jid_as_email))?;
    writeln!(out, "always_refresh:  {}", yes_no(s.always_refresh))?;
    let scopes = if s.allowed_scopes.is_empty() {
        "all".to_owned()
    } else {
        s.allowed_scopes.join(" ")
    };
    writeln!(out, "scopes:          {scopes}")?;
    writeln!(out, "id_token_alg:    {}", s.id_token_alg.as_str())?;
    writeln!(out, "grant_types:     {}", s.grant_types.join(" "))?;
    writeln!(
        out,
        "language:        {}",
        s.language.as_deref().unwrap_or("en (default)")
    )?;
    if s.allow.is_empty() {
        writeln!(out, "allow:           anyone")?;
    }
    for pattern in &s.allow {
        writeln!(out, "allow:           {pattern}")?;
    }
    Ok(())
}
