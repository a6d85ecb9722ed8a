//! The Config OP plan: oidcc-discovery-endpoint-verification (OpenID Connect Discovery 1.0
//! §3 and §4, RFC 8414, RFC 7517).

use std::net::IpAddr;

use anyhow::{Result, anyhow, bail, ensure};
use openidconnect::ProviderMetadataWithLogout;
use openidconnect::core::CoreJsonWebKeySet;
use serde_json::Value;
use url::Url;

use super::{Verdict, pass};
use crate::ctx::{Args, discovery_url};
use crate::flow::Notes;
use crate::http::{OidcHttp, snippet};

/// https, or http on a loopback address (a local test deployment).
pub fn secure_or_loopback(u: &Url) -> bool {
    match u.scheme() {
        "https" => true,
        "http" => match u.host() {
            Some(url::Host::Domain(d)) => d == "localhost",
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
            None => false,
        },
        _ => false,
    }
}

fn strings<'a>(doc: &'a Value, name: &str) -> Result<Option<Vec<&'a str>>> {
    match doc.get(name) {
        None => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| anyhow!("{name} has a member that is not a string"))
            })
            .collect::<Result<Vec<_>>>()
            .map(Some),
        Some(other) => bail!("{name} is not a JSON array: {other}"),
    }
}

fn required_strings<'a>(doc: &'a Value, name: &str) -> Result<Vec<&'a str>> {
    let list = strings(doc, name)?.ok_or_else(|| anyhow!("{name} is missing (required)"))?;
    ensure!(!list.is_empty(), "{name} is empty");
    Ok(list)
}

/// RFC 6749 §3.3 scope-token: 1*( %x21 / %x23-5B / %x5D-7E ).
fn scope_token_valid(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| {
            let c = c as u32;
            c == 0x21 || (0x23..=0x5B).contains(&c) || (0x5D..=0x7E).contains(&c)
        })
}

/// A BCP 47 language tag, loosely: alpha 2-8, then alphanumeric subtags of 1-8.
fn language_tag_valid(s: &str) -> bool {
    let mut parts = s.split('-');
    let first_ok = parts
        .next()
        .is_some_and(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphabetic()));
    first_ok
        && parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Canonical casing: language lower case, region upper case, script title case.
fn language_tag_canonical(s: &str) -> bool {
    s.split('-').enumerate().all(|(i, p)| {
        if i == 0 {
            p.chars().all(|c| c.is_ascii_lowercase())
        } else if p.len() == 2 && p.chars().all(|c| c.is_ascii_alphabetic()) {
            p.chars().all(|c| c.is_ascii_uppercase())
        } else if p.len() == 4 && p.chars().all(|c| c.is_ascii_alphabetic()) {
            p.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                && p.chars().skip(1).all(|c| c.is_ascii_lowercase())
        } else {
            true
        }
    })
}

/// oidcc-discovery-endpoint-verification.
pub async fn discovery(args: &Args, http: &OidcHttp, notes: &mut Notes) -> Result<Verdict> {
    let url = discovery_url(&args.issuer);
    let raw = http.get(&url, None).await?;
    ensure!(
        raw.status == 200,
        "{url} answered HTTP {}: {}",
        raw.status,
        snippet(&raw.text())
    );
    let mt = raw.media_type();
    ensure!(
        mt == "application/json",
        "discovery Content-Type is {mt:?}, expected application/json (OIDCD §4.2)"
    );
    let doc = raw.json()?;
    ensure!(
        doc.is_object(),
        "the discovery document is not a JSON object"
    );

    // issuer
    let issuer = doc
        .get("issuer")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("issuer is missing"))?;
    ensure!(
        issuer == args.issuer,
        "issuer is {issuer:?}, expected exactly {:?} (OIDCD §4.3)",
        args.issuer
    );
    let issuer_url = Url::parse(issuer).map_err(|e| anyhow!("issuer is not a URL: {e}"))?;
    ensure!(
        issuer_url.query().is_none() && issuer_url.fragment().is_none(),
        "the issuer must have no query or fragment"
    );
    ensure!(
        secure_or_loopback(&issuer_url),
        "the issuer must be https (http only on loopback): {issuer}"
    );

    // endpoints
    for name in ["authorization_endpoint", "token_endpoint", "jwks_uri"] {
        ensure!(
            doc.get(name).and_then(Value::as_str).is_some(),
            "{name} is missing (required for the code flow)"
        );
    }
    if doc.get("userinfo_endpoint").is_none() {
        notes.warn("no userinfo_endpoint (recommended)");
    }
    let mut endpoints = 0;
    if let Some(obj) = doc.as_object() {
        for (name, v) in obj {
            let is_endpoint =
                name.ends_with("_endpoint") || name == "jwks_uri" || name == "check_session_iframe";
            if !is_endpoint {
                continue;
            }
            let s = v
                .as_str()
                .ok_or_else(|| anyhow!("{name} is not a string"))?;
            let u = Url::parse(s).map_err(|e| anyhow!("{name} {s:?} is not a URL: {e}"))?;
            ensure!(
                secure_or_loopback(&u),
                "{name} must be https (http only on loopback): {s}"
            );
            ensure!(u.fragment().is_none(), "{name} has a fragment");
            endpoints += 1;
        }
    }

    // response types, modes, subjects, algorithms
    let response_types = required_strings(&doc, "response_types_supported")?;
    ensure!(
        response_types.contains(&"code"),
        "response_types_supported lacks code: {response_types:?}"
    );
    if let Some(modes) = strings(&doc, "response_modes_supported")? {
        ensure!(
            modes.contains(&"query"),
            "response_modes_supported lacks query: {modes:?}"
        );
    }
    let subject_types = required_strings(&doc, "subject_types_supported")?;
    for s in &subject_types {
        ensure!(
            *s == "public" || *s == "pairwise",
            "subject_types_supported has {s:?} (public or pairwise)"
        );
    }
    let id_algs = required_strings(&doc, "id_token_signing_alg_values_supported")?;
    ensure!(
        id_algs.contains(&"RS256"),
        "id_token_signing_alg_values_supported lacks RS256 (OIDCD §3): {id_algs:?}"
    );
    if id_algs.contains(&"none") {
        notes.warn("id_token_signing_alg_values_supported lists none");
    }
    if let Some(algs) = strings(&doc, "userinfo_signing_alg_values_supported")? {
        ensure!(
            !algs.is_empty(),
            "userinfo_signing_alg_values_supported is empty"
        );
    }
    if let Some(algs) = strings(&doc, "request_object_signing_alg_values_supported")?
        && !algs.contains(&"RS256")
    {
        notes.warn("request_object_signing_alg_values_supported lacks RS256");
    }
    for flag in [
        "claims_parameter_supported",
        "request_parameter_supported",
        "request_uri_parameter_supported",
        "require_request_uri_registration",
        "authorization_response_iss_parameter_supported",
        "frontchannel_logout_supported",
        "backchannel_logout_supported",
    ] {
        if let Some(v) = doc.get(flag) {
            ensure!(v.is_boolean(), "{flag} is not a boolean: {v}");
        }
    }

    // grant types, client authentication, PKCE
    if let Some(grants) = strings(&doc, "grant_types_supported")? {
        ensure!(
            grants.contains(&"authorization_code"),
            "grant_types_supported lacks authorization_code: {grants:?}"
        );
        if !grants.contains(&"refresh_token") {
            notes.warn("grant_types_supported lacks refresh_token");
        }
    }
    if let Some(methods) = strings(&doc, "token_endpoint_auth_methods_supported")? {
        for m in ["client_secret_basic", "client_secret_post"] {
            if !methods.contains(&m) {
                notes.warn(format!("token_endpoint_auth_methods_supported lacks {m}"));
            }
        }
    }
    match strings(&doc, "code_challenge_methods_supported")? {
        Some(m) if !m.contains(&"S256") => {
            notes.warn("code_challenge_methods_supported lacks S256");
        }
        Some(_) => {}
        None => notes.warn("no code_challenge_methods_supported"),
    }

    // scopes, claims, locales
    match strings(&doc, "scopes_supported")? {
        Some(scopes) => {
            ensure!(
                scopes.contains(&"openid"),
                "scopes_supported lacks openid: {scopes:?}"
            );
            for s in &scopes {
                ensure!(
                    scope_token_valid(s),
                    "scopes_supported has an invalid scope {s:?} (RFC 6749 §3.3)"
                );
            }
        }
        None => notes.warn("no scopes_supported (recommended)"),
    }
    match strings(&doc, "claims_supported")? {
        Some(claims) => {
            if !claims.contains(&"sub") {
                notes.warn("claims_supported lacks sub");
            }
        }
        None => notes.warn("no claims_supported (recommended)"),
    }
    for name in ["ui_locales_supported", "claims_locales_supported"] {
        if let Some(tags) = strings(&doc, name)? {
            for t in tags {
                ensure!(
                    language_tag_valid(t),
                    "{name} has an invalid language tag {t:?}"
                );
                if !language_tag_canonical(t) {
                    notes.warn(format!("{name}: {t:?} is not in canonical case"));
                }
            }
        }
    }

    // the document must also be what openidconnect understands
    let _typed: ProviderMetadataWithLogout = serde_json::from_value(doc.clone())
        .map_err(|e| anyhow!("the discovery document does not parse as OIDC metadata: {e}"))?;

    // JWKS
    let jwks_uri = doc
        .get("jwks_uri")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("jwks_uri is missing"))?;
    let jwks_raw = http.get(jwks_uri, None).await?;
    ensure!(
        jwks_raw.status == 200,
        "jwks_uri answered HTTP {}",
        jwks_raw.status
    );
    let jmt = jwks_raw.media_type();
    ensure!(
        jmt == "application/json" || jmt == "application/jwk-set+json",
        "JWKS Content-Type is {jmt:?}"
    );
    let jwks = jwks_raw.json()?;
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| anyhow!("the JWKS has no keys array"))?;
    ensure!(!keys.is_empty(), "the JWKS has no keys");
    let mut kids = Vec::new();
    for key in keys {
        let kty = key
            .get("kty")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("a JWKS key has no kty"))?;
        let kid = key
            .get("kid")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("a JWKS key has no kid (OIDCC §10.1)"))?;
        ensure!(kty != "oct", "the JWKS publishes a symmetric key ({kid})");
        for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            ensure!(
                key.get(private).is_none(),
                "JWKS key {kid} contains the private member {private:?} (RFC 7518 §6.3.2)"
            );
        }
        let needed: &[&str] = match kty {
            "RSA" => &["n", "e"],
            "EC" => &["crv", "x", "y"],
            "OKP" => &["crv", "x"],
            other => bail!("JWKS key {kid} has an unknown kty {other:?}"),
        };
        for m in needed {
            ensure!(
                key.get(*m).and_then(Value::as_str).is_some(),
                "JWKS key {kid} ({kty}) lacks {m}"
            );
        }
        if let Some(u) = key.get("use").and_then(Value::as_str) {
            ensure!(u == "sig" || u == "enc", "JWKS key {kid} has use {u:?}");
        }
        ensure!(!kids.contains(&kid), "two JWKS keys share the kid {kid:?}");
        kids.push(kid);
    }
    let _typed: CoreJsonWebKeySet = serde_json::from_value(jwks.clone())
        .map_err(|e| anyhow!("the JWKS does not parse: {e}"))?;
    pass(format!(
        "issuer exact, {endpoints} endpoints secure, {} JWKS keys with kid and no private parts",
        keys.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback() {
        assert!(secure_or_loopback(
            &Url::parse("http://127.0.0.1:8080/t/x").unwrap()
        ));
        assert!(secure_or_loopback(&Url::parse("http://[::1]/").unwrap()));
        assert!(secure_or_loopback(
            &Url::parse("http://localhost/").unwrap()
        ));
        assert!(secure_or_loopback(
            &Url::parse("https://id.example/").unwrap()
        ));
        assert!(!secure_or_loopback(
            &Url::parse("http://id.example/").unwrap()
        ));
    }

    #[test]
    fn scopes_and_locales() {
        assert!(scope_token_valid("offline_access"));
        assert!(!scope_token_valid("a b"));
        assert!(!scope_token_valid(""));
        assert!(language_tag_valid("en-US"));
        assert!(language_tag_valid("zh-Hant-TW"));
        assert!(!language_tag_valid("e"));
        assert!(language_tag_canonical("zh-Hant-TW"));
        assert!(!language_tag_canonical("en-us"));
    }
}
