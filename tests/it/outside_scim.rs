//! scim2-tester (PyPI), in its default configuration, against a real Plinto SCIM endpoint with a
//! bearer token: every check it runs passes. Its CRUD checks create users with nothing but a
//! `userName` (RFC 7643 §4.1), so this is also the test that such accounts are first-class.

use serde_json::Value;

use crate::outside;
use crate::scim_client::{PLINTO, Scim};
use crate::support::TestServer;

/// Statuses scim2-tester gives a check that the server got wrong (MUST or SHOULD).
const FAILED: &[&str] = &["ERROR", "CRITICAL", "DEVIATION"];

/// scim2-tester 0.5.2 compares what it PATCHed with what it reads back including `readOnly`
/// sub-attributes, which the server sets and never takes from a client (RFC 7643 §7: "SHALL NOT
/// be modified"). Two results are that tester bug, and only those are not counted:
/// - Plinto's User extension holds only `emailVerified` (readOnly): the tester PATCHes the
///   extension as a whole (add, replace, remove with the extension URN as the path) and expects
///   `emailVerified` to have become what it sent (nothing).
/// - a Group member's `display` (readOnly, the member's name): after adding or replacing
///   `members` it expects `display` to be what it sent (nothing), though `value`, `$ref` and
///   `type` came back as sent. Anything else that differs still counts.
fn tester_bug(r: &Value) -> bool {
    let title = r["title"].as_str().unwrap_or_default();
    let reason = r["reason"].as_str().unwrap_or_default();
    let patch = matches!(
        title,
        "check_add_attribute" | "check_replace_attribute" | "check_remove_attribute"
    );
    let extension = r["resource_type"] == "User"
        && (reason.contains(&format!("value for '{PLINTO}'."))
            || reason.contains(&format!("did not remove attribute '{PLINTO}'")));
    let member_display =
        r["resource_type"] == "Group" && reason.starts_with("Attribute 'members' was not") && {
            let line = |prefix: &str| {
                reason
                    .lines()
                    .find_map(|l| l.strip_prefix(prefix))
                    .map(without_display)
            };
            let (sent, got) = (line("Patched value: "), line("Returned value: "));
            sent.is_some() && sent == got
        };
    patch && (extension || member_display)
}

/// A printed list of members without their `display=...` fields.
fn without_display(printed: &str) -> String {
    let mut out = String::new();
    let mut rest = printed;
    while let Some(at) = rest.find(", display=") {
        out.push_str(&rest[..at]);
        let tail = &rest[at + ", display=".len()..];
        let end = match tail.strip_prefix('\'') {
            Some(quoted) => quoted.find('\'').map_or(tail.len(), |i| i + 2),
            None => tail.find(')').unwrap_or(tail.len()),
        };
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn scim2_tester_passes_every_check() {
    // The test clock stands still, so per-second limits (per address, per SCIM caller) would
    // count all of scim2-tester's ~200 requests as one second's: limits are not what this
    // test is about.
    let s = TestServer::start_with(|c| c.rate_limits = "off".into()).await;
    s.create_tenant("acme", false).await;
    let scim = Scim::new(&s, "acme").await;
    let out = outside::python(
        "scim2_tester.py",
        &[("SCIM_BASE", &scim.base), ("SCIM_TOKEN", &scim.token)],
    )
    .await;
    let results = out["results"].as_array().expect("results").clone();
    let status = |r: &Value| r["status"].as_str().unwrap_or_default().to_string();
    let failed: Vec<String> = results
        .iter()
        .filter(|r| FAILED.contains(&status(r).as_str()) && !tester_bug(r))
        .map(|r| {
            format!(
                "{} [{}] {}: {}",
                status(r),
                r["resource_type"].as_str().unwrap_or("-"),
                r["title"].as_str().unwrap_or_default(),
                r["reason"].as_str().unwrap_or_default()
            )
        })
        .collect();
    let passed = results
        .iter()
        .filter(|r| matches!(status(r).as_str(), "SUCCESS" | "COMPLIANT" | "ACCEPTABLE"))
        .count();
    assert!(
        failed.is_empty(),
        "{} of {} scim2-tester checks failed:\n{}",
        failed.len(),
        results.len(),
        failed.join("\n")
    );
    // It ran its CRUD checks on Users and Groups, not just discovery.
    assert!(passed > 20, "only {passed} checks passed: {results:?}");
    s.stop().await;
}
