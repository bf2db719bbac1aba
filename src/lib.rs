pub mod config;
pub mod random;
pub mod xmpp;
