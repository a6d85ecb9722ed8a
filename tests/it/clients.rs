//! OAuth clients registered with the CLI: the JSON contract, secrets hashed at rest, and the
//! registration rules.

use sea_orm::EntityTrait;
use serde_json::Value;

use crate::support::*;

fn ok_json(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    serde_json::from_str(&stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confidential_and_public_clients_and_their_secrets() {
    let s = TestServer::start().await;
    let created = ok_json(&s.cli(&[
        "client",
        "create",
        "--tenant",
        "default",
        "--name",
        "Web app",
        "--redirect-uri",
        "https://app.example.com/cb",
        "--redirect-uri",
        "http://localhost:3000/cb",
        "--post-logout-redirect-uri",
        "https://app.example.com/bye",
        "--cors-origin",
        "https://app.example.com",
    ]));
    let obj = created.as_object().unwrap();
    assert_eq!(obj.len(), 3, "{created}");
    assert_eq!(
        created["auth_methods"],
        serde_json::json!(["client_secret_basic", "client_secret_post"])
    );
    let client_id = created["client_id"].as_str().unwrap();
    let secret = created["client_secret"].as_str().unwrap();
    assert!(secret.len() >= 43, "at least 256 bits");

    // Only a keyed hash is stored; it verifies the secret and nothing else.
    let row = entity::client::Entity::find()
        .all(&s.state.db)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.client_id == client_id)
        .unwrap();
    let stored = row.secret_hash.clone().unwrap();
    assert_eq!(stored.len(), 64);
    assert!(!stored.contains(secret));
    let key = &s.state.keys.client_secret;
    assert!(plinto::clients::verify_secret(key, &row, secret));
    assert!(!plinto::clients::verify_secret(key, &row, "wrong"));
    assert!(!plinto::clients::verify_secret(
        key,
        &row,
        &secret[..secret.len() - 1]
    ));

    let public = ok_json(&s.cli(&[
        "client",
        "create",
        "--tenant",
        "default",
        "--name",
        "SPA",
        "--auth-method",
        "none",
        "--redirect-uri",
        "https://spa.example.com/cb",
        "--skip-consent",
    ]));
    assert!(public.get("client_secret").is_none(), "{public}");

    let m2m = ok_json(&s.cli(&[
        "client",
        "create",
        "--tenant",
        "default",
        "--name",
        "Worker",
        "--grant-type",
        "client_credentials",
        "--scope",
        "reports:read",
        "--auth-method",
        "client_secret_post",
    ]));
    assert!(m2m["client_secret"].is_string());

    let jwt_client = ok_json(&s.cli(&[
        "client",
        "create",
        "--tenant",
        "default",
        "--name",
        "Backend",
        "--grant-type",
        "client_credentials",
        "--auth-method",
        "private_key_jwt",
        "--jwks-uri",
        "https://backend.example.com/jwks.json",
        "--id-token-signed-response-alg",
        "ES256",
    ]));
    assert!(jwt_client.get("client_secret").is_none());

    let list = ok_json(&s.cli(&["client", "list", "--tenant", "default"]));
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 4);
    let web = &list[0];
    assert_eq!(web["client_id"], client_id);
    assert_eq!(web["auth_method"], "client_secret_basic");
    assert_eq!(
        web["grant_types"],
        serde_json::json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(web["redirect_uris"].as_array().unwrap().len(), 2);
    assert!(
        web["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "openid")
    );
    assert!(
        !list.iter().any(|c| c.to_string().contains(secret)),
        "no secret listed"
    );
    assert_eq!(list[1]["skip_consent"], true);
    assert_eq!(list[2]["scopes"], serde_json::json!(["reports:read"]));
    assert_eq!(list[3]["id_token_signed_response_alg"], "ES256");

    // Clients belong to their tenant.
    s.create_tenant("acme", false).await;
    let acme = ok_json(&s.cli(&["client", "list", "--tenant", "acme"]));
    assert!(acme.as_array().unwrap().is_empty());
    let out = s.cli(&["client", "delete", "--tenant", "acme", client_id]);
    assert!(!out.status.success());

    let deleted = ok_json(&s.cli(&["client", "delete", "--tenant", "default", client_id]));
    assert_eq!(deleted["deleted"], true);
    let out = s.cli(&["client", "delete", "--tenant", "default", client_id]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("client not found"));

    let events: Vec<String> = s
        .audit_actions()
        .await
        .into_iter()
        .filter(|(a, actor, _)| a.starts_with("client.") && actor == "cli")
        .map(|(a, _, _)| a)
        .collect();
    assert_eq!(events.iter().filter(|a| *a == "client.create").count(), 4);
    assert_eq!(events.iter().filter(|a| *a == "client.delete").count(), 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_rules_are_enforced_with_clear_errors() {
    let s = TestServer::start().await;
    let base = ["client", "create", "--tenant", "default", "--name", "X"];
    let cases: &[(&[&str], &str)] = &[
        (&[], "needs at least one redirect URI"),
        (
            &["--redirect-uri", "http://app.example.com/cb"],
            "must use https",
        ),
        (
            &["--redirect-uri", "https://app.example.com/cb#x"],
            "fragment",
        ),
        (&["--redirect-uri", "/cb"], "not an absolute URI"),
        (
            &[
                "--redirect-uri",
                "https://a.example/cb",
                "--grant-type",
                "implicit",
            ],
            "not one of",
        ),
        (
            &[
                "--redirect-uri",
                "https://a.example/cb",
                "--auth-method",
                "tls_client_auth",
            ],
            "not one of",
        ),
        (
            &[
                "--grant-type",
                "client_credentials",
                "--auth-method",
                "none",
            ],
            "cannot use client_credentials",
        ),
        (
            &[
                "--grant-type",
                "client_credentials",
                "--auth-method",
                "private_key_jwt",
            ],
            "jwks",
        ),
        (
            &[
                "--grant-type",
                "client_credentials",
                "--auth-method",
                "private_key_jwt",
                "--jwks",
                "{}",
            ],
            "keys",
        ),
        (
            &[
                "--grant-type",
                "client_credentials",
                "--jwks-uri",
                "http://keys.example.com/",
            ],
            "https",
        ),
        (
            &["--grant-type", "client_credentials", "--scope", "bad scope"],
            "scope",
        ),
        (
            &[
                "--grant-type",
                "client_credentials",
                "--cors-origin",
                "https://a.example/path",
            ],
            "origin",
        ),
        (
            &[
                "--grant-type",
                "client_credentials",
                "--id-token-signed-response-alg",
                "HS256",
            ],
            "RS256",
        ),
    ];
    for (extra, message) in cases {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        let out = s.cli(&args);
        assert!(!out.status.success(), "{extra:?} was accepted");
        assert!(out.stdout.is_empty());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(message), "{extra:?}: {err}");
    }
    let out = s.cli(&[
        "client",
        "create",
        "--tenant",
        "nope",
        "--name",
        "X",
        "--redirect-uri",
        "https://a.example/cb",
    ]);
    assert!(!out.status.success());
    let clients = entity::client::Entity::find()
        .all(&s.state.db)
        .await
        .unwrap();
    assert!(clients.is_empty(), "nothing half-written");
    s.stop().await;
}

/// Clients are read from memory for at most one read-cache TTL: a client deleted with the CLI
/// (another process) keeps working until then and not a moment longer; a new one works at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_client_stops_working_within_the_read_cache_ttl() {
    let s = TestServer::start().await;
    let created = ok_json(&s.cli(&[
        "client",
        "create",
        "--tenant",
        "default",
        "--name",
        "svc",
        "--grant-type",
        "client_credentials",
        "--scope",
        "reports:read",
    ]));
    let id = created["client_id"].as_str().unwrap();
    let secret = created["client_secret"].as_str().unwrap();
    let token = || async {
        reqwest::Client::new()
            .post(s.url("/t/default/oauth2/token"))
            .basic_auth(id, Some(secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials")
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(token().await, 200, "a new client works at once");
    ok_json(&s.cli(&["client", "delete", "--tenant", "default", id]));
    assert_eq!(token().await, 200, "still in this node's memory");
    s.clock.advance(chrono::Duration::seconds(
        s.state.config.read_cache_ttl_secs as i64,
    ));
    assert_eq!(token().await, 401, "read again after the TTL: gone");
    s.stop().await;
}
