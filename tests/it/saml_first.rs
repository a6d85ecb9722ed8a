//! The first AuthnRequest of a fresh server (issue 16 §7): libxml2 and xmlsec are initialised
//! once before the HTTP workers start, so that the first messages, arriving at once on several
//! workers, parse like any later one. Each server is a `plinto serve` process of its own
//! (a test server in this binary would share the process's already-initialised libraries).

use crate::saml_sp::{AuthnOpts, TestSp};
use crate::support::ServeProcess;

const SERVERS: usize = 12;
const FIRST_REQUESTS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn a_burst_of_first_authn_requests_on_fresh_servers_all_parse() {
    let sp = TestSp::new(
        "https://first.example/sp",
        "https://first.example/acs",
        "https://first.example/slo",
    );
    let dirs: Vec<_> = (0..SERVERS).map(|_| tempfile::tempdir().unwrap()).collect();
    let servers = futures_util::future::join_all(
        dirs.iter()
            .map(|d| ServeProcess::start(d.path(), &[("PLINTO_WORKERS", "4")])),
    )
    .await;
    // The SP is registered by the CLI, another process: the servers have handled no SAML yet.
    for dir in &dirs {
        let metadata = dir.path().join("sp.xml");
        std::fs::write(&metadata, sp.metadata_xml(false, true)).unwrap();
        let out = ServeProcess::command(dir.path())
            .args(["saml-sp", "create", "--tenant", "default", "--metadata"])
            .arg(&metadata)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Then each gets its first requests at once, from several threads, on several workers.
    let mut tasks = tokio::task::JoinSet::new();
    for server in &servers {
        for _ in 0..FIRST_REQUESTS {
            let (_, xml) = sp.authn_request(&AuthnOpts::default());
            let url = format!(
                "{}/t/default/saml/sso?{}",
                server.base,
                sp.redirect_query(&xml, None, false)
            );
            tasks.spawn(async move {
                let http = reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .unwrap();
                let res = http.get(&url).send().await.unwrap();
                let status = res.status();
                let location = res
                    .headers()
                    .get("location")
                    .map(|v| v.to_str().unwrap().to_string());
                let body = res.text().await.unwrap();
                (status, location, body)
            });
        }
    }
    let mut refused = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (status, location, body) = done.unwrap();
        // Accepted: stored, and the browser sent on to continue it after sign-in.
        let accepted = status.is_redirection()
            && location
                .as_deref()
                .is_some_and(|l| l.contains("/saml/sso/continue?id="));
        if !accepted {
            refused.push(format!(
                "{status} {location:?}: {}",
                body.chars().take(300).collect::<String>()
            ));
        }
    }
    assert!(
        refused.is_empty(),
        "{} of {} first requests were not accepted: {:?}",
        refused.len(),
        SERVERS * FIRST_REQUESTS,
        refused.first()
    );
}
