//! Per-tenant JWT signing keys: RS256 (the default, as OpenID Connect requires), ES256 and
//! EdDSA. Created with the tenant; private keys are encrypted at rest (compact JWE, `dir` +
//! `A256GCM`, under a key derived from the master key); rotation retires the current keys,
//! which stay in the JWKS for `retention` so that tokens they signed still verify. All
//! cryptography is josekit's (OpenSSL).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Duration, Utc};
use entity::signing_key;
use josekit::jwe::{Dir, JweHeader};
use josekit::jwk::Jwk;
use josekit::jwk::alg::ed::EdCurve;
use josekit::jws::{ES256, EdDSA, JwsHeader, JwsSigner, JwsVerifier, RS256};
use josekit::jwt::JwtPayload;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionSession, TransactionTrait,
};
use uuid::Uuid;

use crate::crypto::{self, SubKey};
use crate::error::{DomainError, DomainResult};
use crate::memo::Memo;

/// Signing algorithms Plinto publishes keys for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alg {
    Rs256,
    Es256,
    EdDsa,
}

impl Alg {
    pub const ALL: [Alg; 3] = [Alg::Rs256, Alg::Es256, Alg::EdDsa];

    pub fn as_str(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Es256 => "ES256",
            Alg::EdDsa => "EdDSA",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

fn jose(e: josekit::JoseError) -> DomainError {
    DomainError::internal(format!("jose: {e}"))
}

/// A new key pair as a private JWK (with `kid`, `alg`, `use`).
fn generate(alg: Alg, kid: &str) -> DomainResult<Jwk> {
    use josekit::jwk::KeyPair;
    let mut jwk = match alg {
        Alg::Rs256 => RS256
            .generate_key_pair(2048)
            .map_err(jose)?
            .to_jwk_key_pair(),
        Alg::Es256 => ES256.generate_key_pair().map_err(jose)?.to_jwk_key_pair(),
        Alg::EdDsa => EdDSA
            .generate_key_pair(EdCurve::Ed25519)
            .map_err(jose)?
            .to_jwk_key_pair(),
    };
    jwk.set_key_id(kid);
    jwk.set_algorithm(alg.as_str());
    jwk.set_key_use("sig");
    Ok(jwk)
}

/// Encrypt a secret for storage: compact JWE, `dir` + A256GCM under `key`.
pub fn encrypt(key: &SubKey, plaintext: &[u8]) -> DomainResult<String> {
    let mut header = JweHeader::new();
    header.set_content_encryption("A256GCM");
    let encrypter = Dir.encrypter_from_bytes(key.bytes()).map_err(jose)?;
    josekit::jwe::serialize_compact(plaintext, &header, &encrypter).map_err(jose)
}

/// Decrypt what [`encrypt`] stored.
pub fn decrypt(key: &SubKey, jwe: &str) -> DomainResult<Vec<u8>> {
    let decrypter = Dir.decrypter_from_bytes(key.bytes()).map_err(jose)?;
    let (plaintext, _) = josekit::jwe::deserialize_compact(jwe, &decrypter).map_err(jose)?;
    Ok(plaintext)
}

async fn create(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    enc: &SubKey,
    tenant_id: Uuid,
    alg: Alg,
) -> DomainResult<signing_key::Model> {
    let kid = crypto::random_token(12)?;
    let jwk = {
        let kid = kid.clone();
        // RSA key generation takes a while: not on the async executor.
        tokio::task::spawn_blocking(move || generate(alg, &kid))
            .await
            .map_err(DomainError::internal)??
    };
    // `to_public_key` keeps only the key material: label it again.
    let mut public = jwk.to_public_key().map_err(jose)?;
    public.set_key_id(&kid);
    public.set_algorithm(alg.as_str());
    public.set_key_use("sig");
    Ok(signing_key::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(tenant_id),
        kid: Set(kid),
        alg: Set(alg.as_str().to_string()),
        private_jwe: Set(encrypt(enc, jwk.to_string().as_bytes())?),
        public_jwk: Set(public.to_string()),
        created_at: Set(now),
        retired_at: Set(None),
    }
    .insert(db)
    .await?)
}

/// Give a new tenant one active key per algorithm.
pub async fn create_for_tenant(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    enc: &SubKey,
    tenant_id: Uuid,
) -> DomainResult<Vec<signing_key::Model>> {
    let mut keys = Vec::with_capacity(Alg::ALL.len());
    for alg in Alg::ALL {
        keys.push(create(db, now, enc, tenant_id, alg).await?);
    }
    Ok(keys)
}

/// Retire the tenant's active keys and make new ones, in one transaction. Returns
/// (new keys, retired keys).
pub async fn rotate<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
    enc: &SubKey,
    tenant_id: Uuid,
) -> DomainResult<(Vec<signing_key::Model>, Vec<signing_key::Model>)> {
    rotate_audited(db, now, enc, tenant_id, None).await
}

/// [`rotate`] by an operator: `keys.rotate` audited with the actor in the same transaction.
pub async fn rotate_by_operator<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
    enc: &SubKey,
    tenant: &entity::tenant::Model,
    actor: &str,
    meta: &crate::audit::RequestMeta,
) -> DomainResult<(Vec<signing_key::Model>, Vec<signing_key::Model>)> {
    let event =
        crate::audit::Event::new(crate::audit::actions::KEYS_ROTATE, actor.to_string(), meta)
            .tenant(tenant.id)
            .target(format!("tenant:{}", tenant.slug));
    rotate_audited(db, now, enc, tenant.id, Some(event)).await
}

async fn rotate_audited<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
    enc: &SubKey,
    tenant_id: Uuid,
    event: Option<crate::audit::Event<'_>>,
) -> DomainResult<(Vec<signing_key::Model>, Vec<signing_key::Model>)> {
    let txn = crate::db::begin(db).await?;
    let retired = active(&txn, tenant_id).await?;
    signing_key::Entity::update_many()
        .col_expr(signing_key::Column::RetiredAt, Expr::value(now))
        .filter(signing_key::Column::TenantId.eq(tenant_id))
        .filter(signing_key::Column::RetiredAt.is_null())
        .exec(&txn)
        .await?;
    let new = create_for_tenant(&txn, now, enc, tenant_id).await?;
    if let Some(event) = event {
        crate::audit::record(&txn, now, event).await?;
    }
    txn.commit().await?;
    Ok((new, retired))
}

/// The tenant's active keys (one per algorithm).
pub async fn active(
    db: &impl ConnectionTrait,
    tenant_id: Uuid,
) -> DomainResult<Vec<signing_key::Model>> {
    Ok(signing_key::Entity::find()
        .filter(signing_key::Column::TenantId.eq(tenant_id))
        .filter(signing_key::Column::RetiredAt.is_null())
        .order_by_desc(signing_key::Column::CreatedAt)
        .all(db)
        .await?)
}

/// Every key still published: the active ones and those retired less than `retention` ago,
/// newest first.
pub async fn published(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    tenant_id: Uuid,
    retention: Duration,
) -> DomainResult<Vec<signing_key::Model>> {
    use sea_orm::Condition;
    Ok(signing_key::Entity::find()
        .filter(signing_key::Column::TenantId.eq(tenant_id))
        .filter(
            Condition::any()
                .add(signing_key::Column::RetiredAt.is_null())
                .add(signing_key::Column::RetiredAt.gt(now - retention)),
        )
        .order_by_desc(signing_key::Column::CreatedAt)
        .all(db)
        .await?)
}

/// The JWK Set document (RFC 7517 §5) of the published keys.
pub fn jwks(keys: &[signing_key::Model]) -> DomainResult<serde_json::Value> {
    let keys = keys
        .iter()
        .map(|k| serde_json::from_str::<serde_json::Value>(&k.public_jwk))
        .collect::<Result<Vec<_>, _>>()
        .map_err(DomainError::internal)?;
    Ok(serde_json::json!({ "keys": keys }))
}

/// Decrypted signers and parsed verifiers, by key row id (keys never change once written, so
/// these never go stale), and each tenant's published keys, read again after the read-cache
/// TTL (see [`crate::memo`]).
#[derive(Clone)]
pub struct KeyCache {
    signers: Arc<RwLock<HashMap<Uuid, Arc<dyn JwsSigner>>>>,
    verifiers: Arc<RwLock<HashMap<Uuid, Arc<dyn JwsVerifier>>>>,
    published: Arc<Memo<Uuid, Arc<Published>>>,
}

/// A tenant's published keys as read at one moment, and their JWK Set document.
#[derive(Debug)]
pub struct Published {
    pub keys: Vec<signing_key::Model>,
    /// The JWK Set document, shared without copying.
    pub jwks: bytes::Bytes,
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyCache")
    }
}

fn signer_for(alg: Alg, jwk: &Jwk) -> DomainResult<Arc<dyn JwsSigner>> {
    Ok(match alg {
        Alg::Rs256 => Arc::new(RS256.signer_from_jwk(jwk).map_err(jose)?),
        Alg::Es256 => Arc::new(ES256.signer_from_jwk(jwk).map_err(jose)?),
        Alg::EdDsa => Arc::new(EdDSA.signer_from_jwk(jwk).map_err(jose)?),
    })
}

/// A verifier for a public JWK of one of the algorithms Plinto knows (also used for clients'
/// keys in `private_key_jwt`). `None` for any other algorithm.
pub fn verifier_for(alg: &str, jwk: &Jwk) -> Option<Arc<dyn JwsVerifier>> {
    use josekit::jws::{ES384, PS256, RS384, RS512};
    let v: Arc<dyn JwsVerifier> = match alg {
        "RS256" => Arc::new(RS256.verifier_from_jwk(jwk).ok()?),
        "RS384" => Arc::new(RS384.verifier_from_jwk(jwk).ok()?),
        "RS512" => Arc::new(RS512.verifier_from_jwk(jwk).ok()?),
        "PS256" => Arc::new(PS256.verifier_from_jwk(jwk).ok()?),
        "ES256" => Arc::new(ES256.verifier_from_jwk(jwk).ok()?),
        "ES384" => Arc::new(ES384.verifier_from_jwk(jwk).ok()?),
        "EdDSA" => Arc::new(EdDSA.verifier_from_jwk(jwk).ok()?),
        _ => return None,
    };
    Some(v)
}

impl KeyCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            signers: Default::default(),
            verifiers: Default::default(),
            published: Arc::new(Memo::new(1_000, ttl)),
        }
    }

    /// The tenant's published keys (see [`published`]), from memory while fresh.
    pub async fn published(
        &self,
        db: &impl ConnectionTrait,
        now: DateTime<Utc>,
        tenant_id: Uuid,
        retention: Duration,
    ) -> DomainResult<Arc<Published>> {
        let found = self
            .published
            .get_or_load(&tenant_id, now, || async {
                let keys = published(db, now, tenant_id, retention).await?;
                let jwks = bytes::Bytes::from(jwks(&keys)?.to_string());
                Ok::<_, DomainError>(Some(Arc::new(Published { keys, jwks })))
            })
            .await?;
        found.ok_or(DomainError::NotFound("signing keys"))
    }

    fn signer(&self, enc: &SubKey, key: &signing_key::Model) -> DomainResult<Arc<dyn JwsSigner>> {
        if let Ok(map) = self.signers.read()
            && let Some(s) = map.get(&key.id)
        {
            return Ok(s.clone());
        }
        let alg = Alg::parse(&key.alg).ok_or(DomainError::internal("unknown key algorithm"))?;
        let jwk = Jwk::from_bytes(decrypt(enc, &key.private_jwe)?).map_err(jose)?;
        let signer = signer_for(alg, &jwk)?;
        if let Ok(mut map) = self.signers.write() {
            map.insert(key.id, signer.clone());
        }
        Ok(signer)
    }

    fn verifier(&self, key: &signing_key::Model) -> DomainResult<Arc<dyn JwsVerifier>> {
        if let Ok(map) = self.verifiers.read()
            && let Some(v) = map.get(&key.id)
        {
            return Ok(v.clone());
        }
        let jwk = Jwk::from_bytes(key.public_jwk.as_bytes()).map_err(jose)?;
        let verifier = verifier_for(&key.alg, &jwk).ok_or(DomainError::internal(
            "cannot build a verifier for a signing key",
        ))?;
        if let Ok(mut map) = self.verifiers.write() {
            map.insert(key.id, verifier.clone());
        }
        Ok(verifier)
    }
}

/// How long after its creation a new key waits before it signs, for a read-cache TTL of `ttl`.
/// Every node publishes a new key at most `ttl` after the rotation commits (its cached key set
/// expires by then); the commit itself comes after `created_at` by the time key generation
/// and the transaction took, and nodes' clocks differ a little. So the wait is `ttl` plus a
/// margin of half of it, at least 5 s, that covers both: a node never signs with a key that
/// another node's JWKS still lacks. With `ttl` 0 every request reads the keys, and a key is
/// published the moment it commits.
pub fn signing_delay(ttl: Duration) -> Duration {
    if ttl <= Duration::zero() {
        return Duration::zero();
    }
    ttl + (ttl / 2).max(Duration::seconds(5))
}

/// The key that signs for `alg` now: the newest published key created at least `delay`
/// ([`signing_delay`]) ago, so that no node hands out a token whose key another node's JWKS
/// lacks. After `rotate`, the retired key goes on signing for `delay`; a new tenant's keys
/// sign at once.
fn signing_key(
    keys: &[signing_key::Model],
    alg: Alg,
    now: DateTime<Utc>,
    delay: Duration,
) -> Option<&signing_key::Model> {
    let of_alg = || keys.iter().filter(|k| k.alg == alg.as_str());
    of_alg()
        .filter(|k| k.created_at <= now - delay)
        .max_by_key(|k| k.created_at)
        .or_else(|| {
            of_alg()
                .filter(|k| k.retired_at.is_none())
                .max_by_key(|k| k.created_at)
        })
}

/// What locates a tenant's keys: the tenant, the clock, how long retired keys stay published.
#[derive(Clone, Copy, Debug)]
pub struct KeyScope {
    pub tenant_id: Uuid,
    pub now: DateTime<Utc>,
    pub retention: Duration,
}

/// Sign `claims` as a JWT with the tenant's current key for `alg` (see [`signing_key`]); the
/// header carries `kid` and `typ`.
pub async fn sign(
    db: &impl ConnectionTrait,
    cache: &KeyCache,
    enc: &SubKey,
    scope: KeyScope,
    alg: Alg,
    typ: &str,
    claims: serde_json::Map<String, serde_json::Value>,
) -> DomainResult<String> {
    let keys = cache
        .published(db, scope.now, scope.tenant_id, scope.retention)
        .await?;
    let key = signing_key(
        &keys.keys,
        alg,
        scope.now,
        signing_delay(cache.published.ttl()),
    )
    .ok_or(DomainError::NotFound("signing key"))?;
    let signer = cache.signer(enc, key)?;
    let mut header = JwsHeader::new();
    header.set_token_type(typ);
    header.set_key_id(&key.kid);
    let payload = JwtPayload::from_map(claims).map_err(jose)?;
    josekit::jwt::encode_with_signer(&payload, &header, signer.as_ref()).map_err(jose)
}

/// A JWT Plinto signed for this tenant: its header and claims once the signature checks
/// against a published key (active, or retired less than `retention` ago). `None` for anything
/// else: malformed, unknown `kid`, wrong algorithm, bad signature. Expiry, audience and type
/// are the caller's to check.
pub async fn verify(
    db: &impl ConnectionTrait,
    cache: &KeyCache,
    scope: KeyScope,
    jwt: &str,
) -> DomainResult<Option<(JwsHeader, serde_json::Map<String, serde_json::Value>)>> {
    let Ok(header) = josekit::jwt::decode_header(jwt) else {
        return Ok(None);
    };
    let (Some(serde_json::Value::String(kid)), Some(serde_json::Value::String(alg))) =
        (header.claim("kid"), header.claim("alg"))
    else {
        return Ok(None);
    };
    let keys = cache
        .published(db, scope.now, scope.tenant_id, scope.retention)
        .await?;
    let Some(key) = keys.keys.iter().find(|k| k.kid == *kid && k.alg == *alg) else {
        return Ok(None);
    };
    if key
        .retired_at
        .is_some_and(|r| r <= scope.now - scope.retention)
    {
        return Ok(None);
    }
    let verifier = cache.verifier(key)?;
    match josekit::jwt::decode_with_verifier(jwt, verifier.as_ref()) {
        Ok((payload, header)) => Ok(Some((header, payload.claims_set().clone()))),
        Err(_) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MasterKey;

    #[test]
    fn private_keys_round_trip_through_encryption_and_fail_under_another_key() {
        let master = MasterKey::from_base64(&"A".repeat(43)).unwrap();
        let enc = master.derive("keys");
        let jwk = generate(Alg::Es256, "k1").unwrap();
        let sealed = encrypt(&enc, jwk.to_string().as_bytes()).unwrap();
        assert!(!sealed.contains("\"d\""), "the private key is not in clear");
        assert_eq!(
            decrypt(&enc, &sealed).unwrap(),
            jwk.to_string().into_bytes()
        );
        assert!(decrypt(&master.derive("other"), &sealed).is_err());
    }
}
