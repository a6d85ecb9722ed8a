//! Clients that never finish a request (issue 17 §13): a head that never ends and a body that
//! never arrives are answered `408` and their connections closed; a complete request on the
//! same server is served. The timeouts are set to one second here (the defaults: 5 s for the
//! head, 30 s for the body).

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::TestServer;

async fn server() -> TestServer {
    TestServer::start_with(|c| {
        c.request_header_timeout_secs = 1;
        c.request_body_timeout_secs = 1;
    })
    .await
}

fn addr(s: &TestServer) -> String {
    s.base.trim_start_matches("http://").to_string()
}

/// Send `bytes` and read what comes back until the server closes the connection (the
/// 60-second bound only keeps a broken server from hanging the suite).
async fn send_and_read_to_close(addr: &str, bytes: &[u8]) -> String {
    let mut conn = TcpStream::connect(addr).await.unwrap();
    conn.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(60),
        conn.read_to_end(&mut out),
    )
    .await
    .expect("the server closes the connection")
    .ok();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_arrives_gets_408_in_the_protocols_format_and_the_connection_closes() {
    let s = server().await;
    let a = addr(&s);
    let token = "POST /t/default/oauth2/token HTTP/1.1\r\nHost: x\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n\
                 grant_type=";
    let res = send_and_read_to_close(&a, token.as_bytes()).await;
    assert!(res.starts_with("HTTP/1.1 408"), "{res}");
    assert!(res.contains("\"error\":\"invalid_request\""), "{res}");
    // SCIM, with a valid token so that the body is what it waits for: the SCIM error schema.
    let out = s.cli(&["scim-token", "create", "--tenant", "default"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let scim = format!(
        "POST /t/default/scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/scim+json\r\nContent-Length: 100\r\n\r\n{{",
        created["token"].as_str().unwrap()
    );
    let res = send_and_read_to_close(&a, scim.as_bytes()).await;
    assert!(res.starts_with("HTTP/1.1 408"), "{res}");
    assert!(res.contains("application/scim+json"), "{res}");
    assert!(
        res.contains("urn:ietf:params:scim:api:messages:2.0:Error"),
        "{res}"
    );
    let login = "POST /t/default/login HTTP/1.1\r\nHost: x\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nemail=";
    let res = send_and_read_to_close(&a, login.as_bytes()).await;
    assert!(res.starts_with("HTTP/1.1 408"), "{res}");
    assert!(res.contains("text/html"), "{res}");
    // A route that does not read bodies answers, and does not keep the connection for the
    // rest of a body that never comes.
    let get = "GET /t/default/login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nx";
    let res = send_and_read_to_close(&a, get.as_bytes()).await;
    assert!(res.starts_with("HTTP/1.1 200"), "{res}");
    // The server goes on serving complete requests.
    let res = reqwest::get(s.url("/t/default/.well-known/openid-configuration"))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_that_never_ends_is_timed_out() {
    let s = server().await;
    let res =
        send_and_read_to_close(&addr(&s), b"GET /t/default/login HTTP/1.1\r\nHost: x\r\n").await;
    assert!(res.is_empty() || res.starts_with("HTTP/1.1 408"), "{res}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_held_connections_are_all_released() {
    let s = server().await;
    let a = addr(&s);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let a = a.clone();
        tasks.spawn(async move {
            let req = if i % 2 == 0 {
                "POST /t/default/login HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nx"
                    .to_string()
            } else {
                "GET /t/default/login HTTP/1.1\r\nHost: x\r\nX-Slow: ".to_string()
            };
            send_and_read_to_close(&a, req.as_bytes()).await
        });
    }
    let mut closed = 0;
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
        closed += 1;
    }
    assert_eq!(
        closed, 200,
        "every held connection was closed by the server"
    );
    s.stop().await;
}
