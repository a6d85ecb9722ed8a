//! Test harness: a real server on a fresh port with its own database, and a browser-like
//! HTTP client with a cookie jar.

use std::net::TcpListener;
use std::process::Output;
use std::sync::Arc;

use actix_web::dev::ServerHandle;
use chrono::Utc;
use plinto::clock::{Clock, TestClock};
use plinto::config::{Config, Secret};
use plinto::state::AppState;
use reqwest::header::{CONTENT_TYPE, LOCATION};
use reqwest::{Response, StatusCode};
use sea_orm::{ConnectionTrait, Database};

pub const ADMIN_EMAIL: &str = "admin@localhost";
pub const ADMIN_PASSWORD: &str = "bootstrap admin password";

/// A database of its own for one test.
pub struct TestDb {
    pub url: String,
    postgres: Option<(String, String)>,
}

impl TestDb {
    pub async fn new(dir: &std::path::Path) -> Self {
        match std::env::var("PLINTO_TEST_DATABASE_URL") {
            Ok(base) if !base.is_empty() => {
                let name = format!("plinto_it_{}", uuid::Uuid::new_v4().simple());
                let admin = Database::connect(&base)
                    .await
                    .expect("connect to PostgreSQL");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .unwrap();
                admin.close().await.unwrap();
                let (prefix, _) = base.rsplit_once('/').expect("URL with a database name");
                let url = format!("{prefix}/{name}");
                TestDb {
                    url,
                    postgres: Some((base, name)),
                }
            }
            _ => TestDb {
                url: format!("sqlite://{}?mode=rwc", dir.join("plinto.db").display()),
                postgres: None,
            },
        }
    }

    /// Run SQL as the PostgreSQL superuser (outside the test's own database).
    pub async fn admin_sql(&self, sql: &str) {
        let (base, _) = self.postgres.as_ref().expect("PostgreSQL only");
        let admin = Database::connect(base).await.unwrap();
        admin.execute_unprepared(sql).await.unwrap();
        admin.close().await.unwrap();
    }

    pub fn pg_name(&self) -> Option<&str> {
        self.postgres.as_ref().map(|(_, n)| n.as_str())
    }

    pub async fn drop(self) {
        if let Some((base, name)) = self.postgres
            && let Ok(admin) = Database::connect(&base).await
        {
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await;
            let _ = admin.close().await;
        }
    }
}

pub struct TestServer {
    pub base: String,
    pub clock: TestClock,
    pub state: AppState,
    pub db: TestDb,
    pub dir: tempfile::TempDir,
    pub bootstrap_password: Option<String>,
    handle: ServerHandle,
    sender: tokio::task::AbortHandle,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Start with the test configuration, changed by `tweak`.
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = TestDb::new(dir.path()).await;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = Config {
            listen: addr.to_string(),
            public_url: Some(format!("http://{addr}")),
            data_dir: dir.path().to_path_buf(),
            database_url: Some(Secret(db.url.clone())),
            database_acquire_timeout_secs: 2,
            redis_url: std::env::var("PLINTO_TEST_REDIS_URL")
                .ok()
                .filter(|u| !u.is_empty())
                .map(Secret),
            redis_prefix: format!("plinto-test:{}:", uuid::Uuid::new_v4().simple()),
            bootstrap_admin_password: Some(Secret(ADMIN_PASSWORD.into())),
            workers: 2,
            ..Config::default()
        };
        tweak(&mut config);
        // `http://localhost` stands for this server's port on localhost (WebAuthn needs a
        // domain, not an IP address, as its relying party id).
        if config.public_url.as_deref() == Some("http://localhost") {
            config.public_url = Some(format!("http://localhost:{}", addr.port()));
        }
        // The clock stands still unless a test moves it, so the default rate limits (e.g.
        // 100 requests per IP and second) count over a whole test: a test that makes more
        // requests must advance the clock or set `rate_limits`.
        let clock = TestClock::new(Utc::now());
        let (node, boot) = Node::launch(config, listener, clock.clone()).await;
        TestServer {
            base: format!("http://{addr}"),
            clock,
            state: node.state.clone(),
            db,
            dir,
            bootstrap_password: boot.and_then(|b| b.one_time_password),
            handle: node.handle,
            sender: node.sender,
        }
    }

    /// Another node on the same database, data dir (master key), public URL and Redis prefix,
    /// with its own port and clock, changed by `tweak`.
    pub async fn sibling(&self, tweak: impl FnOnce(&mut Config)) -> Node {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = (*self.state.config).clone();
        config.listen = addr.to_string();
        tweak(&mut config);
        let clock = TestClock::new(self.clock.now());
        Node::launch(config, listener, clock).await.0
    }

    /// Stop this node's HTTP server and mail sender; the database stays (see [`Self::sibling`]).
    pub async fn pause(&self) {
        self.sender.abort();
        self.handle.stop(false).await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn browser(&self) -> Browser {
        Browser::new(&self.base)
    }

    /// A browser whose requests say they come from `ip` (`X-Forwarded-For`), for a server
    /// that trusts forwarded headers.
    pub fn browser_from(&self, ip: &str) -> Browser {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-forwarded-for", ip.parse().unwrap());
        Browser {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .default_headers(headers)
                .build()
                .unwrap(),
            base: self.base.clone(),
        }
    }

    /// Run the `plinto` binary against this server's database and data dir.
    pub fn cli(&self, args: &[&str]) -> Output {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_plinto"));
        for (k, _) in std::env::vars() {
            if k.starts_with("PLINTO_") {
                cmd.env_remove(k);
            }
        }
        cmd.current_dir(self.dir.path())
            .arg("--database-url")
            .arg(&self.db.url)
            .arg("--data-dir")
            .arg(self.dir.path())
            .args(args)
            .env("PLINTO_PUBLIC_URL", &self.base);
        cmd.output().unwrap()
    }

    /// Create a user through the domain service (fast set-up for tests of other things).
    pub async fn create_user(
        &self,
        tenant: &str,
        email: &str,
        password: &str,
    ) -> entity::user::Model {
        let t = plinto::tenants::find_by_slug(&self.state.db, tenant)
            .await
            .unwrap()
            .unwrap();
        plinto::accounts::users::create(
            &self.state.db,
            self.state.now(),
            &self.state.hasher,
            t.id,
            plinto::accounts::users::NewUser {
                email: email.into(),
                password: Some(password.into()),
                name: None,
                email_verified: true,
                is_admin: false,
                must_change_password: false,
            },
            plinto::audit::actions::USER_CREATE,
            Some("test"),
            &Default::default(),
        )
        .await
        .unwrap()
    }

    pub async fn create_tenant(&self, slug: &str, allow_signup: bool) -> entity::tenant::Model {
        plinto::tenants::create(
            &self.state.db,
            self.state.now(),
            &self.state.keys.signing,
            plinto::tenants::NewTenant {
                slug: slug.into(),
                name: Some(format!("Tenant {slug}")),
                allow_signup,
                // Tests of sign-up without verification; the product default is in tenants.
                require_email_verification: Some(false),
                ..Default::default()
            },
            "test",
            &Default::default(),
        )
        .await
        .unwrap()
    }

    /// The audit actions recorded so far, oldest first.
    pub async fn audit_actions(&self) -> Vec<(String, String, String)> {
        use sea_orm::{EntityTrait, QueryOrder};
        entity::audit_event::Entity::find()
            .order_by_asc(entity::audit_event::Column::Id)
            .all(&self.state.db)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.action, e.actor, e.outcome))
            .collect()
    }

    pub async fn user_count(&self) -> u64 {
        use sea_orm::{EntityTrait, PaginatorTrait};
        entity::user::Entity::find()
            .count(&self.state.db)
            .await
            .unwrap()
    }

    pub async fn stop(self) {
        self.sender.abort();
        self.handle.stop(false).await;
        self.state.db.clone().close().await.ok();
        self.db.drop().await;
    }
}

/// A further node of a test's deployment.
pub struct Node {
    pub base: String,
    pub state: AppState,
    pub clock: TestClock,
    handle: ServerHandle,
    sender: tokio::task::AbortHandle,
}

impl Node {
    async fn launch(
        config: Config,
        listener: TcpListener,
        clock: TestClock,
    ) -> (Node, Option<plinto::bootstrap::Bootstrapped>) {
        let addr = listener.local_addr().unwrap();
        let (state, boot) = plinto::server::prepare(config, Arc::new(clock.clone()), true)
            .await
            .expect("server prepares");
        let sender = plinto::mail::outbox::spawn_sender(state.clone());
        let server = plinto::server::serve(state.clone(), listener).unwrap();
        let handle = server.handle();
        tokio::spawn(server);
        let node = Node {
            base: format!("http://{addr}"),
            state,
            clock,
            handle,
            sender,
        };
        (node, boot)
    }

    pub fn browser(&self) -> Browser {
        Browser::new(&self.base)
    }

    pub async fn stop(self) {
        self.sender.abort();
        self.handle.stop(false).await;
        self.state.db.clone().close().await.ok();
    }
}

pub struct Browser {
    pub http: reqwest::Client,
    base: String,
}

impl Browser {
    pub fn new(base: &str) -> Self {
        Browser {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: base.to_string(),
        }
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    pub async fn get(&self, path: &str) -> Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    /// The CSRF token of the form on the page at `path`.
    pub async fn csrf(&self, path: &str) -> String {
        let res = self.get(path).await;
        assert_eq!(res.status(), StatusCode::OK, "GET {path}");
        csrf_of(&res.text().await.unwrap())
    }

    /// POST a form as typed; no CSRF token is added.
    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> Response {
        self.http
            .post(format!("{}{path}", self.base))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        let body = serde_urlencoded_pairs(fields);
        self.post_raw(path, body).await
    }

    /// GET `form_page` for its CSRF token, then POST the fields (and the token) to `action`.
    pub async fn submit(&self, form_page: &str, action: &str, fields: &[(&str, &str)]) -> Response {
        let token = self.csrf(form_page).await;
        let mut all = fields.to_vec();
        all.push(("csrf_token", &token));
        self.post(action, &all).await
    }

    pub async fn login(&self, tenant: &str, email: &str, password: &str) -> Response {
        let path = format!("/t/{tenant}/login");
        self.submit(&path, &path, &[("email", email), ("password", password)])
            .await
    }
}

pub fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("page has a CSRF token") + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_string()
}

pub fn location(res: &Response) -> String {
    res.headers()
        .get(LOCATION)
        .expect("a Location header")
        .to_str()
        .unwrap()
        .to_string()
}

/// x-www-form-urlencoded, as a browser sends it.
pub fn serde_urlencoded_pairs(fields: &[(&str, &str)]) -> String {
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    fields
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, NON_ALPHANUMERIC),
                utf8_percent_encode(v, NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The session ids listed on the account page.
pub fn session_ids(html: &str) -> Vec<String> {
    html.match_indices("data-session-id=\"")
        .map(|(i, m)| {
            let start = i + m.len();
            let end = html[start..].find('"').unwrap() + start;
            html[start..end].to_string()
        })
        .collect()
}

/// The id of the session marked "This session" on the account page.
pub fn current_session_id(html: &str) -> String {
    let mark = html
        .find("<strong>This session</strong>")
        .expect("a current session");
    let ids = session_ids(&html[..mark]);
    ids.last().expect("a session row").clone()
}

/// Wait until a background task (the mail sender) has had an effect: `check` is asked every
/// 50 ms until it gives a value. Nothing about timing is asserted; the 30 s deadline only
/// turns a hang into a failure.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..600 {
        if let Some(v) = check().await {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{what}: not within 30 s");
}

/// A `plinto serve` process of its own (a fresh process: nothing initialised by another
/// test), on SQLite in `dir`, listening on a free port; its stderr is read line by line.
pub struct ServeProcess {
    pub base: String,
    child: std::process::Child,
    stderr: std::sync::mpsc::Receiver<String>,
}

impl ServeProcess {
    /// The `plinto` binary with no `PLINTO_*` variables from the environment, on `dir`.
    pub fn command(dir: &std::path::Path) -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_plinto"));
        for (k, _) in std::env::vars() {
            if k.starts_with("PLINTO_") {
                cmd.env_remove(k);
            }
        }
        cmd.current_dir(dir)
            .arg("--data-dir")
            .arg(dir)
            .env("PLINTO_BOOTSTRAP_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("PLINTO_LOG_FORMAT", "text");
        cmd
    }

    /// Start `plinto serve` on `dir` with these variables and wait until it answers.
    pub async fn start(dir: &std::path::Path, env: &[(&str, &str)]) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let base = format!("http://127.0.0.1:{port}");
        let mut cmd = Self::command(dir);
        cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("PLINTO_PUBLIC_URL", &base)
            .envs(env.iter().copied())
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null());
        let mut child = cmd.spawn().unwrap();
        let (tx, stderr) = std::sync::mpsc::channel::<String>();
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let http = reqwest::Client::new();
        eventually("plinto serve answers", || {
            let (http, url) = (http.clone(), format!("{base}/health"));
            async move { http.get(url).send().await.ok() }
        })
        .await;
        ServeProcess {
            base,
            child,
            stderr,
        }
    }

    /// Wait (up to 30 s) for a line of its stderr that satisfies `pred`.
    pub fn wait_for_log(&self, pred: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match self.stderr.recv_timeout(left) {
                Ok(line) if pred(&line) => return Some(line),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        None
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
