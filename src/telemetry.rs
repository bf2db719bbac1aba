//! Structured logs with `tracing`. `RUST_LOG` picks the level; `JIDCONNECT_LOG_FORMAT=json`
//! switches to JSON lines.

use tracing_subscriber::EnvFilter;

/// `json` here gives JSON lines (read before the config, and not a key of it).
pub const LOG_FORMAT_ENV: &str = "JIDCONNECT_LOG_FORMAT";

pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tokio_xmpp=warn,xmpp_parsers=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = if std::env::var(LOG_FORMAT_ENV).as_deref() == Ok("json") {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    // A second init (tests) keeps the first subscriber.
    let _ = result;
}
