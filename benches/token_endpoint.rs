//! Token endpoint throughput: `client_credentials` with RS256 and with ES256 access tokens,
//! against a real Plinto (release build) on loopback, next to the per-core signing bound.
//!
//!     cargo bench --bench token_endpoint
//!
//! Settings (environment): `PLINTO_BENCH_SECS` (measured seconds per case, default 10),
//! `PLINTO_BENCH_CONCURRENCY` (client tasks, default 16), `PLINTO_BENCH_WORKERS` (server
//! workers, default 1: the load generator needs the other core), `PLINTO_BENCH_DATABASE_URL`
//! (default: a fresh SQLite file).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use josekit::jws::{ES256, JwsHeader, JwsSigner, RS256};
use josekit::jwt::JwtPayload;
use plinto::clients::NewClient;
use plinto::clock::SystemClock;
use plinto::config::{Config, Secret};

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Signatures per second on one core, for a payload like an access token's.
fn signing_bound(alg: &str, secs: f64) -> f64 {
    let signer: Box<dyn JwsSigner> = match alg {
        "RS256" => Box::new(
            RS256
                .signer_from_der(RS256.generate_key_pair(2048).unwrap().to_der_private_key())
                .unwrap(),
        ),
        _ => Box::new(
            ES256
                .signer_from_der(ES256.generate_key_pair().unwrap().to_der_private_key())
                .unwrap(),
        ),
    };
    let mut header = JwsHeader::new();
    header.set_token_type("at+jwt");
    header.set_key_id("k");
    let mut p = JwtPayload::new();
    p.set_issuer("http://127.0.0.1:8080/t/default");
    p.set_subject("client-id-0123456789");
    p.set_claim("scope", Some("reports:read".into())).unwrap();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < secs {
        josekit::jwt::encode_with_signer(&p, &header, signer.as_ref()).unwrap();
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

struct Run {
    rps: f64,
    p50: Duration,
    p99: Duration,
    errors: u64,
}

async fn drive(url: String, id: String, secret: String, concurrency: u64, secs: u64) -> Run {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency as usize)
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (http, url, id, secret) = (http.clone(), url.clone(), id.clone(), secret.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let t = Instant::now();
                let res = http
                    .post(&url)
                    .basic_auth(&id, Some(&secret))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body("grant_type=client_credentials")
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        lat.push(t.elapsed());
                    }
                    _ => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.unwrap();
        all.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |q: f64| {
        all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Run {
        rps: all.len() as f64 / elapsed,
        p50: pct(0.50),
        p99: pct(0.99),
        errors,
    }
}

fn main() {
    let secs = env_num("PLINTO_BENCH_SECS", 10);
    let concurrency = env_num("PLINTO_BENCH_CONCURRENCY", 16);
    let workers = env_num("PLINTO_BENCH_WORKERS", 1) as usize;
    let bounds: Vec<(&str, f64)> = ["RS256", "ES256"]
        .into_iter()
        .map(|alg| (alg, signing_bound(alg, 2.0)))
        .collect();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let database_url = std::env::var("PLINTO_BENCH_DATABASE_URL").unwrap_or_else(|_| {
            format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("bench.db").display()
            )
        });
        let backend = database_url.split(':').next().unwrap_or("").to_string();
        let config = Config {
            listen: addr.to_string(),
            public_url: Some(format!("http://{addr}")),
            data_dir: dir.path().to_path_buf(),
            database_url: Some(Secret(database_url)),
            bootstrap_admin_password: Some(Secret("bench admin password".into())),
            workers,
            log: "warn".into(),
            ..Config::default()
        };
        let (state, _) = plinto::server::prepare(config, Arc::new(SystemClock), true)
            .await
            .unwrap();
        let server = plinto::server::serve(state.clone(), listener).unwrap();
        let handle = server.handle();
        tokio::spawn(server);
        let tenant = plinto::tenants::find_by_slug(&state.db, "default")
            .await
            .unwrap()
            .unwrap();
        let url = format!("http://{addr}/t/default/oauth2/token");

        println!(
            "token endpoint, client_credentials: {backend}, {workers} server worker(s), \
             {concurrency} connections, {secs} s per case, loopback"
        );
        println!(
            "{:<8} {:>10} {:>10} {:>10} {:>8} {:>14} {:>10}",
            "alg", "req/s", "p50 ms", "p99 ms", "errors", "sign bound/s", "of bound"
        );
        for (alg, bound) in bounds {
            let created = plinto::clients::create(
                &state.db,
                state.now(),
                &state.keys.client_secret,
                tenant.id,
                NewClient {
                    name: format!("bench {alg}"),
                    grant_types: vec!["client_credentials".into()],
                    scopes: vec!["reports:read".into()],
                    id_token_signed_response_alg: Some(alg.into()),
                    ..Default::default()
                },
                "bench",
                &Default::default(),
            )
            .await
            .unwrap();
            let (id, secret) = (created.client.client_id, created.secret.unwrap());
            // Warm up: connections, caches, the decrypted signing key.
            drive(url.clone(), id.clone(), secret.clone(), concurrency, 2).await;
            let r = drive(url.clone(), id, secret, concurrency, secs).await;
            println!(
                "{:<8} {:>10.0} {:>10.2} {:>10.2} {:>8} {:>14.0} {:>9.0}%",
                alg,
                r.rps,
                r.p50.as_secs_f64() * 1000.0,
                r.p99.as_secs_f64() * 1000.0,
                r.errors,
                bound,
                100.0 * r.rps / (bound * workers as f64)
            );
        }
        handle.stop(true).await;
    });
}
