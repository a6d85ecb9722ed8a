//! Client libraries nobody at Plinto wrote, run against a real server in their default
//! configuration: Node scripts (`tests/outside/node/*.mjs`, openid-client from npm) and Python
//! scripts (`tests/outside/py/*.py`, scim2-tester, authlib and pysaml2 from PyPI). They are
//! installed by `scripts/dev.sh test` (the README's test command) into `tests/outside`; a
//! test that finds them missing fails and says so rather than skipping.
//!
//! A script gets its inputs as environment variables, prints one JSON object on its last line
//! of standard output and exits 0; anything else fails the test with its output.

use std::path::PathBuf;
use std::process::Stdio;

use serde_json::Value;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/outside")
}

fn missing(what: &str) -> ! {
    panic!(
        "{what} is not installed under tests/outside: run the tests with `scripts/dev.sh test` \
         (the README's test command), which installs the outside client libraries"
    )
}

/// Run `tests/outside/node/{script}` with Node and these environment variables.
// No Node script on this branch yet (the openid-client tests of issue 16 will call it).
#[allow(dead_code)]
pub async fn node(script: &str, env: &[(&str, &str)]) -> Value {
    let dir = dir();
    if !dir.join("node_modules/openid-client").exists() {
        missing("openid-client (npm)");
    }
    run("node", dir.join("node").join(script), env).await
}

/// Run `tests/outside/py/{script}` with the venv's Python and these environment variables.
pub async fn python(script: &str, env: &[(&str, &str)]) -> Value {
    let dir = dir();
    let python = dir.join(".venv/bin/python");
    if !python.exists() {
        missing("the Python venv (scim2-tester, authlib, pysaml2)");
    }
    run(
        python.to_str().expect("utf-8 path"),
        dir.join("py").join(script),
        env,
    )
    .await
}

async fn run(program: &str, script: PathBuf, env: &[(&str, &str)]) -> Value {
    let mut cmd = tokio::process::Command::new(program);
    cmd.arg(&script)
        .current_dir(dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().await.expect("start the outside client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        script.display(),
        out.status
    );
    let last = stdout.lines().rev().find(|l| !l.trim().is_empty());
    last.and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| {
            panic!(
                "{} printed no JSON result:\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
                script.display()
            )
        })
}
