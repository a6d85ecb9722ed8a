//! Headless Chromium (Debian's `chromium` driven by `chromedriver` over the W3C WebDriver
//! protocol, plain HTTP + JSON): the login and account pages render, the WebAuthn script
//! runs without errors or CSP violations, and with Chrome's virtual authenticator (the
//! WebDriver WebAuthn extension) a passkey is registered on the account page and then signs
//! in without a password, through the real browser ceremony.

use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

use crate::support::{TestServer, eventually};

const EMAIL: &str = "cleo@example.com";
const PASSWORD: &str = "correct horse battery staple";

struct Driver {
    child: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian package chromium-driver) must be installed");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        eventually("chromedriver to answer", || {
            let http = http.clone();
            let url = format!("{base}/status");
            async move {
                let v: Value = http.get(url).send().await.ok()?.json().await.ok()?;
                v["value"]["ready"].as_bool().filter(|r| *r)
            }
        })
        .await;
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": { "browser": "ALL" },
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        }}});
        let created: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("a WebDriver session: {created}"))
            .to_string();
        Driver {
            child,
            base,
            session,
            http,
            _profile: profile,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req.send().await.unwrap().json().await.unwrap();
        assert!(v["value"].get("error").is_none(), "WebDriver {path}: {v}");
        v["value"].clone()
    }

    async fn go(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    async fn js(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
        .await
    }

    /// Wait until `script` returns a truthy value (a hang becomes a failure after 30 s).
    async fn until(&self, what: &str, script: &str) -> Value {
        eventually(what, || async {
            let v = self.js(script).await;
            let truthy = !(v.is_null() || v == json!(false) || v == json!(""));
            truthy.then_some(v)
        })
        .await
    }

    /// Console messages of level SEVERE since the last call (script errors, CSP violations).
    async fn severe_logs(&self) -> Vec<String> {
        let v = self
            .call(
                reqwest::Method::POST,
                "/se/log",
                Some(json!({ "type": "browser" })),
            )
            .await;
        v.as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].as_str().unwrap_or_default().to_string())
            // A page without a favicon is not an error of ours.
            .filter(|m| !m.contains("favicon.ico"))
            .collect()
    }

    /// The page rendered and the WebAuthn script ran cleanly.
    async fn script_ready(&self) {
        let state = self
            .until(
                "the WebAuthn script to run",
                "return document.documentElement.getAttribute('data-webauthn')",
            )
            .await;
        assert_eq!(state, "ready", "WebAuthn is available in headless Chromium");
        let errors = self.js("return window.plintoWebauthnErrors").await;
        assert_eq!(errors, json!([]), "script errors");
        assert_eq!(self.severe_logs().await, Vec::<String>::new());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_chromium_runs_the_pages_and_a_virtual_passkey() {
    let s = TestServer::start_with(|c| {
        c.rate_limits = "off".into();
        c.public_url = Some("http://localhost".into());
    })
    .await;
    s.create_tenant("acme", false).await;
    s.create_user("acme", EMAIL, PASSWORD).await;
    let site = s.state.config.public_url();
    let d = Driver::start().await;

    // The login page: rendered, the script ran, the passkey button shown.
    d.go(&format!("{site}/t/acme/login")).await;
    d.script_ready().await;
    assert_eq!(
        d.js("return document.querySelector('h1').textContent")
            .await,
        "Sign in"
    );
    assert_eq!(
        d.js("return document.getElementById('passkey-signin').hidden")
            .await,
        false
    );
    assert_eq!(
        d.js("return document.getElementById('email').getAttribute('autocomplete')")
            .await,
        "username webauthn",
        "conditional UI"
    );

    // Sign in with the password; the account page renders and runs the script too.
    d.js(&format!(
        "document.getElementById('email').value = '{EMAIL}'; \
         document.getElementById('password').value = '{PASSWORD}'; \
         document.querySelector('form').submit(); return true;"
    ))
    .await;
    d.until(
        "the account page",
        "return location.pathname === '/t/acme/account' && document.readyState === 'complete'",
    )
    .await;
    d.script_ready().await;

    // Chrome's virtual authenticator: a platform authenticator with resident keys and user
    // verification, as a phone or a laptop with a fingerprint reader.
    d.call(
        reqwest::Method::POST,
        "/webauthn/authenticator",
        Some(json!({
            "protocol": "ctap2", "transport": "internal", "hasResidentKey": true,
            "hasUserVerification": true, "isUserVerified": true
        })),
    )
    .await;
    d.js(
        "document.getElementById('passkey-name').value = 'Headless'; \
          document.getElementById('passkey-register').click(); return true;",
    )
    .await;
    d.until(
        "the passkey to be registered",
        "return location.search.indexOf('notice=passkey_added') >= 0 \
         && document.body.innerHTML.indexOf('<strong>Headless</strong>') >= 0",
    )
    .await;
    d.script_ready().await;

    // Sign out, then sign in with the passkey alone: no user name, no password.
    d.go(&format!("{site}/t/acme/logout")).await;
    d.js("document.querySelector('form').submit(); return true;")
        .await;
    d.until(
        "the signed-out page",
        "return document.body.textContent.indexOf('You are signed out') >= 0",
    )
    .await;
    d.go(&format!(
        "{site}/t/acme/login?return_to=%2Ft%2Facme%2Faccount"
    ))
    .await;
    d.until(
        "the page's script",
        "return document.documentElement.getAttribute('data-webauthn')",
    )
    .await;
    // Chrome may answer the page's conditional-UI request with the virtual authenticator's
    // only passkey by itself, before the button is pressed: both are the passwordless
    // ceremony. Press the button if the login page is still there.
    d.js("var b = document.getElementById('passkey-signin'); if (b) { b.click(); } return true;")
        .await;
    d.until(
        "the passwordless sign-in",
        "return location.pathname === '/t/acme/account' && document.readyState === 'complete'",
    )
    .await;
    assert!(
        d.js("return document.body.textContent")
            .await
            .as_str()
            .unwrap()
            .contains(EMAIL)
    );
    assert!(
        s.audit_actions()
            .await
            .iter()
            .any(|(a, _, _)| a == "passkey.login")
    );
}
