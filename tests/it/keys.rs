//! Signing keys: created with the tenant, published in the JWKS, encrypted at rest, rotated
//! by the CLI with the old keys kept until their retention ends.

use chrono::Duration;
use josekit::jwk::Jwk;
use josekit::jws::{ES256, EdDSA, RS256};
use plinto::keys::Alg;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

async fn jwks(s: &TestServer, tenant: &str) -> Vec<Value> {
    let res = reqwest::get(s.url(&format!("/t/{tenant}/oauth2/jwks")))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/jwk-set+json");
    let body: Value = res.json().await.unwrap();
    body["keys"].as_array().unwrap().clone()
}

/// Verify `jwt` against the published key its header names.
fn verify(jwt: &str, published: &[Value]) -> Value {
    let kid = jwt_kid(jwt);
    let key = published
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .expect("kid in the JWKS");
    let jwk = Jwk::from_bytes(key.to_string()).unwrap();
    let verifier: Box<dyn josekit::jws::JwsVerifier> = match key["alg"].as_str().unwrap() {
        "RS256" => Box::new(RS256.verifier_from_jwk(&jwk).unwrap()),
        "ES256" => Box::new(ES256.verifier_from_jwk(&jwk).unwrap()),
        "EdDSA" => Box::new(EdDSA.verifier_from_jwk(&jwk).unwrap()),
        other => panic!("unexpected alg {other}"),
    };
    let (payload, _) = josekit::jwt::decode_with_verifier(jwt, verifier.as_ref()).unwrap();
    Value::Object(payload.claims_set().clone())
}

async fn sign(s: &TestServer, alg: Alg) -> String {
    let t = plinto::tenants::find_by_slug(&s.state.db, "default")
        .await
        .unwrap()
        .unwrap();
    let claims = json!({ "iss": s.url("/t/default"), "sub": "someone" });
    plinto::keys::sign(
        &s.state.db,
        &s.state.key_cache,
        &s.state.keys.signing,
        s.state.key_scope(t.id),
        alg,
        "JWT",
        claims.as_object().unwrap().clone(),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tenant_publishes_one_public_key_per_algorithm() {
    let s = TestServer::start().await;
    let keys = jwks(&s, "default").await;
    let mut algs: Vec<&str> = keys.iter().map(|k| k["alg"].as_str().unwrap()).collect();
    algs.sort();
    assert_eq!(algs, ["ES256", "EdDSA", "RS256"]);
    for k in &keys {
        assert_eq!(k["use"], "sig");
        assert!(!k["kid"].as_str().unwrap().is_empty());
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(
                k.get(private).is_none(),
                "private parameter {private} published"
            );
        }
    }
    // Another tenant has keys of its own.
    s.create_tenant("acme", false).await;
    let acme = jwks(&s, "acme").await;
    assert!(
        acme.iter()
            .all(|a| keys.iter().all(|k| k["kid"] != a["kid"]))
    );

    // At rest, private keys are encrypted.
    use sea_orm::EntityTrait;
    for k in entity::signing_key::Entity::find()
        .all(&s.state.db)
        .await
        .unwrap()
    {
        assert_eq!(k.private_jwe.split('.').count(), 5, "a compact JWE");
        assert!(!k.private_jwe.contains("\"d\""));
    }

    let res = reqwest::get(s.url("/t/nope/oauth2/jwks")).await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_tokens_verify_against_the_jwks_and_survive_a_rotation() {
    let s = TestServer::start().await;
    let before = jwks(&s, "default").await;
    let mut old_tokens = vec![];
    for alg in Alg::ALL {
        let jwt = sign(&s, alg).await;
        assert_eq!(verify(&jwt, &before)["sub"], "someone");
        old_tokens.push(jwt);
    }

    let out = s.cli(&["keys", "rotate", "--tenant", "default"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rotated: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rotated["active"].as_array().unwrap().len(), 3);
    assert_eq!(rotated["retired"].as_array().unwrap().len(), 3);

    let new_kids: Vec<&str> = rotated["active"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    // Until every node has read the new keys (one read-cache TTL), the retired key goes on
    // signing and this node's JWKS may still be the one it read before.
    let jwt = sign(&s, Alg::Rs256).await;
    assert!(!new_kids.contains(&jwt_kid(&jwt).as_str()));
    verify(&jwt, &before);
    // (The CLI stamped the new keys with the real clock, a little ahead of the test clock.)
    s.clock.advance(Duration::seconds(
        s.state.config.read_cache_ttl_secs as i64 + 60,
    ));
    let after = jwks(&s, "default").await;
    assert_eq!(after.len(), 6, "old keys stay published");
    for jwt in &old_tokens {
        verify(jwt, &after);
    }
    // Then new tokens are signed by the new keys.
    let jwt = sign(&s, Alg::Rs256).await;
    verify(&jwt, &after);
    assert!(new_kids.iter().any(|k| jwt_kid(&jwt) == *k));

    // Once the retention has passed, only the new keys are published.
    s.clock.advance(Duration::hours(25));
    let later = jwks(&s, "default").await;
    assert_eq!(later.len(), 3);
    assert!(
        later
            .iter()
            .all(|k| new_kids.contains(&k["kid"].as_str().unwrap()))
    );

    let list: Value =
        serde_json::from_slice(&s.cli(&["keys", "list", "--tenant", "default"]).stdout).unwrap();
    assert!(list.as_array().unwrap().len() >= 3);
    assert!(
        s.audit_actions()
            .await
            .iter()
            .any(|(a, actor, _)| a == "keys.rotate" && actor == "cli")
    );
    s.stop().await;
}

fn jwt_kid(jwt: &str) -> String {
    use base64::Engine;
    let h = jwt.split('.').next().unwrap();
    let v: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(h)
            .unwrap(),
    )
    .unwrap();
    v["kid"].as_str().unwrap().to_string()
}

/// A node that read the key set just before a rotation serves the old JWKS until its read
/// cache expires (`PLINTO_READ_CACHE_TTL_SECS`); the new key must not sign before then, and
/// not in the same instant either: it signs a margin (half the TTL, at least 5 s) after the
/// last node can have published it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_signs_only_a_margin_after_every_node_publishes_it() {
    let s = TestServer::start().await;
    let ttl = s.state.config.read_cache_ttl_secs as i64;
    assert!(ttl > 0);
    let t = plinto::tenants::find_by_slug(&s.state.db, "default")
        .await
        .unwrap()
        .unwrap();
    // The tenant's first keys are an hour old; this node reads (and caches) the key set, and
    // the rotation commits right after.
    s.clock.advance(Duration::hours(1));
    let before: Vec<String> = jwks(&s, "default")
        .await
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect();
    let (new, _) = plinto::keys::rotate(&s.state.db, s.state.now(), &s.state.keys.signing, t.id)
        .await
        .unwrap();
    let new_rs = new.iter().find(|k| k.alg == "RS256").unwrap().kid.clone();
    let published = |kids: &[Value]| kids.iter().any(|k| k["kid"] == new_rs.as_str());
    // Until its cache expires, this node publishes the old set and signs with the old key.
    s.clock.advance(Duration::milliseconds(ttl * 1000 - 1));
    assert!(!published(&jwks(&s, "default").await));
    assert!(before.contains(&jwt_kid(&sign(&s, Alg::Rs256).await)));
    // Then it publishes the new key, and still signs with the old one for the margin.
    s.clock.advance(Duration::milliseconds(2));
    assert!(published(&jwks(&s, "default").await));
    let margin = (ttl / 2).max(5);
    s.clock.advance(Duration::seconds(margin - 1));
    assert_ne!(jwt_kid(&sign(&s, Alg::Rs256).await), new_rs);
    // After the margin, the new key signs.
    s.clock.advance(Duration::seconds(1));
    assert_eq!(jwt_kid(&sign(&s, Alg::Rs256).await), new_rs);
    s.stop().await;
}
