//! plinto-bench: Plinto (release build, SQLite and PostgreSQL) and panva's oidc-provider side
//! by side on loopback, in one run, alternating A B A B; prints Markdown tables of requests/s,
//! p50/p99 latency, errors, Plinto/peer ratios and shares of the per-core bounds measured in
//! the same run, then start-up times and RSS. Run it through `bench/run.sh`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;

mod bounds;
mod load;
mod scim;
mod sessions;
mod targets;

use load::{Op, Run};
use targets::{Placement, Target};

const USAGE: &str = "plinto-bench [--secs S] [--rounds R] [--connections C] [--sessions N]
             [--pg-url URL | --no-pg] [--no-pin] [--peer-dir DIR] [--only OP,...]

  --secs S         measured seconds per target, op and round (default 5)
  --rounds R       A B A B rounds (default 2)
  --connections C  keep-alive connections of the load generator (default 16)
  --sessions N     sessions for the RSS measurement (default 100000; 0 skips it)
  --pg-url URL     a PostgreSQL server whose database plinto_bench is dropped and recreated
                   (default postgres://postgres@127.0.0.1:5432/postgres)
  --no-pg          SQLite only
  --no-pin         do not pin the servers to CPU 0 (the load generator is pinned to CPU 1
                   by run.sh)
  --peer-dir DIR   the peer's directory (default bench/peer next to this crate)
  --only OPS       a comma-separated subset of: floor,discovery,jwks,cc-rs256,cc-es256,
                   introspection,login,refresh";

struct Args {
    secs: f64,
    rounds: usize,
    connections: usize,
    sessions: usize,
    pg_url: Option<String>,
    pin: bool,
    peer_dir: PathBuf,
    ops: Vec<Op>,
}

fn op_named(name: &str) -> Option<Op> {
    Some(match name {
        "floor" => Op::Floor,
        "discovery" => Op::Discovery,
        "jwks" => Op::Jwks,
        "cc-rs256" => Op::ClientCredentialsRs256,
        "cc-es256" => Op::ClientCredentialsEs256,
        "introspection" => Op::Introspection,
        "login" => Op::LoginFlow,
        "refresh" => Op::RefreshRotation,
        _ => return None,
    })
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        secs: 5.0,
        rounds: 2,
        connections: 16,
        sessions: 100_000,
        pg_url: Some("postgres://postgres@127.0.0.1:5432/postgres".into()),
        pin: true,
        peer_dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("peer"),
        ops: Op::ALL.to_vec(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .with_context(|| format!("{a} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "--secs" => args.secs = value()?.parse()?,
            "--rounds" => args.rounds = value()?.parse()?,
            "--connections" => args.connections = value()?.parse()?,
            "--sessions" => args.sessions = value()?.parse()?,
            "--pg-url" => args.pg_url = Some(value()?),
            "--no-pg" => args.pg_url = None,
            "--no-pin" => args.pin = false,
            "--peer-dir" => args.peer_dir = PathBuf::from(value()?),
            "--only" => {
                args.ops = value()?
                    .split(',')
                    .map(|n| op_named(n).with_context(|| format!("unknown op {n}\n{USAGE}")))
                    .collect::<anyhow::Result<_>>()?
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => anyhow::bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    Ok(args)
}

const SCIM_USAGE: &str =
    "plinto-bench --scim [--users N] [--connections C] [--secs S] [--pg-url URL] [--no-pin]

  SCIM on PostgreSQL: bulk create throughput, then filtered list latency over N users
  (default 100000 users, 8 connections, 10 s per filter)";

fn scim_args(raw: &[String]) -> anyhow::Result<scim::Args> {
    let mut args = scim::Args {
        users: 100_000,
        connections: 8,
        secs: 10.0,
        pg_url: "postgres://postgres@127.0.0.1:5432/postgres".into(),
        pin: true,
    };
    let mut it = raw.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .with_context(|| format!("{a} needs a value\n{SCIM_USAGE}"))
        };
        match a.as_str() {
            "--users" => args.users = value()?.parse()?,
            "--connections" => args.connections = value()?.parse()?,
            "--secs" => args.secs = value()?.parse()?,
            "--pg-url" => args.pg_url = value()?.clone(),
            "--no-pin" => args.pin = false,
            "-h" | "--help" => {
                println!("{SCIM_USAGE}");
                std::process::exit(0);
            }
            other => anyhow::bail!("unknown argument {other}\n{SCIM_USAGE}"),
        }
    }
    Ok(args)
}

/// A fresh PostgreSQL database for the run; `None` (with a note) when the server is not there.
async fn fresh_pg(url: &str) -> Option<String> {
    use sea_orm::ConnectionTrait;
    let admin = match sea_orm::Database::connect(url).await {
        Ok(db) => db,
        Err(e) => {
            eprintln!("PostgreSQL at {url} unreachable ({e}): SQLite only");
            return None;
        }
    };
    for sql in [
        "DROP DATABASE IF EXISTS plinto_bench WITH (FORCE)",
        "CREATE DATABASE plinto_bench",
    ] {
        if let Err(e) = admin.execute_unprepared(sql).await {
            eprintln!("PostgreSQL: {sql}: {e}: SQLite only");
            return None;
        }
    }
    let _ = admin.close().await;
    let (base, _) = url.rsplit_once('/')?;
    Some(format!("{base}/plinto_bench"))
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let raw: Vec<String> = std::env::args().collect();
    if raw.get(1).map(String::as_str) == Some("--bounds") {
        // The child that measures the bounds on the servers' CPU.
        let secs = raw.get(2).and_then(|s| s.parse().ok()).unwrap_or(1.5);
        println!("{}", bounds::measure(secs).to_line());
        return Ok(());
    }
    if raw.get(1).map(String::as_str) == Some("--scim") {
        return scim::run(scim_args(&raw[2..])?).await;
    }
    let args = parse_args()?;
    // reqwest is built without a TLS provider of its own here (Plinto's choice); loopback
    // needs none, but the client must have one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let began = Instant::now();
    let bin = std::env::current_exe()?
        .parent()
        .context("no directory")?
        .join("plinto");
    anyhow::ensure!(
        bin.is_file(),
        "{} is missing: build it first (bench/run.sh does)",
        bin.display()
    );
    let cpus = online_cpus();
    let pinned = args.pin && cpus >= 2 && which_taskset();
    let place = Placement {
        server_cpu: pinned.then_some(0),
    };
    let server_cores = if pinned { 1.0 } else { cpus as f64 };

    eprintln!("measuring per-core bounds ...");
    let bounds_before = bounds::Bounds::on_cpu(place.server_cpu, 1.5);

    eprintln!("starting the servers ...");
    let dir = tempfile::tempdir()?;
    let mut targets: Vec<Target> = Vec::new();
    let sqlite_dir = dir.path().join("sqlite");
    std::fs::create_dir_all(&sqlite_dir)?;
    let sqlite_url = format!(
        "sqlite://{}?mode=rwc",
        sqlite_dir.join("plinto.db").display()
    );
    targets.push(targets::plinto("Plinto SQLite", &bin, sqlite_dir, sqlite_url, &place).await?);
    if let Some(url) = &args.pg_url
        && let Some(db_url) = fresh_pg(url).await
    {
        let pg_dir = dir.path().join("pg");
        std::fs::create_dir_all(&pg_dir)?;
        targets.push(targets::plinto("Plinto PostgreSQL", &bin, pg_dir, db_url, &place).await?);
    }
    targets.push(targets::peer(&args.peer_dir, &place).await?);
    let peer = targets.len() - 1;

    let http = load::client();
    let mut results: Vec<(Op, Vec<Run>)> = Vec::new();
    for &op in &args.ops {
        eprintln!("{} ...", op.label());
        let mut runs = vec![Run::default(); targets.len()];
        for t in &targets {
            load::drive(&http, &t.ep, op, args.connections, 1.0).await;
        }
        for _ in 0..args.rounds {
            for (i, t) in targets.iter().enumerate() {
                let r = load::drive(&http, &t.ep, op, args.connections, args.secs).await;
                runs[i].merge(r);
            }
        }
        results.push((op, runs));
    }
    let after_load: Vec<u64> = targets.iter().map(Target::rss_kb).collect();
    let bounds = bounds_before.mean(bounds::Bounds::on_cpu(place.server_cpu, 1.5));

    let mut session_runs: Vec<Option<Run>> = vec![None; targets.len()];
    let mut after_sessions: Vec<Option<u64>> = vec![None; targets.len()];
    if args.sessions > 0 {
        for (i, t) in targets.iter().enumerate() {
            eprintln!("{}: {} sessions ...", t.name, args.sessions);
            if t.plinto.is_some() {
                session_runs[i] = Some(sessions::plinto(t, args.sessions, args.connections).await?);
            } else {
                sessions::peer(t, args.sessions).await?;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            after_sessions[i] = Some(t.rss_kb());
        }
    }

    // The report.
    println!(
        "\nLoopback, {cpus} CPUs; servers {}; {} keep-alive connections; {} round(s) of {} s per \
         target and case, alternating; bounds per core, times the server's cores ({server_cores}).\n",
        if pinned {
            "pinned to CPU 0 (Plinto with 1 worker), load generator on CPU 1"
        } else {
            "unpinned"
        },
        args.connections,
        args.rounds,
        args.secs
    );
    println!("| case | server | req/s | p50 ms | p99 ms | errors | vs peer | bound/s | of bound |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for (op, runs) in &mut results {
        let peer_rps = runs[peer].rps();
        let bound = bounds.for_op(*op).map(|b| b * server_cores);
        for (i, t) in targets.iter().enumerate() {
            if t.ep.floor.is_none() && *op == Op::Floor {
                continue;
            }
            let r = &mut runs[i];
            let (p50, p99) = r.percentiles();
            let ratio = if i == peer || peer_rps == 0.0 {
                "".to_string()
            } else {
                format!("{:.1}×", r.rps() / peer_rps)
            };
            let share = match bound {
                Some(b) if i != peer => format!("{:.0}%", 100.0 * r.rps() / b),
                _ => "".into(),
            };
            println!(
                "| {} | {} | {:.0} | {} | {} | {} | {} | {} | {} |",
                op.label(),
                t.name,
                r.rps(),
                ms(p50),
                ms(p99),
                r.errors,
                ratio,
                bound.map_or(String::new(), |b| format!("{b:.0}")),
                share
            );
            if let Some(e) = &r.first_error {
                eprintln!("{} / {}: first error: {e}", op.label(), t.name);
            }
        }
    }

    println!(
        "\n| server | start to ready (empty DB) | start to ready (restart) | idle RSS | RSS after the load | RSS after {} sessions |",
        args.sessions
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for (i, t) in targets.iter().enumerate() {
        println!(
            "| {} | {} | {} ms | {} | {} | {} |",
            t.name,
            t.cold_start
                .map_or("n/a".into(), |d| format!("{} ms", ms(d))),
            ms(t.warm_start),
            mb(t.idle_rss_kb),
            mb(after_load[i]),
            after_sessions[i].map_or("skipped".into(), mb),
        );
    }
    for (i, t) in targets.iter().enumerate() {
        if let Some(r) = &mut session_runs[i] {
            let (p50, p99) = r.percentiles();
            println!(
                "\n{}: {} sessions each used once (authorization request, prompt=none): {:.0}/s, \
                 p50 {} ms, p99 {} ms, {} errors{}",
                t.name,
                r.ok,
                r.rps(),
                ms(p50),
                ms(p99),
                r.errors,
                r.first_error
                    .as_ref()
                    .map_or(String::new(), |e| format!(" (first: {e})"))
            );
        }
    }
    println!(
        "\nPer-core bounds on the servers' CPU, mean of before and after the load: {}",
        bounds.describe()
    );
    println!("Whole run: {:.0} s.", began.elapsed().as_secs_f64());
    let errors: u64 = results
        .iter()
        .flat_map(|(_, runs)| runs.iter())
        .chain(session_runs.iter().flatten())
        .map(|r| r.errors)
        .sum();
    anyhow::ensure!(
        errors == 0,
        "{errors} failed requests: see the first errors above"
    );
    Ok(())
}

/// CPUs of the machine (not of this process, which run.sh pins to one).
fn online_cpus() -> usize {
    std::fs::read_to_string("/proc/cpuinfo")
        .map(|s| s.lines().filter(|l| l.starts_with("processor")).count())
        .ok()
        .filter(|n| *n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn which_taskset() -> bool {
    std::process::Command::new("taskset")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}
