//! The operator CLI, run as the real binary against a running server's database.

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::*;

fn json_line(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(stdout.lines().count(), 1, "one line of JSON: {stdout}");
    serde_json::from_str(&stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_and_user_commands_work_against_a_running_server() {
    let s = TestServer::start().await;

    let t = json_line(&s.cli(&["tenant", "create", "acme", "--name", "Acme Corp"]));
    assert_eq!(t["slug"], "acme");
    assert_eq!(t["issuer"], format!("{}/t/acme", s.base));
    assert!(t["id"].as_str().unwrap().len() == 36);
    assert_eq!(t.as_object().unwrap().len(), 5);
    assert_eq!(t["allow_signup"], false);
    assert_eq!(
        t["require_email_verification"], false,
        "no sign-up: not needed"
    );

    let list = json_line(&s.cli(&["tenant", "list"]));
    let slugs: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["acme", "default"]);

    let u = json_line(&s.cli(&[
        "user",
        "create",
        "--tenant",
        "acme",
        "--email",
        "Ops@Acme.example",
        "--password",
        "ops password 1",
        "--name",
        "Ops",
        "--email-verified",
    ]));
    assert_eq!(u["email"], "Ops@Acme.example");
    assert!(!u["sub"].as_str().unwrap().is_empty());
    assert_eq!(u.as_object().unwrap().len(), 3);

    // The running server sees the new tenant and user at once.
    let b = s.browser();
    let res = b.login("acme", "ops@acme.example", "ops password 1").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let html = b.get("/t/acme/account").await.text().await.unwrap();
    assert!(html.contains("Acme Corp"));

    let users = json_line(&s.cli(&["user", "list", "--tenant", "acme"]));
    assert_eq!(users[0]["email"], "Ops@Acme.example");
    assert_eq!(users[0]["email_verified"], true);
    assert_eq!(users[0]["disabled"], false);

    let d = json_line(&s.cli(&["user", "disable", "--tenant", "acme", "ops@acme.example"]));
    assert_eq!(d["disabled"], true);
    assert_eq!(
        b.get("/t/acme/account").await.status(),
        StatusCode::SEE_OTHER
    );

    let cli_events: Vec<String> = s
        .audit_actions()
        .await
        .into_iter()
        .filter(|(_, actor, _)| actor == "cli")
        .map(|(a, _, _)| a)
        .collect();
    assert_eq!(cli_events, ["tenant.create", "user.create", "user.disable"]);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_errors_are_clear_exit_non_zero_and_print_nothing_on_stdout() {
    let s = TestServer::start().await;
    let users_before = s.user_count().await;
    let cases: &[&[&str]] = &[
        &["tenant", "create", "default"],
        &["tenant", "create", "Not A Slug"],
        &[
            "user",
            "create",
            "--tenant",
            "nope",
            "--email",
            "a@example.com",
            "--password",
            "long enough",
        ],
        &[
            "user",
            "create",
            "--tenant",
            "default",
            "--email",
            "bad",
            "--password",
            "long enough",
        ],
        &[
            "user",
            "create",
            "--tenant",
            "default",
            "--email",
            "ADMIN@localhost",
            "--password",
            "long enough",
        ],
        &[
            "user",
            "create",
            "--tenant",
            "default",
            "--email",
            "a@example.com",
            "--password",
            "short",
        ],
        &[
            "user",
            "disable",
            "--tenant",
            "default",
            "nobody@example.com",
        ],
        &["user", "list", "--tenant", "nope"],
    ];
    for args in cases {
        let out = s.cli(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(
            out.stdout.is_empty(),
            "{args:?}: stdout {:?}",
            String::from_utf8_lossy(&out.stdout)
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    assert_eq!(s.user_count().await, users_before);

    // Usage errors come from clap with exit code 2.
    let out = s.cli(&["tenant", "create"]);
    assert_eq!(out.status.code(), Some(2));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_is_there_for_every_command_and_config_errors_are_clear() {
    let s = TestServer::start().await;
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["migrate", "--help"],
        &["tenant", "create", "--help"],
        &["tenant", "list", "--help"],
        &["user", "create", "--help"],
        &["user", "list", "--help"],
        &["user", "disable", "--help"],
    ] {
        let out = s.cli(args);
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage:"),
            "{args:?}"
        );
    }

    // An unknown key in plinto.toml is refused.
    std::fs::write(
        s.dir.path().join("plinto.toml"),
        "lisen = \"127.0.0.1:1\"\n",
    )
    .unwrap();
    let out = s.cli(&["tenant", "list"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lisen"));
    std::fs::remove_file(s.dir.path().join("plinto.toml")).unwrap();

    // `migrate` on an up-to-date database is a no-op that succeeds.
    let out = s.cli(&["migrate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s.stop().await;
}
