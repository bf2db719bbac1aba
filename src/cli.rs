//! The command line. `main.rs` only calls [`run`].

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::{Config, CONFIG_ENV};
use crate::startup::{shutdown_signal, Application};
use crate::store::clients::{Client, NewClient, NewCredentials};
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
}

#[derive(Subcommand)]
enum ClientCommand {
    /// Register a client; prints its id and (confidential clients) its secret, once.
    Add {
        #[arg(long)]
        name: String,
        /// An exact redirect URI; repeat for several.
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// A public client (no secret; PKCE required).
        #[arg(long)]
        public: bool,
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
    let config = Config::load(cli.config.as_deref(), std::env::vars())?;
    match cli.command {
        Command::Serve => {
            crate::telemetry::init();
            let app = Application::build(config).await?;
            app.run_until_stopped(shutdown_signal()).await
        }
        Command::CheckConfig => {
            let store = Store::connect(&config.database_url).await?;
            println!("{config:#?}");
            println!(
                "configuration OK; database reachable ({:?})",
                store.backend()
            );
            Ok(())
        }
        Command::Client(command) => {
            let store = Store::connect(&config.database_url).await?;
            client_command(&store, command).await
        }
    }
}

async fn client_command(store: &Store, command: ClientCommand) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match command {
        ClientCommand::Add {
            name,
            redirect_uris,
            public,
            json,
        } => {
            let creds = store
                .add_client(NewClient {
                    name,
                    redirect_uris,
                    public,
                })
                .await?;
            print_credentials(&mut out, &creds, json)?;
        }
        ClientCommand::List { json } => {
            let clients = store.clients().await?;
            if json {
                serde_json::to_writer_pretty(&mut out, &clients)?;
                writeln!(out)?;
            } else {
                for client in &clients {
                    let kind = if client.public {
                        "public"
                    } else {
                        "confidential"
                    };
                    writeln!(out, "{}\t{}\t{kind}", client.client_id, client.name)?;
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

fn print_client(out: &mut impl Write, client: &Client) -> anyhow::Result<()> {
    writeln!(out, "client_id:     {}", client.client_id)?;
    writeln!(out, "name:          {}", client.name)?;
    writeln!(
        out,
        "type:          {}",
        if client.public {
            "public"
        } else {
            "confidential"
        }
    )?;
    for uri in &client.redirect_uris {
        writeln!(out, "redirect_uri:  {uri}")?;
    }
    Ok(())
}
