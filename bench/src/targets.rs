//! The servers under test, as separate processes on loopback: Plinto's release binary (SQLite
//! or PostgreSQL) and the peer, panva's oidc-provider on Node. Each is started, timed to
//! ready, set up with equivalent clients and one account, and measured for RSS.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::load::{Credentials, Endpoints};

pub const EMAIL: &str = "bench@example.com";
pub const PASSWORD: &str = "bench password 123";
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/cb";
const PEER_SECRET: &str = "bench-secret";

/// How the servers run: pinned to one CPU (the load generator has the other) or free.
#[derive(Clone, Debug)]
pub struct Placement {
    pub server_cpu: Option<usize>,
}

impl Placement {
    fn command(&self, program: &Path) -> Command {
        match self.server_cpu {
            Some(cpu) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpu.to_string()).arg(program);
                c
            }
            None => Command::new(program),
        }
    }
}

pub struct Target {
    pub name: String,
    pub ep: Arc<Endpoints>,
    pub plinto: Option<PlintoSetup>,
    /// From spawn to the first 200 on the ready URL: on an empty database (Plinto only:
    /// migrations, key generation, bootstrap) and on a restart.
    pub cold_start: Option<Duration>,
    pub warm_start: Duration,
    pub idle_rss_kb: u64,
    child: Child,
}

/// What the harness needs to reach a Plinto's database directly.
pub struct PlintoSetup {
    pub bin: PathBuf,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub base: String,
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Target {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn rss_kb(&self) -> u64 {
        rss_kb(self.pid())
    }
}

/// VmRSS of a process, in KiB (0 if unreadable).
pub fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Poll `url` until it answers 200; the time since `started`.
async fn ready(
    http: &reqwest::Client,
    url: &str,
    started: Instant,
    child: &mut Child,
) -> anyhow::Result<Duration> {
    loop {
        if let Ok(res) = http.get(url).send().await
            && res.status().is_success()
        {
            return Ok(started.elapsed());
        }
        if let Some(status) = child.try_wait()? {
            bail!("{url}: the server exited with {status}");
        }
        if started.elapsed() > Duration::from_secs(60) {
            bail!("{url}: not ready after 60 s");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn plinto_command(place: &Placement, s: &PlintoSetup, port: u16) -> anyhow::Result<Command> {
    let mut cmd = place.command(&s.bin);
    for (k, _) in std::env::vars() {
        if k.starts_with("PLINTO_") {
            cmd.env_remove(k);
        }
    }
    let log = std::fs::File::create(s.data_dir.join("plinto.log"))?;
    cmd.arg("serve")
        .env("PLINTO_DATA_DIR", &s.data_dir)
        .env("PLINTO_DATABASE_URL", &s.database_url)
        .env("PLINTO_LISTEN", format!("127.0.0.1:{port}"))
        .env("PLINTO_BOOTSTRAP_ADMIN_PASSWORD", "bench admin password")
        .env("PLINTO_LOG", "warn")
        // The peer has no rate limits, and the whole load comes from one address.
        .env("PLINTO_RATE_LIMITS", "off")
        .env(
            "PLINTO_WORKERS",
            if place.server_cpu.is_some() { "1" } else { "0" },
        )
        .stdout(Stdio::null())
        .stderr(log);
    Ok(cmd)
}

pub fn cli(s: &PlintoSetup, args: &[&str]) -> anyhow::Result<serde_json::Value> {
    let out = Command::new(&s.bin)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .arg("--database-url")
        .arg(&s.database_url)
        .arg("--data-dir")
        .arg(&s.data_dir)
        .args(args)
        .env("PLINTO_PUBLIC_URL", &s.base)
        .output()?;
    if !out.status.success() {
        bail!(
            "plinto {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

fn client(s: &PlintoSetup, name: &str, args: &[&str]) -> anyhow::Result<Credentials> {
    let mut all = vec!["client", "create", "--tenant", "default", "--name", name];
    all.extend_from_slice(args);
    let v = cli(s, &all)?;
    Ok(Credentials {
        id: v["client_id"].as_str().context("client_id")?.to_string(),
        secret: v["client_secret"]
            .as_str()
            .context("client_secret")?
            .to_string(),
    })
}

/// Start Plinto on an empty database, register the benchmark's clients and account through
/// the CLI, restart it (the warm start) and let it settle.
pub async fn plinto(
    name: &str,
    bin: &Path,
    data_dir: PathBuf,
    database_url: String,
    place: &Placement,
) -> anyhow::Result<Target> {
    let http = crate::load::client();
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let setup = PlintoSetup {
        bin: bin.to_path_buf(),
        data_dir,
        database_url,
        base: base.clone(),
    };
    let ready_url = format!("{base}/ready");

    let started = Instant::now();
    let mut first = plinto_command(place, &setup, port)?.spawn()?;
    let cold = ready(&http, &ready_url, started, &mut first).await;
    let rs = (|| -> anyhow::Result<_> {
        let rs = client(
            &setup,
            "cc-rs256",
            &[
                "--grant-type",
                "client_credentials",
                "--scope",
                "reports:read",
                "--id-token-signed-response-alg",
                "RS256",
            ],
        )?;
        let es = client(
            &setup,
            "cc-es256",
            &[
                "--grant-type",
                "client_credentials",
                "--scope",
                "reports:read",
                "--id-token-signed-response-alg",
                "ES256",
            ],
        )?;
        let web = client(
            &setup,
            "web",
            &[
                "--redirect-uri",
                REDIRECT_URI,
                "--grant-type",
                "authorization_code",
                "--grant-type",
                "refresh_token",
                "--skip-consent",
                "--id-token-signed-response-alg",
                "RS256",
            ],
        )?;
        cli(
            &setup,
            &[
                "user",
                "create",
                "--tenant",
                "default",
                "--email",
                EMAIL,
                "--password",
                PASSWORD,
                "--email-verified",
            ],
        )?;
        Ok((rs, es, web))
    })();
    let _ = first.kill();
    let _ = first.wait();
    let cold = cold?;
    let (cc_rs256, cc_es256, web) = rs?;

    let started = Instant::now();
    let mut child = plinto_command(place, &setup, port)?.spawn()?;
    let warm = ready(&http, &ready_url, started, &mut child).await;
    let warm = match warm {
        Ok(w) => w,
        Err(e) => {
            let _ = child.kill();
            return Err(e);
        }
    };
    let issuer = format!("{base}/t/default");
    let mut ep = endpoints(&http, &issuer, cc_rs256, cc_es256, web).await?;
    ep.floor = Some(format!("{base}/health"));
    let mut target = Target {
        name: name.into(),
        ep: Arc::new(ep),
        plinto: Some(setup),
        cold_start: Some(cold),
        warm_start: warm,
        idle_rss_kb: 0,
        child,
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    target.idle_rss_kb = target.rss_kb();
    Ok(target)
}

/// Start the peer (`node server.js` in `dir`, dependencies installed with `npm ci`).
pub async fn peer(dir: &Path, place: &Placement) -> anyhow::Result<Target> {
    let http = crate::load::client();
    let port = free_port()?;
    let issuer = format!("http://127.0.0.1:{port}");
    let node = which("node").context("node is not on PATH")?;
    let mut cmd = place.command(&node);
    cmd.arg("server.js")
        .current_dir(dir)
        .env("PEER_PORT", port.to_string())
        .env("PEER_BENCH_ROUTES", "1")
        .env("PEER_CLIENT_SECRET", PEER_SECRET)
        .env("PEER_EMAIL", EMAIL)
        .env("PEER_PASSWORD", PASSWORD)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let started = Instant::now();
    let mut child = cmd.spawn()?;
    let discovery = format!("{issuer}/.well-known/openid-configuration");
    let warm = match ready(&http, &discovery, started, &mut child).await {
        Ok(w) => w,
        Err(e) => {
            let _ = child.kill();
            return Err(e);
        }
    };
    let creds = |id: &str| Credentials {
        id: id.into(),
        secret: PEER_SECRET.into(),
    };
    let ep = endpoints(
        &http,
        &issuer,
        creds("cc-rs256"),
        creds("cc-es256"),
        creds("web"),
    )
    .await;
    let mut target = Target {
        name: "oidc-provider".into(),
        ep: Arc::new(ep?),
        plinto: None,
        cold_start: None,
        warm_start: warm,
        idle_rss_kb: 0,
        child,
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    target.idle_rss_kb = target.rss_kb();
    Ok(target)
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(program))
            .find(|p| p.is_file())
    })
}

/// The endpoints, from the provider's own discovery document.
async fn endpoints(
    http: &reqwest::Client,
    issuer: &str,
    cc_rs256: Credentials,
    cc_es256: Credentials,
    web: Credentials,
) -> anyhow::Result<Endpoints> {
    let discovery = format!("{issuer}/.well-known/openid-configuration");
    let doc: serde_json::Value =
        serde_json::from_slice(&http.get(&discovery).send().await?.bytes().await?)?;
    let field = |k: &str| -> anyhow::Result<String> {
        Ok(doc[k]
            .as_str()
            .with_context(|| format!("{issuer}: no {k} in discovery"))?
            .to_string())
    };
    Ok(Endpoints {
        floor: None,
        jwks: field("jwks_uri")?,
        token: field("token_endpoint")?,
        authorize: field("authorization_endpoint")?,
        introspection: field("introspection_endpoint")?,
        discovery,
        cc_rs256,
        cc_es256,
        web,
        redirect_uri: REDIRECT_URI.into(),
        email: EMAIL.into(),
        password: PASSWORD.into(),
    })
}
