//! ID token signing keys: files in `keys_dir`, created on first start, rotated by
//! `jidconnect keys rotate`, published in the JWKS while tokens they signed can be alive.
//!
//! Each key is a PKCS#8 PEM file named `<created unix time>-<alg>-<kid>.pem`. The newest key
//! of each algorithm signs; an older one stays published until its successor is older than
//! the retention (the ID token lifetime), then it is no longer loaded.
//!
//! Signing uses aws-lc-rs key pairs parsed once (`jsonwebtoken::encode` would parse the PEM
//! on every call); jsonwebtoken builds the public JWKs and verifies tokens.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use serde::Serialize;

use crate::random;

/// The algorithms ID tokens can be signed with; RS256 is the default (OIDC Discovery
/// requires it).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize, Serialize,
)]
pub enum SigningAlg {
    RS256,
    ES256,
    EdDSA,
}

impl SigningAlg {
    pub const ALL: [SigningAlg; 3] = [SigningAlg::RS256, SigningAlg::ES256, SigningAlg::EdDSA];

    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::RS256 => "RS256",
            SigningAlg::ES256 => "ES256",
            SigningAlg::EdDSA => "EdDSA",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    fn jwt_algorithm(self) -> Algorithm {
        match self {
            SigningAlg::RS256 => Algorithm::RS256,
            SigningAlg::ES256 => Algorithm::ES256,
            SigningAlg::EdDSA => Algorithm::EdDSA,
        }
    }

    fn generate_pkcs8(self) -> anyhow::Result<Vec<u8>> {
        let der = match self {
            SigningAlg::RS256 => {
                aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                    .ok()
                    .and_then(|k| k.as_der().ok())
                    .map(|d| d.as_ref().to_vec())
            }
            SigningAlg::ES256 => {
                EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
                    .ok()
                    .and_then(|k| k.to_pkcs8v1().ok())
                    .map(|d| d.as_ref().to_vec())
            }
            // PKCS#8 v1: the form jsonwebtoken reads Ed25519 keys in.
            SigningAlg::EdDSA => Ed25519KeyPair::generate()
                .ok()
                .and_then(|k| k.to_pkcs8v1().ok())
                .map(|d| d.as_ref().to_vec()),
        };
        der.with_context(|| format!("cannot generate a {} key", self.as_str()))
    }
}

enum Signer {
    Rsa(aws_lc_rs::rsa::KeyPair),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

struct SigningKey {
    kid: String,
    alg: SigningAlg,
    created: i64,
    signer: Signer,
    /// `base64url(header) + "."`, computed once.
    header_prefix: String,
    jwk: Jwk,
}

/// A private key as stored: a file in `keys_dir` or a row of the database.
pub struct StoredKey {
    pub kid: String,
    pub alg: SigningAlg,
    pub created: i64,
    /// PKCS#8 PEM.
    pub pem: String,
    /// Where it came from, for error messages.
    pub origin: String,
}

impl SigningKey {
    fn parse(stored: &StoredKey) -> anyhow::Result<Self> {
        let StoredKey {
            kid,
            alg,
            created,
            pem: text,
            origin,
        } = stored;
        let (alg, created) = (*alg, *created);
        let der = pem_body(text).with_context(|| format!("{origin} is not a PEM private key"))?;
        let bad =
            |why: String| anyhow::anyhow!("{origin} is not a valid {} key: {why}", alg.as_str());
        let (signer, encoding) = match alg {
            SigningAlg::RS256 => {
                let pair =
                    aws_lc_rs::rsa::KeyPair::from_pkcs8(&der).map_err(|e| bad(e.to_string()))?;
                if pair.public_modulus_len() < 256 {
                    bail!("{origin} is shorter than 2048 bits");
                }
                // jsonwebtoken's DER constructor wants PKCS#1; its PEM reader takes PKCS#8.
                let encoding =
                    EncodingKey::from_rsa_pem(text.as_bytes()).map_err(|e| bad(e.to_string()))?;
                (Signer::Rsa(pair), encoding)
            }
            SigningAlg::ES256 => (
                Signer::Ecdsa(
                    EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &der)
                        .map_err(|e| bad(e.to_string()))?,
                ),
                EncodingKey::from_ec_der(&der),
            ),
            SigningAlg::EdDSA => (
                Signer::Ed25519(
                    Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
                        .map_err(|e| bad(e.to_string()))?,
                ),
                EncodingKey::from_ed_der(&der),
            ),
        };
        let mut jwk = Jwk::from_encoding_key(&encoding, alg.jwt_algorithm())
            .map_err(|e| bad(e.to_string()))?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        jwk.common.key_algorithm = Some(match alg {
            SigningAlg::RS256 => KeyAlgorithm::RS256,
            SigningAlg::ES256 => KeyAlgorithm::ES256,
            SigningAlg::EdDSA => KeyAlgorithm::EdDSA,
        });
        let header = serde_json::json!({ "alg": alg.as_str(), "kid": kid, "typ": "JWT" });
        let header_prefix = format!("{}.", URL_SAFE_NO_PAD.encode(header.to_string()));
        Ok(Self {
            kid: kid.clone(),
            alg,
            created,
            signer,
            header_prefix,
            jwk,
        })
    }

    fn sign(&self, claims: &impl Serialize) -> anyhow::Result<String> {
        let payload = serde_json::to_vec(claims)?;
        let mut jws = String::with_capacity(self.header_prefix.len() + payload.len() * 4 / 3 + 400);
        jws.push_str(&self.header_prefix);
        URL_SAFE_NO_PAD.encode_string(&payload, &mut jws);
        let signature: Vec<u8> = match &self.signer {
            Signer::Rsa(pair) => {
                let mut sig = vec![0; pair.public_modulus_len()];
                pair.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    jws.as_bytes(),
                    &mut sig,
                )
                .map_err(|_| anyhow::anyhow!("RSA signing failed"))?;
                sig
            }
            Signer::Ecdsa(pair) => pair
                .sign(&SystemRandom::new(), jws.as_bytes())
                .map_err(|_| anyhow::anyhow!("ECDSA signing failed"))?
                .as_ref()
                .to_vec(),
            Signer::Ed25519(pair) => pair.sign(jws.as_bytes()).as_ref().to_vec(),
        };
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut jws);
        Ok(jws)
    }
}

fn pem_body(text: &str) -> Option<Vec<u8>> {
    let body: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN PRIVATE KEY-----"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

fn pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str("-----END PRIVATE KEY-----\n");
    out
}

/// A new key starts signing when a server next loads the keys, up to this long after it
/// was made; its predecessor stays published that much longer than the token lifetime.
pub const ACTIVATION_SLACK_SECS: i64 = 120;

/// The keys in use: the signing key per algorithm and every key still published.
pub struct KeyRing {
    keys: Vec<SigningKey>,
    active: BTreeMap<SigningAlg, usize>,
    jwks_json: String,
}

/// The keys in `dir`, newest first; files not named `<created>-<alg>-<kid>.pem` are ignored.
pub fn stored_keys_in(dir: &Path) -> anyhow::Result<Vec<StoredKey>> {
    let mut keys = Vec::new();
    for entry in
        fs::read_dir(dir).with_context(|| format!("cannot read keys_dir {}", dir.display()))?
    {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        let Some(stem) = name.strip_suffix(".pem") else {
            continue;
        };
        let mut parts = stem.splitn(3, '-');
        let (Some(created), Some(alg), Some(kid)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let (Ok(created), Some(alg)) = (created.parse(), SigningAlg::parse(alg)) else {
            continue;
        };
        let pem = fs::read_to_string(&path)
            .with_context(|| format!("cannot read signing key {}", path.display()))?;
        keys.push(StoredKey {
            kid: kid.to_owned(),
            alg,
            created,
            pem,
            origin: path.display().to_string(),
        });
    }
    keys.sort_by_key(|k| std::cmp::Reverse(k.created));
    Ok(keys)
}

/// A new key of `alg`: its kid and PKCS#8 PEM.
pub fn generate(alg: SigningAlg) -> anyhow::Result<(String, String)> {
    Ok((random::token(16), pem(&alg.generate_pkcs8()?)))
}

fn write_new_key(dir: &Path, alg: SigningAlg, now: i64) -> anyhow::Result<String> {
    let (kid, pem) = generate(alg)?;
    let path = dir.join(format!("{now:010}-{}-{kid}.pem", alg.as_str()));
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&path)
        .with_context(|| format!("cannot write signing key {}", path.display()))?;
    file.write_all(pem.as_bytes())?;
    file.sync_all()?;
    Ok(kid)
}

fn ensure_dir(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(dir)
            .with_context(|| format!("cannot create keys_dir {}", dir.display()))?;
    }
    refuse_if_others_can_read(dir)
}

/// Private keys that other users of the machine can read are not private: refuse them,
/// with the fix, rather than sign with them.
#[cfg(unix)]
fn refuse_if_others_can_read(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &Path| -> anyhow::Result<u32> {
        Ok(fs::metadata(path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .permissions()
            .mode())
    };
    if mode(dir)? & 0o007 != 0 {
        bail!(
            "keys_dir {dir} can be read by other users of this machine: its signing keys must \
             stay private. Fix it with `chmod 700 {dir}` (and `chmod 600 {dir}/*.pem`)",
            dir = dir.display()
        );
    }
    for entry in fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "pem") && mode(&path)? & 0o004 != 0 {
            bail!(
                "signing key {path} can be read by other users of this machine. Fix it with \
                 `chmod 600 {path}`",
                path = path.display()
            );
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn refuse_if_others_can_read(_: &Path) -> anyhow::Result<()> {
    Ok(())
}

/// Adds a new key for every algorithm; the old ones stay published for `retention_secs`.
pub fn rotate(dir: &Path, now: i64) -> anyhow::Result<Vec<(SigningAlg, String)>> {
    ensure_dir(dir)?;
    let newest = stored_keys_in(dir)?.first().map(|k| k.created).unwrap_or(0);
    // File names order keys by creation second; never let a new key sort before an old one.
    let now = now.max(newest + 1);
    SigningAlg::ALL
        .into_iter()
        .map(|alg| Ok((alg, write_new_key(dir, alg, now)?)))
        .collect()
}

impl KeyRing {
    /// Loads the keys in `dir`, creating one per algorithm on first start (an empty or
    /// missing `dir`). A `dir` that lacks some algorithm's key is an error, not a reason to
    /// make one: the lost key signed tokens that would stop verifying without a word.
    pub fn load_or_create(dir: &Path, now: i64, retention_secs: i64) -> anyhow::Result<Self> {
        ensure_dir(dir)?;
        let stored = stored_keys_in(dir)?;
        if stored.is_empty() {
            for alg in SigningAlg::ALL {
                write_new_key(dir, alg, now)?;
                tracing::info!(alg = alg.as_str(), dir = %dir.display(), "created signing key");
            }
            return Self::from_stored(stored_keys_in(dir)?, now, retention_secs);
        }
        let missing: Vec<&str> = SigningAlg::ALL
            .into_iter()
            .filter(|alg| !stored.iter().any(|k| k.alg == *alg))
            .map(SigningAlg::as_str)
            .collect();
        if !missing.is_empty() {
            bail!(
                "keys_dir {} has no {} key: was a file lost? Restore it from your backup; to start \
                 new keys on purpose, run `jidconnect keys rotate` (tokens signed with a lost key \
                 no longer verify)",
                dir.display(),
                missing.join(" or ")
            );
        }
        Self::from_stored(stored, now, retention_secs)
    }

    /// Whether `dir` holds no key at all (a first start, or a lost directory).
    pub fn none_in(dir: &Path) -> bool {
        stored_keys_in(dir).map(|k| k.is_empty()).unwrap_or(true)
    }

    /// The ring of `stored` keys: per algorithm the newest signs, and each older one is
    /// kept while its successor is younger than the retention.
    pub fn from_stored(
        mut stored: Vec<StoredKey>,
        now: i64,
        retention_secs: i64,
    ) -> anyhow::Result<Self> {
        stored.sort_by_key(|k| std::cmp::Reverse(k.created));
        let mut keys = Vec::new();
        let mut active = BTreeMap::new();
        for alg in SigningAlg::ALL {
            let mut successor_created: Option<i64> = None;
            for key in stored.iter().filter(|k| k.alg == alg) {
                if successor_created
                    .is_some_and(|s| now - s > retention_secs + ACTIVATION_SLACK_SECS)
                {
                    break;
                }
                if successor_created.is_none() {
                    active.insert(alg, keys.len());
                }
                successor_created = Some(key.created);
                keys.push(SigningKey::parse(key)?);
            }
        }
        let jwks = JwkSet {
            keys: keys.iter().map(|k| k.jwk.clone()).collect(),
        };
        Ok(Self {
            jwks_json: serde_json::to_string(&jwks)?,
            keys,
            active,
        })
    }

    /// Signs `claims` as a compact JWS with the current key of `alg`.
    pub fn sign(&self, alg: SigningAlg, claims: &impl Serialize) -> anyhow::Result<String> {
        let index = self
            .active
            .get(&alg)
            .with_context(|| format!("no {} signing key", alg.as_str()))?;
        self.keys[*index].sign(claims)
    }

    /// The public JWK Set, serialized once.
    pub fn jwks_json(&self) -> &str {
        &self.jwks_json
    }

    /// The key a token names in its `kid`, for verification (e.g. `id_token_hint`).
    pub fn decoding_key(&self, kid: &str) -> Option<(DecodingKey, Algorithm)> {
        let key = self.keys.iter().find(|k| k.kid == kid)?;
        let decoding = DecodingKey::from_jwk(&key.jwk).ok()?;
        Some((decoding, key.alg.jwt_algorithm()))
    }

    /// `(kid, alg, created)` of every published key, signing keys first.
    pub fn published(&self) -> Vec<(&str, SigningAlg, i64)> {
        self.keys
            .iter()
            .map(|k| (k.kid.as_str(), k.alg, k.created))
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use jsonwebtoken::{decode, decode_header, Validation};

    /// A keys_dir as jidconnect creates one: private to its owner (a temporary directory
    /// may be readable by others, which `load_or_create` refuses).
    pub(crate) fn private_tempdir() -> tempfile::TempDir {
        tempfile::Builder::new()
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .tempdir()
            .unwrap()
    }

    #[derive(Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Claims {
        sub: String,
        exp: i64,
    }

    #[test]
    fn creates_signs_verifies_and_rotates() {
        let dir = private_tempdir();
        let now = 1_900_000_000;
        let ring = KeyRing::load_or_create(dir.path(), now, 3600).unwrap();
        assert_eq!(ring.published().len(), 3);
        let jwks: serde_json::Value = serde_json::from_str(ring.jwks_json()).unwrap();
        assert!(jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["kid"].is_string() && k["use"] == "sig"));
        assert!(
            !ring.jwks_json().contains("\"d\""),
            "no private parts in the JWKS"
        );

        let claims = Claims {
            sub: "alice@example.org".into(),
            exp: 4_000_000_000,
        };
        for alg in SigningAlg::ALL {
            let token = ring.sign(alg, &claims).unwrap();
            let header = decode_header(&token).unwrap();
            let (key, algorithm) = ring.decoding_key(header.kid.as_deref().unwrap()).unwrap();
            assert_eq!(header.alg, algorithm);
            let mut validation = Validation::new(algorithm);
            validation.validate_aud = false;
            assert_eq!(
                decode::<Claims>(&token, &key, &validation).unwrap().claims,
                claims
            );
        }

        let old_rs = ring.published()[0].0.to_owned();
        rotate(dir.path(), now + 10).unwrap();
        // Within the retention both are published and the new one signs.
        let ring = KeyRing::load_or_create(dir.path(), now + 20, 3600).unwrap();
        assert_eq!(ring.published().len(), 6);
        let token = ring.sign(SigningAlg::RS256, &claims).unwrap();
        assert_ne!(decode_header(&token).unwrap().kid.unwrap(), old_rs);
        assert!(ring.decoding_key(&old_rs).is_some());
        // After it, the old keys are gone from the JWKS.
        let ring =
            KeyRing::load_or_create(dir.path(), now + 10 + 3601 + ACTIVATION_SLACK_SECS, 3600)
                .unwrap();
        assert_eq!(ring.published().len(), 3);
        assert!(ring.decoding_key(&old_rs).is_none());
    }

    #[test]
    fn a_lost_key_file_is_an_error_not_a_new_key() {
        let dir = private_tempdir();
        KeyRing::load_or_create(dir.path(), 1_900_000_000, 3600).unwrap();
        let ed25519 = stored_keys_in(dir.path())
            .unwrap()
            .into_iter()
            .find(|k| k.alg == SigningAlg::EdDSA)
            .unwrap();
        fs::remove_file(&ed25519.origin).unwrap();
        let err = KeyRing::load_or_create(dir.path(), 1_900_000_001, 3600)
            .err()
            .expect("refused");
        assert!(format!("{err:#}").contains("no EdDSA key"), "{err:#}");
        assert_eq!(
            stored_keys_in(dir.path()).unwrap().len(),
            2,
            "nothing was created"
        );
        rotate(dir.path(), 1_900_000_002).unwrap();
        assert!(KeyRing::load_or_create(dir.path(), 1_900_000_003, 3600).is_ok());
    }

    #[test]
    fn unreadable_or_broken_keys_are_clear_errors() {
        let dir = private_tempdir();
        KeyRing::load_or_create(dir.path(), 1, 10).unwrap();
        let broken = dir.path().join("0000000005-RS256-broken.pem");
        fs::write(&broken, "not a key").unwrap();
        fs::set_permissions(&broken, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        let err = KeyRing::load_or_create(dir.path(), 6, 10).err().unwrap();
        assert!(
            format!("{err:#}").contains("0000000005-RS256-broken.pem"),
            "{err:#}"
        );
    }
}
