//! plinto-conformance: replays the checks of the OpenID Foundation conformance-suite modules
//! (Basic, Config, Form Post and RP-Initiated Logout OP plans) against a running Plinto, with
//! the `openidconnect` crate as the relying party and a scripted browser for the hosted pages.
//!
//! Prints one line per module (`PASS`, `FAIL` or `N/A` and a short reason), then
//! `N passed, M failed`; exits 0 iff nothing failed.

mod browser;
mod ctx;
mod flow;
mod html;
mod http;
mod modules;

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use clap::Parser;

use crate::ctx::{Args, Ctx};
use crate::flow::Notes;
use crate::http::OidcHttp;
use crate::modules::{DISCOVERY, MODULES, Verdict};

/// A module that takes longer than this fails.
const MODULE_TIMEOUT: Duration = Duration::from_secs(240);

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("plinto-conformance: {e:#}");
            ExitCode::from(2)
        }
    }
}

enum Status {
    Pass,
    Fail,
    NotApplicable,
}

async fn run() -> Result<ExitCode> {
    // reqwest is built without a default TLS provider: use ring's
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args = Args::parse();
    let selected: Vec<&str> = MODULES
        .iter()
        .copied()
        .filter(|m| args.only.as_deref().is_none_or(|o| m.contains(o)))
        .collect();
    if selected.is_empty() {
        bail!("no module name contains {:?}", args.only);
    }
    let http = OidcHttp::new()?;
    let needs_setup = selected.iter().any(|m| *m != DISCOVERY);
    let ctx = if needs_setup {
        Some(Ctx::setup(args.clone(), http.clone()).await)
    } else {
        None
    };
    let width = selected.iter().map(|m| m.len()).max().unwrap_or(0);
    let (mut passed, mut failed) = (0, 0);
    for name in selected {
        eprintln!("running {name}");
        let started = Instant::now();
        let mut notes = Notes::default();
        let fut = async {
            if name == DISCOVERY {
                modules::config::discovery(&args, &http, &mut notes).await
            } else {
                match &ctx {
                    Some(Ok(ctx)) => modules::run(name, ctx, &mut notes).await,
                    Some(Err(e)) => Err(anyhow!("set-up failed: {e:#}")),
                    None => Err(anyhow!("set-up was skipped")),
                }
            }
        };
        let limit = MODULE_TIMEOUT + Duration::from_secs(args.code_reuse_wait_secs);
        let result = match tokio::time::timeout(limit, fut).await {
            Ok(r) => r,
            Err(_) => Err(anyhow!("timed out after {} s", limit.as_secs())),
        };
        let (status, mut reason) = match result {
            Ok(Verdict::Pass(r)) => (Status::Pass, r),
            Ok(Verdict::NotApplicable(r)) => (Status::NotApplicable, r),
            Err(e) => (Status::Fail, format!("{e:#}")),
        };
        if !notes.warnings.is_empty() {
            reason.push_str(&format!(" [warnings: {}]", notes.warnings.join("; ")));
        }
        let reason = one_line(&reason);
        let label = match status {
            Status::Pass => {
                passed += 1;
                "PASS"
            }
            Status::Fail => {
                failed += 1;
                "FAIL"
            }
            Status::NotApplicable => "N/A ",
        };
        println!("{name:<width$}  {label}  {reason}");
        let _ = std::io::stdout().flush();
        eprintln!(
            "finished {name} in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
