//! RSS after many signed-in sessions. Signing in 100k times would measure argon2 for an hour,
//! so sessions are created in each provider's own store instead: Plinto's rows are written to
//! its database (as `sessions::create` writes them) and then each is used once over HTTP, for
//! an authorization request with `prompt=none`; the peer stores them through its own Session
//! model (`POST /bench/sessions`), where they stay in memory.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::Duration;
use entity::{session, user};
use plinto::config::{Config, Secret};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};

use crate::load::{self, Jar, Run};
use crate::targets::{EMAIL, Target};

/// Create `n` sessions for the benchmark account and use each once; returns the run of uses.
pub async fn plinto(target: &Target, n: usize, connections: usize) -> anyhow::Result<Run> {
    let Some(setup) = &target.plinto else {
        anyhow::bail!("not a Plinto target");
    };
    let config = Config {
        database_url: Some(Secret(setup.database_url.clone())),
        data_dir: setup.data_dir.clone(),
        log: "warn".into(),
        ..Config::default()
    };
    let state = plinto::server::build_state(config, Arc::new(plinto::clock::SystemClock)).await?;
    let account = user::Entity::find()
        .filter(user::Column::Email.eq(EMAIL))
        .one(&state.db)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no benchmark account"))?;
    let now = chrono::Utc::now();
    let mut tokens = Vec::with_capacity(n);
    while tokens.len() < n {
        let mut rows = Vec::new();
        for _ in 0..(n - tokens.len()).min(1000) {
            let token = plinto::crypto::random_token(32)?;
            rows.push(session::ActiveModel {
                id: Set(uuid::Uuid::now_v7()),
                tenant_id: Set(account.tenant_id),
                user_id: Set(account.id),
                token_hash: Set(state.keys.session.hash_hex(token.as_bytes())),
                ip: Set(None),
                user_agent: Set(None),
                created_at: Set(now),
                last_seen_at: Set(now),
                expires_at: Set(now + Duration::hours(24)),
                revoked_at: Set(None),
                amr: Set("pwd".into()),
                mfa_at: Set(None),
                auth_at: Set(Some(now)),
            });
            tokens.push(token);
        }
        session::Entity::insert_many(rows).exec(&state.db).await?;
    }
    state.db.close().await?;

    let queue = Arc::new(Mutex::new(tokens));
    let http = load::client();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (queue, http, ep) = (queue.clone(), http.clone(), target.ep.clone());
        tasks.push(tokio::spawn(async move {
            let mut run = Run::default();
            loop {
                let next = queue.lock().ok().and_then(|mut q| q.pop());
                let Some(token) = next else { break };
                let t = Instant::now();
                let mut jar = Jar::default();
                jar.set("plinto-session-default", &token);
                let (url, _) = load::authorization_request(&ep, "&prompt=none");
                match load::browse(&http, &ep, url, &mut jar).await {
                    Ok(_) => {
                        run.ok += 1;
                        run.latencies.push(t.elapsed());
                    }
                    Err(e) => {
                        run.errors += 1;
                        run.first_error.get_or_insert(e);
                    }
                }
            }
            run
        }));
    }
    let mut total = Run::default();
    for t in tasks {
        if let Ok(run) = t.await {
            total.merge(run);
        }
    }
    total.secs = started.elapsed().as_secs_f64();
    Ok(total)
}

/// Have the peer store `n` sessions of the benchmark account.
pub async fn peer(target: &Target, n: usize) -> anyhow::Result<()> {
    let issuer = target
        .ep
        .discovery
        .trim_end_matches("/.well-known/openid-configuration");
    let res = load::client()
        .post(format!("{issuer}/bench/sessions?n={n}"))
        .send()
        .await?;
    anyhow::ensure!(res.status().is_success(), "peer: {}", res.status());
    Ok(())
}
