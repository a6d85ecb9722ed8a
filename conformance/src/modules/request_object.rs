//! Request objects (OIDC Core §6): by value and by reference, unsigned; either processed
//! correctly or refused with request_not_supported / request_uri_not_supported.

use anyhow::{Context, Result, bail};
use openidconnect::{CsrfToken, Nonce};
use serde_json::{Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use url::Url;

use super::{Verdict, not_applicable, pass};
use crate::browser::Trace;
use crate::ctx::Ctx;
use crate::flow::{
    AuthParams, NonceRule, Notes, Prepared, as_response, check_error, check_success, prepare,
    redeem, run, unsigned_jwt, verify_id,
};
use crate::http::query_pairs;

/// The request's parameters as request-object claims, with another nonce (the one the ID
/// token must carry if the object is really used, OIDC Core §6.3.3).
fn request_object(ctx: &Ctx, req: &Prepared, inner_nonce: &Nonce) -> String {
    let mut claims = Map::new();
    for (k, v) in query_pairs(&req.url) {
        claims.insert(k, Value::String(v));
    }
    claims.insert("nonce".into(), Value::String(inner_nonce.secret().clone()));
    claims.insert("iss".into(), Value::String(ctx.basic.id.clone()));
    claims.insert("aud".into(), Value::String(ctx.args.issuer.clone()));
    unsigned_jwt(&Value::Object(claims))
}

fn none_alg_listed(ctx: &Ctx) -> bool {
    ctx.raw_meta
        .get("request_object_signing_alg_values_supported")
        .and_then(|v| v.as_array())
        .is_some_and(|a| a.iter().any(|x| x.as_str() == Some("none")))
}

/// By value or by reference.
struct Kind {
    /// `request` or `request_uri`.
    param: &'static str,
    /// The error that means "not supported".
    unsupported: &'static str,
    /// The discovery member that advertises support, and its default.
    flag: &'static str,
    flag_default: bool,
}

const BY_VALUE: Kind = Kind {
    param: "request",
    unsupported: "request_not_supported",
    flag: "request_parameter_supported",
    flag_default: false,
};

const BY_REFERENCE: Kind = Kind {
    param: "request_uri",
    unsupported: "request_uri_not_supported",
    flag: "request_uri_parameter_supported",
    flag_default: true,
};

/// Run the request carrying `kind.param=value`.
async fn run_with(
    ctx: &Ctx,
    notes: &mut Notes,
    kind: &Kind,
    value: &str,
    mut req: Prepared,
    inner_nonce: &Nonce,
) -> Result<Verdict> {
    let (param, unsupported, discovery_flag) = (kind.param, kind.unsupported, kind.flag);
    req.url.query_pairs_mut().append_pair(param, value);
    let b = ctx.browser()?;
    let mut trace = Trace::default();
    let end = run(&b, &req, &mut trace).await?;
    let resp = as_response(&end)?;
    let advertised = ctx.meta_bool(discovery_flag).unwrap_or(kind.flag_default);
    match resp.get("error") {
        Some(e) if e == unsupported => {
            check_error(ctx, &req, &resp, &[unsupported], notes)?;
            if advertised {
                notes.warn(format!(
                    "{unsupported} although discovery says {discovery_flag} is true"
                ));
            }
            pass(format!("rejected with {unsupported}"))
        }
        Some("invalid_request_object") if !none_alg_listed(ctx) && advertised => not_applicable(
            "unsigned request objects are not accepted (none is not in \
             request_object_signing_alg_values_supported); the suite skips this",
        ),
        Some(e) => bail!(
            "error={e} ({:?}); expected success or {unsupported}",
            resp.get("error_description").unwrap_or_default()
        ),
        None => {
            let code = check_success(ctx, &req, &resp)?;
            let tokens = redeem(ctx, &ctx.basic, &code, req.pkce_verifier.as_deref()).await?;
            let idt = tokens
                .id_token
                .clone()
                .context("no id_token in the token response")?;
            verify_id(
                ctx,
                &ctx.basic,
                &idt,
                NonceRule::Equals(inner_nonce),
                Some(&tokens.access_token),
            )
            .context(
                "the ID token must carry the request object's nonce (the object was ignored?)",
            )?;
            if !advertised {
                notes.warn(format!(
                    "processed although discovery says {discovery_flag} is false"
                ));
            }
            pass(format!("{param} processed correctly"))
        }
    }
}

/// oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported.
pub async fn unsigned_by_value(ctx: &Ctx, notes: &mut Notes) -> Result<Verdict> {
    let req = prepare(ctx, &ctx.basic, &AuthParams::default());
    let inner = Nonce::new_random();
    let jwt = request_object(ctx, &req, &inner);
    run_with(ctx, notes, &BY_VALUE, &jwt, req, &inner).await
}

/// oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported. The request
/// object is served from a one-off HTTP server on 127.0.0.1.
pub async fn unsigned_by_reference(ctx: &Ctx, notes: &mut Notes) -> Result<Verdict> {
    let req = prepare(ctx, &ctx.basic, &AuthParams::default());
    let inner = Nonce::new_random();
    let jwt = request_object(ctx, &req, &inner);
    let (uri, server) = serve(jwt).await?;
    let result = run_with(ctx, notes, &BY_REFERENCE, uri.as_str(), req, &inner).await;
    server.abort();
    result
}

/// oidcc-request-uri-signed-rs256.
pub async fn signed_by_reference(ctx: &Ctx, _notes: &mut Notes) -> Result<Verdict> {
    if ctx.meta_bool("request_uri_parameter_supported") == Some(false) {
        return not_applicable("request_uri_parameter_supported is false in discovery");
    }
    not_applicable(
        "needs a client registered with its own JWKS to sign request objects; \
         none is configured",
    )
}

/// Serve `body` as `application/oauth-authz-req+jwt` at a random path on 127.0.0.1.
async fn serve(body: String) -> Result<(Url, JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding the request_uri server")?;
    let addr = listener.local_addr()?;
    let path = format!("/request/{}.jwt", CsrfToken::new_random_len(12).secret());
    let url = Url::parse(&format!("http://{addr}{path}"))?;
    let handle = tokio::spawn(async move {
        // a handful of fetches at most; the task is aborted when the module ends
        for _ in 0..16 {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let mut buf = vec![0u8; 8192];
            let mut read = 0;
            while read < buf.len() {
                match sock.read(&mut buf[read..]).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        read += n;
                        if buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                            break;
                        }
                    }
                }
            }
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/oauth-authz-req+jwt\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{}",
                body.len(),
                body
            );
            let _ = sock.write_all(response.as_bytes()).await;
            let _ = sock.shutdown().await;
        }
    });
    Ok((url, handle))
}
