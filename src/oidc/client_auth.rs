//! Client authentication at the token, revocation and introspection endpoints:
//! `client_secret_basic` and `client_secret_post` for every confidential client (RPs differ
//! in which they pick), `none` for public clients.

use std::net::IpAddr;
use std::time::Instant;

use axum::http::{header, HeaderMap};
use base64::Engine;

use super::error::{ErrorCode, OAuthError};
use super::params::Params;
use crate::state::{AppState, LookupError};
use crate::store::clients::{burn_secret_check, Client};

/// Longer client ids and secrets are malformed: they would become keys of the
/// failed-authentication brake (memory an attacker controls).
pub const MAX_CREDENTIAL_LEN: usize = 255;

/// HTTP Basic credentials, form-decoded as RFC 6749 §2.3.1 says; `None` when malformed or
/// longer than [`MAX_CREDENTIAL_LEN`].
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let form_decode = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    let (id, secret) = (form_decode(id)?, form_decode(secret)?);
    (id.len() <= MAX_CREDENTIAL_LEN && secret.len() <= MAX_CREDENTIAL_LEN).then_some((id, secret))
}

fn invalid_client(
    description: impl Into<std::borrow::Cow<'static, str>>,
    basic: bool,
) -> OAuthError {
    OAuthError {
        basic_challenge: basic,
        ..OAuthError::new(ErrorCode::InvalidClient, description)
    }
}

/// Authenticates the calling client by whichever single method it used. Failures from
/// one address are braked (secret brute force); a braked caller gets 429.
pub async fn authenticate(
    app: &AppState,
    headers: &HeaderMap,
    params: &Params,
    ip: IpAddr,
) -> Result<Client, OAuthError> {
    let key = params
        .get("client_id")
        .map(str::to_owned)
        .or_else(|| basic_credentials(headers).map(|(id, _)| id))
        .unwrap_or_default();
    if key.len() > MAX_CREDENTIAL_LEN {
        // RFC 6749 §5.2: a client that sent an Authorization header gets the challenge.
        let basic = headers.contains_key(header::AUTHORIZATION);
        return Err(invalid_client("client_id is too long", basic));
    }
    if let Some(wait) = app.auth_failures().wait(&key, ip, Instant::now()) {
        return Err(OAuthError {
            retry_after: Some(wait.as_secs().max(1)),
            ..OAuthError::new(
                ErrorCode::InvalidClient,
                "too many failed client authentications; try again later",
            )
        });
    }
    let result = verify(app, headers, params).await;
    if matches!(&result, Err(e) if e.code == ErrorCode::InvalidClient) {
        app.auth_failures().record(&key, ip, Instant::now());
    }
    result
}

async fn verify(
    app: &AppState,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Client, OAuthError> {
    let uses_basic = headers.contains_key(header::AUTHORIZATION);
    let basic = basic_credentials(headers);
    if uses_basic && basic.is_none() {
        return Err(invalid_client("malformed HTTP Basic credentials", true));
    }
    let (client_id, secret) = match (basic, params.get("client_secret")) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_request(
                "use one client authentication method, not both HTTP Basic and client_secret",
            ))
        }
        (Some((id, secret)), None) => {
            if params.get("client_id").is_some_and(|body_id| body_id != id) {
                return Err(OAuthError::invalid_request(
                    "client_id differs from the HTTP Basic user",
                ));
            }
            (id, Some(secret))
        }
        (None, secret) => match params.get("client_id") {
            Some(id) => (id.to_owned(), secret.map(str::to_owned)),
            None => return Err(invalid_client("client authentication required", true)),
        },
    };
    let found = match app.registered_client(&client_id).await {
        Ok(found) => found,
        Err(LookupError::Document(why)) => return Err(invalid_client(why.to_string(), uses_basic)),
        Err(LookupError::Database(e)) => return Err(e.into()),
    };
    let Some(client) = found else {
        if let Some(secret) = &secret {
            burn_secret_check(secret);
        }
        return Err(invalid_client("unknown client or wrong secret", uses_basic));
    };
    match (client.settings.public, secret) {
        (false, Some(secret)) if client.secret_matches(&secret) => Ok(client),
        (false, _) => Err(invalid_client("unknown client or wrong secret", uses_basic)),
        (true, None) => Ok(client),
        (true, Some(_)) => Err(invalid_client(
            "this client is public: it has no secret",
            uses_basic,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    proptest::proptest! {
        #[test]
        fn any_authorization_header_is_parsed_or_refused(value in "\\PC{0,200}", raw in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let mut headers = HeaderMap::new();
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(header::AUTHORIZATION, value);
                let _ = basic_credentials(&headers);
            }
            let encoded = base64::engine::general_purpose::STANDARD.encode(&raw);
            headers.insert(header::AUTHORIZATION, HeaderValue::from_str(&format!("Basic {encoded}")).unwrap());
            if let Some((id, _)) = basic_credentials(&headers) {
                proptest::prop_assert!(!id.contains(':') || raw.contains(&b'%'));
            }
        }
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let mut headers = HeaderMap::new();
        let encoded = base64::engine::general_purpose::STANDARD.encode("my%20id:s3cr%3At");
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {encoded}")).unwrap(),
        );
        assert_eq!(
            basic_credentials(&headers),
            Some(("my id".into(), "s3cr:t".into()))
        );
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(basic_credentials(&headers), None);
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!!"));
        assert_eq!(basic_credentials(&headers), None);
        // An id of 10 KB never becomes a key of the brake.
        let long = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:secret", "a".repeat(10_000)));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {long}")).unwrap(),
        );
        assert_eq!(basic_credentials(&headers), None);
    }
}
