//! Checking `id_token_hint`: one of our own ID tokens (an expired one is fine), verified
//! with jsonwebtoken against the key its `kid` names. `alg=none` and algorithm swaps (such
//! as HS256 keyed with our public key) fail: the algorithm comes from our key, not the token.

use jsonwebtoken::{decode, decode_header, Validation};
use serde::Deserialize;
use serde_json::Value;

use super::Oidc;

#[derive(Debug, Clone, Deserialize)]
pub struct Hint {
    pub sub: String,
    aud: Value,
}

impl Hint {
    /// The client the token was issued to.
    pub fn client_id(&self) -> Option<&str> {
        match &self.aud {
            Value::String(aud) => Some(aud),
            Value::Array(auds) => auds.first().and_then(Value::as_str),
            _ => None,
        }
    }
}

pub fn verify(oidc: &Oidc, token: &str) -> Option<Hint> {
    let header = decode_header(token).ok()?;
    let (key, algorithm) = oidc.keys().decoding_key(header.kid.as_deref()?)?;
    if header.alg != algorithm {
        return None;
    }
    let mut validation = Validation::new(algorithm);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.set_issuer(&[&oidc.issuer]);
    validation.set_required_spec_claims(&["sub", "iss", "aud"]);
    decode::<Hint>(token, &key, &validation)
        .ok()
        .map(|data| data.claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KeyRing, SigningAlg};
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use serde_json::json;

    fn oidc() -> (tempfile::TempDir, std::sync::Arc<Oidc>) {
        let dir = crate::keys::tests::private_tempdir();
        let keys = KeyRing::load_or_create(dir.path(), 1_900_000_000, 3600).unwrap();
        (
            dir,
            Oidc::new("https://idp.example".into(), keys, &Default::default()),
        )
    }

    #[test]
    fn accepts_our_tokens_even_expired() {
        let (_dir, oidc) = oidc();
        let claims =
            json!({"iss": "https://idp.example", "sub": "alice@x.org", "aud": "c1", "exp": 1});
        for alg in SigningAlg::ALL {
            let token = oidc.keys().sign(alg, &claims).unwrap();
            let hint = verify(&oidc, &token).unwrap();
            assert_eq!(
                (hint.sub.as_str(), hint.client_id()),
                ("alice@x.org", Some("c1"))
            );
        }
    }

    #[test]
    fn refuses_forged_unsigned_and_foreign_tokens() {
        let (_dir, oidc) = oidc();
        let claims =
            json!({"iss": "https://idp.example", "sub": "alice@x.org", "aud": "c1", "exp": 1});
        let good = oidc.keys().sign(SigningAlg::RS256, &claims).unwrap();
        let kid = decode_header(&good).unwrap().kid.unwrap();
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        // alg=none
        let none_header = URL_SAFE_NO_PAD.encode(json!({"alg": "none", "kid": kid}).to_string());
        assert!(verify(&oidc, &format!("{none_header}.{payload}.")).is_none());
        // HS256 keyed with the public JWK's bytes
        let hs = jsonwebtoken::encode(
            &jsonwebtoken::Header {
                kid: Some(kid.clone()),
                ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
            },
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(oidc.keys().jwks_json().as_bytes()).unwrap(),
        )
        .unwrap();
        assert!(verify(&oidc, &hs).is_none());
        // A changed payload under a valid signature
        let parts: Vec<&str> = good.split('.').collect();
        let evil = URL_SAFE_NO_PAD.encode(
            json!({"iss": "https://idp.example", "sub": "mallory@x.org", "aud": "c1"}).to_string(),
        );
        assert!(verify(&oidc, &format!("{}.{evil}.{}", parts[0], parts[2])).is_none());
        // Another issuer
        let other = oidc
            .keys()
            .sign(
                SigningAlg::RS256,
                &json!({"iss": "https://evil.example", "sub": "a", "aud": "c1"}),
            )
            .unwrap();
        assert!(verify(&oidc, &other).is_none());
    }
}
