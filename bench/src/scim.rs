//! `plinto-bench --scim`: SCIM on PostgreSQL. Provisions `--users` users through `/Bulk`
//! (1,000 operations per request, up to 4 requests in flight: the bulk create throughput),
//! then measures filtered `GET /Users` latency (p50/p99) for the lookups provisioning clients
//! make, over that many users.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};

use crate::load::{self, Run};
use crate::targets::{self, Placement};

pub struct Args {
    pub users: usize,
    pub connections: usize,
    pub secs: f64,
    pub pg_url: String,
    pub pin: bool,
}

const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PER_REQUEST: usize = 1000;

fn user(i: usize) -> Value {
    json!({
        "schemas": [USER, ENTERPRISE],
        "userName": format!("user{i}@example.com"),
        "externalId": format!("ext-{i}"),
        "name": { "givenName": format!("Given{i}"), "familyName": format!("Family{}", i % 5000) },
        "displayName": format!("User {i}"),
        "title": format!("Title {}", i % 50),
        "active": !i.is_multiple_of(10),
        "emails": [
            { "value": format!("user{i}@example.com"), "type": "work", "primary": true },
            { "value": format!("home{i}@example.net"), "type": "home" }
        ],
        ENTERPRISE: { "department": format!("Dept {}", i % 100), "employeeNumber": i.to_string() }
    })
}

/// A cheap deterministic sequence of user numbers (no RNG dependency).
fn pick(n: &mut u64, max: usize) -> usize {
    *n = n
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((*n >> 33) as usize) % max
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let bin = std::env::current_exe()?
        .parent()
        .context("no directory")?
        .join("plinto");
    anyhow::ensure!(
        bin.is_file(),
        "{} is missing: build it first",
        bin.display()
    );
    let place = Placement {
        server_cpu: (args.pin && crate::online_cpus() >= 2 && crate::which_taskset()).then_some(0),
    };
    let db_url = crate::fresh_pg(&args.pg_url)
        .await
        .context("the SCIM bench needs PostgreSQL")?;
    // Statistics as autovacuum keeps them (it is off on some machines, and a table that was
    // never analyzed gets sequential-scan plans that the connections then keep).
    let stats = sea_orm::Database::connect(&db_url).await?;
    let analyze = || async {
        use sea_orm::ConnectionTrait;
        stats
            .execute_unprepared("ANALYZE users, audit_events, scim_groups, scim_group_members")
            .await
    };
    let dir = tempfile::tempdir()?;
    let target = targets::plinto(
        "Plinto PostgreSQL",
        &bin,
        dir.path().to_path_buf(),
        db_url,
        &place,
    )
    .await?;
    let setup = target.plinto.as_ref().context("a Plinto target")?;
    let token = targets::cli(
        setup,
        &[
            "scim-token",
            "create",
            "--tenant",
            "default",
            "--name",
            "bench",
        ],
    )?["token"]
        .as_str()
        .context("token")?
        .to_string();
    analyze().await?;
    let base = Arc::new(format!("{}/t/default/scim/v2", setup.base));
    let token = Arc::new(token);
    let http = load::client();

    // Bulk create.
    eprintln!("creating {} users through /Bulk ...", args.users);
    let requests: Vec<Value> = (0..args.users.div_ceil(PER_REQUEST))
        .map(|r| {
            let ops: Vec<Value> = (r * PER_REQUEST..((r + 1) * PER_REQUEST).min(args.users))
                .map(|i| json!({ "method": "POST", "path": "/Users", "bulkId": format!("u{i}"), "data": user(i) }))
                .collect();
            json!({ "schemas": [BULK], "Operations": ops })
        })
        .collect();
    let queue = Arc::new(tokio::sync::Mutex::new(requests));
    // A bulk request of 1,000 creations takes longer than the load client's timeout allows.
    let bulk_http = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    // Each finished request reports its operations, so that the table is analyzed as it grows.
    let (progress, mut finished) = tokio::sync::mpsc::unbounded_channel::<usize>();
    for _ in 0..args.connections.clamp(1, 4) {
        let (queue, http, base, token, progress) = (
            queue.clone(),
            bulk_http.clone(),
            base.clone(),
            token.clone(),
            progress.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut created = 0usize;
            let mut failed = 0usize;
            loop {
                let Some(body) = queue.lock().await.pop() else {
                    break;
                };
                let res = http
                    .post(format!("{base}/Bulk"))
                    .bearer_auth(token.as_str())
                    .header("content-type", "application/scim+json")
                    .body(body.to_string())
                    .send()
                    .await;
                let text = match res {
                    Ok(r) => r.text().await.unwrap_or_default(),
                    Err(e) => {
                        failed += PER_REQUEST;
                        eprintln!("bulk: {e}");
                        let _ = progress.send(PER_REQUEST);
                        continue;
                    }
                };
                let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                for op in v["Operations"].as_array().into_iter().flatten() {
                    if op["status"] == "201" {
                        created += 1;
                    } else {
                        failed += 1;
                    }
                }
                let _ = progress.send(PER_REQUEST);
            }
            (created, failed)
        }));
    }
    drop(progress);
    // Analyze as the table grows (autovacuum's default: after 10% of the rows change). The
    // channel closes when every task has ended.
    let (mut done, mut analyzed_at) = (0usize, 0usize);
    while let Some(ops) = finished.recv().await {
        done += ops;
        if done >= (analyzed_at * 11 / 10).max(2 * PER_REQUEST) {
            analyze().await?;
            analyzed_at = done;
        }
    }
    let (mut created, mut failed) = (0, 0);
    for t in tasks {
        let (c, f) = t.await?;
        created += c;
        failed += f;
    }
    let bulk_secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(created > 0, "no user was created");
    analyze().await?;

    // Filtered lists.
    let n = args.users.max(1);
    type Make = fn(usize) -> String;
    let queries: Vec<(&str, Make)> = vec![
        ("userName eq (indexed column)", |i| {
            format!("userName eq \"USER{i}@example.com\"")
        }),
        ("externalId eq (indexed column)", |i| {
            format!("externalId eq \"ext-{i}\"")
        }),
        ("emails[type eq \"work\"].value eq (JSON array)", |i| {
            format!("emails[type eq \"work\"].value eq \"user{i}@example.com\"")
        }),
        ("name.familyName eq (JSON), count=10", |i| {
            format!("name.familyName eq \"Family{}\"", i % 5000)
        }),
        ("title eq and active eq, count=10", |i| {
            format!("title eq \"Title {}\" and active eq true", i % 50)
        }),
        ("enterprise department eq, count=10", |i| {
            format!("{ENTERPRISE}:department eq \"Dept {}\"", i % 100)
        }),
        ("displayName sw, count=10", |i| {
            format!("displayName sw \"User {}\"", i % 1000)
        }),
    ];
    let mut rows = Vec::new();
    for (label, make) in queries {
        eprintln!("{label} ...");
        let mut run = Run::default();
        let deadline = Instant::now() + Duration::from_secs_f64(args.secs);
        let mut tasks = Vec::new();
        for c in 0..args.connections {
            let (http, base, token) = (http.clone(), base.clone(), token.clone());
            tasks.push(tokio::spawn(async move {
                let mut run = Run::default();
                let mut seed = c as u64 + 1;
                let began = Instant::now();
                while Instant::now() < deadline {
                    let f = make(pick(&mut seed, n));
                    let q: String = url::form_urlencoded::Serializer::new(String::new())
                        .append_pair("filter", &f)
                        .append_pair("count", "10")
                        .finish();
                    let t = Instant::now();
                    let res = http
                        .get(format!("{base}/Users?{q}"))
                        .bearer_auth(token.as_str())
                        .send()
                        .await;
                    let ok = match res {
                        Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                        Ok(r) => {
                            if run.first_error.is_none() {
                                run.first_error = Some(format!(
                                    "{} {}",
                                    r.status(),
                                    r.text().await.unwrap_or_default()
                                ));
                            }
                            false
                        }
                        Err(e) => {
                            run.first_error.get_or_insert(e.to_string());
                            false
                        }
                    };
                    if ok {
                        run.ok += 1;
                        run.latencies.push(t.elapsed());
                    } else {
                        run.errors += 1;
                    }
                }
                run.secs = began.elapsed().as_secs_f64();
                run
            }));
        }
        for t in tasks {
            let r = t.await?;
            let secs = r.secs;
            run.merge(r);
            run.secs = secs.max(run.secs.min(secs));
        }
        run.secs = args.secs;
        let (p50, p99) = run.percentiles();
        if let Some(e) = &run.first_error {
            eprintln!("  first error: {e}");
        }
        rows.push((label.to_string(), run.rps(), p50, p99, run.errors));
    }

    println!("## SCIM on PostgreSQL, {} users\n", args.users);
    println!(
        "Bulk create: {created} users in {bulk_secs:.1} s = **{:.0} users/s** ({} failed; {} operations per request, {} requests in flight)\n",
        created as f64 / bulk_secs,
        failed,
        PER_REQUEST,
        args.connections.clamp(1, 4)
    );
    println!("| filtered GET /Users | req/s | p50 ms | p99 ms | errors |");
    println!("|---|---:|---:|---:|---:|");
    for (label, rps, p50, p99, errors) in rows {
        println!(
            "| {label} | {rps:.0} | {} | {} | {errors} |",
            crate::ms(p50),
            crate::ms(p99)
        );
    }
    drop(target);
    Ok(())
}
