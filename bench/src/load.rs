//! The load generator: keep-alive HTTP/1.1 connections, one task per connection, each running
//! one operation in a loop until the deadline. A browser flow follows redirects by hand with
//! its own cookie jar, so connections are reused across flows.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use sha2::{Digest, Sha256};
use url::Url;

/// Where a provider's endpoints are, and the clients and account the load uses.
#[derive(Clone, Debug)]
pub struct Endpoints {
    /// The cheapest request the server answers (Plinto: `/health`); the peer has none.
    pub floor: Option<String>,
    pub discovery: String,
    pub jwks: String,
    pub token: String,
    pub authorize: String,
    pub introspection: String,
    /// `client_credentials` clients: RS256 and ES256 access tokens.
    pub cc_rs256: Credentials,
    pub cc_es256: Credentials,
    /// The confidential web client of the code flow (also the introspection caller).
    pub web: Credentials,
    pub redirect_uri: String,
    pub email: String,
    pub password: String,
}

#[derive(Clone, Debug)]
pub struct Credentials {
    pub id: String,
    pub secret: String,
}

impl Credentials {
    fn basic(&self) -> String {
        let raw = format!("{}:{}", form(&self.id), form(&self.secret));
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

fn form(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// What one request (or one whole flow) is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// The HTTP floor: what the server and this load generator manage for a trivial GET.
    Floor,
    Discovery,
    Jwks,
    ClientCredentialsRs256,
    ClientCredentialsEs256,
    Introspection,
    /// Authorization request, sign-in form (password hashed), code, token exchange.
    LoginFlow,
    RefreshRotation,
}

impl Op {
    pub const ALL: [Op; 8] = [
        Op::Floor,
        Op::Discovery,
        Op::Jwks,
        Op::ClientCredentialsRs256,
        Op::ClientCredentialsEs256,
        Op::Introspection,
        Op::LoginFlow,
        Op::RefreshRotation,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Op::Floor => "HTTP floor (GET /health)",
            Op::Discovery => "discovery GET",
            Op::Jwks => "JWKS GET",
            Op::ClientCredentialsRs256 => "client_credentials RS256",
            Op::ClientCredentialsEs256 => "client_credentials ES256",
            Op::Introspection => "introspection",
            Op::LoginFlow => "code flow with login (flows)",
            Op::RefreshRotation => "refresh rotation",
        }
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(1024)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_default()
}

/// One measured run.
#[derive(Clone, Debug, Default)]
pub struct Run {
    pub ok: u64,
    pub errors: u64,
    pub secs: f64,
    pub latencies: Vec<Duration>,
    pub first_error: Option<String>,
}

impl Run {
    pub fn merge(&mut self, other: Run) {
        self.ok += other.ok;
        self.errors += other.errors;
        self.secs += other.secs;
        self.latencies.extend(other.latencies);
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    pub fn rps(&self) -> f64 {
        if self.secs > 0.0 {
            self.ok as f64 / self.secs
        } else {
            0.0
        }
    }

    /// (p50, p99) latency.
    pub fn percentiles(&mut self) -> (Duration, Duration) {
        self.latencies.sort_unstable();
        let n = self.latencies.len();
        let at = |q: f64| {
            if n == 0 {
                Duration::ZERO
            } else {
                self.latencies[((n as f64 * q) as usize).min(n - 1)]
            }
        };
        (at(0.5), at(0.99))
    }
}

/// Run `op` on `connections` connections for `secs` seconds. Per-connection set-up (the
/// first login of a refresh chain) happens before the clock starts.
pub async fn drive(
    http: &reqwest::Client,
    ep: &Arc<Endpoints>,
    op: Op,
    connections: usize,
    secs: f64,
) -> Run {
    // Introspection needs a token to look at: one per run, from a real flow.
    let introspected = if op == Op::Introspection {
        match login_flow(http, ep).await {
            Ok(t) => Some(Arc::new(t.access_token)),
            Err(e) => {
                return Run {
                    errors: 1,
                    first_error: Some(e),
                    ..Run::default()
                };
            }
        }
    } else {
        None
    };
    let barrier = Arc::new(tokio::sync::Barrier::new(connections + 1));
    let start = Arc::new(std::sync::OnceLock::<Instant>::new());
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        let (http, ep, barrier, start) = (http.clone(), ep.clone(), barrier.clone(), start.clone());
        let introspected = introspected.clone();
        tasks.push(tokio::spawn(async move {
            let mut run = Run::default();
            let mut refresh = match op {
                Op::RefreshRotation => match login_flow(&http, &ep).await {
                    Ok(t) => t.refresh_token,
                    Err(e) => {
                        run.first_error = Some(e);
                        None
                    }
                },
                _ => None,
            };
            barrier.wait().await;
            let Some(started) = start.get().copied() else {
                return run;
            };
            let deadline = started + Duration::from_secs_f64(secs);
            while Instant::now() < deadline {
                let t = Instant::now();
                let outcome = match op {
                    Op::Floor => match &ep.floor {
                        Some(url) => get(&http, url).await,
                        None => break,
                    },
                    Op::Discovery => get(&http, &ep.discovery).await,
                    Op::Jwks => get(&http, &ep.jwks).await,
                    Op::ClientCredentialsRs256 => {
                        client_credentials(&http, &ep, &ep.cc_rs256).await
                    }
                    Op::ClientCredentialsEs256 => {
                        client_credentials(&http, &ep, &ep.cc_es256).await
                    }
                    Op::Introspection => match &introspected {
                        Some(token) => introspect(&http, &ep, token).await,
                        None => Err("no token".into()),
                    },
                    Op::LoginFlow => login_flow(&http, &ep).await.map(|_| ()),
                    Op::RefreshRotation => match refresh.take() {
                        Some(rt) => rotate(&http, &ep, &rt)
                            .await
                            .map(|next| refresh = Some(next)),
                        None => Err("no refresh token".into()),
                    },
                };
                match outcome {
                    Ok(()) => {
                        run.ok += 1;
                        run.latencies.push(t.elapsed());
                    }
                    Err(e) => {
                        run.errors += 1;
                        if run.first_error.is_none() {
                            run.first_error = Some(e);
                        }
                        if op == Op::RefreshRotation && refresh.is_none() {
                            break;
                        }
                    }
                }
            }
            run
        }));
    }
    let _ = start.set(Instant::now());
    barrier.wait().await;
    let started = start.get().copied().unwrap_or_else(Instant::now);
    let mut total = Run::default();
    for t in tasks {
        if let Ok(run) = t.await {
            total.merge(run);
        }
    }
    total.secs = started.elapsed().as_secs_f64();
    total
}

async fn get(http: &reqwest::Client, url: &str) -> Result<(), String> {
    let res = http.get(url).send().await.map_err(|e| e.to_string())?;
    let status = res.status();
    let body = res.bytes().await.map_err(|e| e.to_string())?;
    if status.is_success() && !body.is_empty() {
        Ok(())
    } else {
        Err(format!("GET {url}: {status}"))
    }
}

async fn post_form(
    http: &reqwest::Client,
    url: &str,
    auth: &Credentials,
    body: String,
) -> Result<serde_json::Value, String> {
    let res = http
        .post(url)
        .header(AUTHORIZATION, auth.basic())
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = res.status();
    let body = res.bytes().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!(
            "POST {url}: {status} {}",
            String::from_utf8_lossy(&body)
        ));
    }
    serde_json::from_slice(&body).map_err(|e| format!("POST {url}: {e}"))
}

async fn client_credentials(
    http: &reqwest::Client,
    ep: &Endpoints,
    client: &Credentials,
) -> Result<(), String> {
    let v = post_form(
        http,
        &ep.token,
        client,
        "grant_type=client_credentials&scope=reports%3Aread".into(),
    )
    .await?;
    match v["access_token"].as_str() {
        Some(t) if t.split('.').count() == 3 => Ok(()),
        _ => Err(format!("client_credentials: no JWT access token: {v}")),
    }
}

async fn introspect(http: &reqwest::Client, ep: &Endpoints, token: &str) -> Result<(), String> {
    let v = post_form(
        http,
        &ep.introspection,
        &ep.web,
        format!("token={}", form(token)),
    )
    .await?;
    if v["active"] == true {
        Ok(())
    } else {
        Err(format!("introspection: {v}"))
    }
}

async fn rotate(
    http: &reqwest::Client,
    ep: &Endpoints,
    refresh_token: &str,
) -> Result<String, String> {
    let v = post_form(
        http,
        &ep.token,
        &ep.web,
        format!(
            "grant_type=refresh_token&refresh_token={}",
            form(refresh_token)
        ),
    )
    .await?;
    v["refresh_token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("refresh: no new refresh token: {v}"))
}

pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
}

/// Random bytes from v4 UUIDs, base64url: state, nonce and PKCE verifier of a benchmark.
fn random_b64(n: usize) -> String {
    let mut bytes = Vec::with_capacity(n + 16);
    while bytes.len() < n {
        bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    bytes.truncate(n);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The authorization request for the web client, with PKCE: (URL, verifier).
pub fn authorization_request(ep: &Endpoints, extra: &str) -> (String, String) {
    let verifier = random_b64(32);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let url = format!(
        "{}?response_type=code&client_id={}&redirect_uri={}&scope=openid%20email%20offline_access\
         &state={}&nonce={}&code_challenge={challenge}&code_challenge_method=S256{extra}",
        ep.authorize,
        form(&ep.web.id),
        form(&ep.redirect_uri),
        random_b64(12),
        random_b64(12),
    );
    (url, verifier)
}

/// The whole browser flow: authorization request, the sign-in form (the provider hashes the
/// password), back to the authorization endpoint, the code at the redirect URI, the token
/// exchange.
pub async fn login_flow(http: &reqwest::Client, ep: &Endpoints) -> Result<Tokens, String> {
    let (url, verifier) = authorization_request(ep, "");
    let mut jar = Jar::default();
    let code = browse(http, ep, url, &mut jar).await?;
    exchange(http, ep, &code, &verifier).await
}

/// Follow redirects and fill in the sign-in form until the redirect URI carries a code.
pub async fn browse(
    http: &reqwest::Client,
    ep: &Endpoints,
    start: String,
    jar: &mut Jar,
) -> Result<String, String> {
    let mut url = Url::parse(&start).map_err(|e| e.to_string())?;
    let mut post: Option<String> = None;
    for _ in 0..12 {
        let req = match post.take() {
            Some(body) => http
                .post(url.as_str())
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(body),
            None => http.get(url.as_str()),
        };
        let req = if jar.is_empty() {
            req
        } else {
            req.header(COOKIE, jar.header())
        };
        let res = req.send().await.map_err(|e| e.to_string())?;
        jar.absorb(res.headers());
        let status = res.status();
        let location = res
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = res.text().await.map_err(|e| e.to_string())?;
        if status.is_redirection() {
            let next = url
                .join(&location.ok_or("a redirect without Location")?)
                .map_err(|e| e.to_string())?;
            if next.as_str().starts_with(&ep.redirect_uri) {
                return next
                    .query_pairs()
                    .find(|(k, _)| k == "code")
                    .map(|(_, v)| v.into_owned())
                    .ok_or_else(|| format!("no code in {next}"));
            }
            url = next;
        } else if status.is_success() {
            let (action, mut fields) =
                login_form(&body).ok_or_else(|| format!("no sign-in form at {url}"))?;
            fields.push(("email".into(), ep.email.clone()));
            fields.push(("password".into(), ep.password.clone()));
            let mut s = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in &fields {
                s.append_pair(k, v);
            }
            post = Some(s.finish());
            url = url.join(&action).map_err(|e| e.to_string())?;
        } else {
            return Err(format!("{status} at {url}"));
        }
    }
    Err("too many hops".into())
}

async fn exchange(
    http: &reqwest::Client,
    ep: &Endpoints,
    code: &str,
    verifier: &str,
) -> Result<Tokens, String> {
    let v = post_form(
        http,
        &ep.token,
        &ep.web,
        format!(
            "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={verifier}",
            form(code),
            form(&ep.redirect_uri)
        ),
    )
    .await?;
    if v["id_token"].as_str().is_none() {
        return Err(format!("no id_token: {v}"));
    }
    Ok(Tokens {
        access_token: v["access_token"]
            .as_str()
            .ok_or_else(|| format!("no access_token: {v}"))?
            .to_string(),
        refresh_token: v["refresh_token"].as_str().map(str::to_string),
    })
}

/// The cookies of one browser (names are unique per provider here; paths are ignored).
#[derive(Default)]
pub struct Jar(Vec<(String, String)>);

impl Jar {
    pub fn set(&mut self, name: &str, value: &str) {
        self.0.retain(|(n, _)| n != name);
        self.0.push((name.into(), value.into()));
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn absorb(&mut self, headers: &reqwest::header::HeaderMap) {
        for h in headers.get_all(SET_COOKIE) {
            let Ok(h) = h.to_str() else { continue };
            let Some((name, value)) = h.split(';').next().and_then(|p| p.split_once('=')) else {
                continue;
            };
            let lower = h.to_ascii_lowercase();
            let gone = value.is_empty()
                || lower.contains("max-age=0")
                || lower.contains("expires=thu, 01 jan 1970");
            self.0.retain(|(n, _)| n != name.trim());
            if !gone {
                self.0.push((name.trim().into(), value.trim().into()));
            }
        }
    }
}

/// The form with a password field: its action and hidden inputs (HTML entities decoded).
fn login_form(html: &str) -> Option<(String, Vec<(String, String)>)> {
    let mut rest = html;
    while let Some(i) = rest.find("<form") {
        let block = &rest[i..];
        let end = block.find("</form>").unwrap_or(block.len());
        let form = &block[..end];
        rest = &block[end..];
        if !form.contains("type=\"password\"") {
            continue;
        }
        let tag = &form[..form.find('>')?];
        let action = attr(tag, "action")?;
        let mut fields = Vec::new();
        let mut inputs = form;
        while let Some(j) = inputs.find("<input") {
            let t = &inputs[j..];
            let close = t.find('>')?;
            let input = &t[..close];
            if attr(input, "type").as_deref() == Some("hidden")
                && let Some(name) = attr(input, "name")
            {
                fields.push((name, attr(input, "value").unwrap_or_default()));
            }
            inputs = &t[close..];
        }
        return Some((action, fields));
    }
    None
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let len = tag[start..].find('"')?;
    Some(unescape(&tag[start..start + len]))
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let Some(end) = tail.find(';') else {
            out.push_str(tail);
            return out;
        };
        let entity = &tail[1..end];
        let c = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_sign_in_form_and_its_hidden_fields() {
        let html = r#"<form method="post" action="/x"><button>other</button></form>
<form method="post" action="/t/default/login?a=1&#38;b=2" novalidate>
  <input type="hidden" name="csrf_token" value="a&#38;b">
  <input type="hidden" name="return_to" value="/t/default/oauth2/authorize?x=1&amp;y=&#x27;2&#39;">
  <input id="email" name="email" type="email">
  <input id="password" name="password" type="password" required>
</form>"#;
        let (action, fields) = login_form(html).unwrap();
        assert_eq!(action, "/t/default/login?a=1&b=2");
        assert_eq!(
            fields,
            vec![
                ("csrf_token".to_string(), "a&b".to_string()),
                (
                    "return_to".to_string(),
                    "/t/default/oauth2/authorize?x=1&y='2'".to_string()
                ),
            ]
        );
    }

    #[test]
    fn the_jar_keeps_the_latest_value_and_drops_cleared_cookies() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.append(SET_COOKIE, "a=1; Path=/; HttpOnly".parse().unwrap());
        headers.append(SET_COOKIE, "b=2; path=/auth/x".parse().unwrap());
        let mut jar = Jar::default();
        jar.absorb(&headers);
        let mut later = reqwest::header::HeaderMap::new();
        later.append(SET_COOKIE, "a=; Max-Age=0".parse().unwrap());
        later.append(SET_COOKIE, "b=3".parse().unwrap());
        jar.absorb(&later);
        assert_eq!(jar.header(), "b=3");
    }
}
