//! Operations endpoints, request ids, security headers and recovery from a database outage.

use reqwest::StatusCode;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_ready_request_ids_and_security_headers() {
    let s = TestServer::start().await;
    let http = reqwest::Client::new();
    let res = http.get(s.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let id = res.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(id.len(), 36);

    let res = http.get(s.url("/ready")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["database"], "ok");
    let expected_cache = if s.state.cache.is_redis() {
        "ok"
    } else {
        "in-process"
    };
    assert_eq!(body["cache"], expected_cache);

    let res = http
        .get(s.url("/t/default/login"))
        .header("x-request-id", "trace-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "trace-123");
    let h = res.headers();
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert!(
        !h.contains_key("strict-transport-security"),
        "no HSTS on http"
    );

    // A request id that is not plain text is replaced.
    let res = http
        .get(s.url("/health"))
        .header("x-request-id", "<script>")
        .send()
        .await
        .unwrap();
    assert_ne!(res.headers()["x-request-id"], "<script>");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_public_url_gives_hsts_and_host_prefixed_secure_cookies() {
    let s = TestServer::start_with(|c| c.public_url = Some("https://id.example.test".into())).await;
    let res = reqwest::Client::new()
        .get(s.url("/t/default/login"))
        .send()
        .await
        .unwrap();
    assert!(
        res.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .contains("max-age=")
    );
    let cookie = res.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.starts_with("__Host-plinto-csrf=") && cookie.contains("Secure"),
        "{cookie}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_trail_is_append_only() {
    use sea_orm::ConnectionTrait;
    let s = TestServer::start().await;
    assert!(!s.audit_actions().await.is_empty());
    let update = s
        .state
        .db
        .execute_unprepared("UPDATE audit_events SET action = 'tampered'")
        .await;
    assert!(update.is_err());
    let delete = s
        .state
        .db
        .execute_unprepared("DELETE FROM audit_events")
        .await;
    assert!(delete.is_err());
    assert!(
        !s.audit_actions()
            .await
            .iter()
            .any(|(a, _, _)| a == "tampered")
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_runs_in_wal_mode_so_the_cli_can_write_while_serving() {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let s = TestServer::start().await;
    if s.state.db.get_database_backend() != DbBackend::Sqlite {
        eprintln!("not applicable on PostgreSQL");
        s.stop().await;
        return;
    }
    let row = s
        .state
        .db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA journal_mode",
        ))
        .await
        .unwrap()
        .unwrap();
    let mode: String = row.try_get_by_index(0).unwrap();
    assert_eq!(mode, "wal");
    s.stop().await;
}

/// PostgreSQL only: the database refuses connections for a while; requests get 503s (never a
/// panic or a 500) and the server recovers by itself when the database is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_gives_503_and_the_server_recovers() {
    let s = TestServer::start().await;
    let Some(name) = s.db.pg_name().map(str::to_string) else {
        eprintln!("not applicable on SQLite: needs PLINTO_TEST_DATABASE_URL");
        s.stop().await;
        return;
    };
    let b = s.browser();
    b.login("default", ADMIN_EMAIL, ADMIN_PASSWORD).await;

    s.db.admin_sql(&format!(
        "ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS false"
    ))
    .await;
    s.db.admin_sql(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ))
    .await;

    let res = reqwest::get(s.url("/ready")).await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["database"], "unreachable");
    let res = b.get("/t/default/account").await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Temporarily unavailable")
    );
    assert_eq!(
        reqwest::get(s.url("/health")).await.unwrap().status(),
        StatusCode::OK
    );

    s.db.admin_sql(&format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS true"))
        .await;
    let res = reqwest::get(s.url("/ready")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(b.get("/t/default/account").await.status(), StatusCode::OK);
    s.stop().await;
}
