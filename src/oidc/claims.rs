//! Standard claims (OpenID Connect Core §5.1) of a user, as scopes (§5.4) and the `claims`
//! request parameter (§5.5) ask for them. A scope releases every claim it stands for; a claim
//! asked for by name in the `claims` parameter is released alone (the user consented to it on
//! the authorization request), without the rest of its scope. A claim Plinto does not hold for
//! the user (no address, no phone number...) is left out, as §5.3.2 allows, even when
//! requested as essential.

use entity::user;
use serde_json::{Map, Value, json};

/// Scope values and the claims they stand for.
pub const SCOPE_CLAIMS: &[(&str, &[&str])] = &[
    (
        "profile",
        &[
            "name",
            "family_name",
            "given_name",
            "middle_name",
            "nickname",
            "preferred_username",
            "profile",
            "picture",
            "website",
            "gender",
            "birthdate",
            "zoneinfo",
            "locale",
            "updated_at",
        ],
    ),
    ("email", &["email", "email_verified"]),
    ("address", &["address"]),
    ("phone", &["phone_number", "phone_number_verified"]),
];

/// The claims Plinto can return (discovery's `claims_supported`).
pub const SUPPORTED: &[&str] = &[
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "at_hash",
    "sid",
    "name",
    "family_name",
    "given_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "updated_at",
    "email",
    "email_verified",
    "address",
    "phone_number",
    "phone_number_verified",
];

/// Every claim Plinto holds for the user.
fn held(user: &user::Model) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("sub".into(), json!(user.sub));
    if let Some(name) = user.name.as_deref().filter(|n| !n.is_empty()) {
        m.insert("name".into(), json!(name));
    }
    m.insert("preferred_username".into(), json!(user.user_name));
    if let Some(email) = &user.email {
        m.insert("email".into(), json!(email));
        m.insert("email_verified".into(), json!(user.email_verified));
    }
    m.insert("updated_at".into(), json!(user.updated_at.timestamp()));
    m.extend(crate::accounts::profile::of(user).claims());
    m
}

/// The member (`userinfo` or `id_token`) of a `claims` request parameter.
pub fn requested<'a>(claims: Option<&'a Value>, member: &str) -> Option<&'a Map<String, Value>> {
    claims?.get(member)?.as_object()
}

/// The scope that releases a claim, if any.
pub fn scope_of(claim: &str) -> Option<&'static str> {
    SCOPE_CLAIMS
        .iter()
        .find(|(_, names)| names.contains(&claim))
        .map(|(scope, _)| *scope)
}

/// The scopes of the claims a `claims` request parameter names: the user consents to them (the
/// consent page names them) before the named claims, and only those, are released.
pub fn implied_scopes(claims: &Value) -> Vec<&'static str> {
    let mut out = Vec::new();
    for member in ["userinfo", "id_token"] {
        if let Some(requests) = requested(Some(claims), member) {
            for name in requests.keys() {
                if let Some(scope) = scope_of(name)
                    && !out.contains(&scope)
                {
                    out.push(scope);
                }
            }
        }
    }
    out
}

/// The `claims` request without the claims of scopes the client may not have: what the grant
/// keeps, and releases at the token and UserInfo endpoints.
pub fn allowed_request(claims: &Value, allowed: &[String]) -> Value {
    let mut out = claims.clone();
    for member in ["userinfo", "id_token"] {
        if let Some(requests) = out.get_mut(member).and_then(Value::as_object_mut) {
            requests.retain(|name, _| {
                scope_of(name).is_none_or(|scope| allowed.iter().any(|a| a == scope))
            });
        }
    }
    out
}

/// The `sub` value a `claims` request demands in the ID token (OIDC Core §5.5.1), if any.
pub fn required_sub(claims: &Value) -> Option<&str> {
    requested(Some(claims), "id_token")?
        .get("sub")?
        .get("value")?
        .as_str()
}

/// The user's claims that `scopes` and the requested `extra` claims ask for; `sub` always.
/// An extra claim is one the authorization request named (consented to with it, and kept
/// only when the client may have its scope: see [`allowed_request`]).
pub fn for_user(
    user: &user::Model,
    scopes: &[&str],
    extra: Option<&Map<String, Value>>,
) -> Map<String, Value> {
    let held = held(user);
    let mut wanted: Vec<&str> = vec!["sub"];
    for (scope, names) in SCOPE_CLAIMS {
        if scopes.contains(scope) {
            wanted.extend_from_slice(names);
        }
    }
    if let Some(extra) = extra {
        wanted.extend(
            extra
                .keys()
                .map(String::as_str)
                .filter(|name| scope_of(name).is_some()),
        );
    }
    let mut out = Map::new();
    for name in wanted {
        if let Some(v) = held.get(name) {
            out.insert(name.to_string(), v.clone());
        }
    }
    out
}

/// Check a `claims` request parameter: a JSON object whose `userinfo` and `id_token` members,
/// when present, are objects of claim requests (null or objects).
pub fn parse_request(raw: &str) -> Result<Value, String> {
    let v: Value =
        serde_json::from_str(raw).map_err(|_| "the claims parameter is not valid JSON")?;
    let Some(obj) = v.as_object() else {
        return Err("the claims parameter must be a JSON object".into());
    };
    for (member, requests) in obj {
        if member != "userinfo" && member != "id_token" {
            continue;
        }
        let Some(requests) = requests.as_object() else {
            return Err(format!("claims.{member} must be an object"));
        };
        for (name, request) in requests {
            if !(request.is_null() || request.is_object()) {
                return Err(format!("claims.{member}.{name} must be null or an object"));
            }
        }
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(email: Option<&str>, profile: Value) -> user::Model {
        let now = chrono::Utc::now();
        user::Model {
            id: uuid::Uuid::nil(),
            tenant_id: uuid::Uuid::nil(),
            sub: "s".into(),
            email: email.map(str::to_string),
            email_normalized: email.map(str::to_string),
            email_verified: true,
            name: Some("Ada".into()),
            password_hash: None,
            must_change_password: false,
            is_admin: false,
            disabled: false,
            created_at: now,
            updated_at: now,
            user_name: "ada".into(),
            user_name_normalized: "ada".into(),
            external_id: None,
            scim: json!({}),
            scim_search: json!({}),
            version: 1,
            profile,
        }
    }

    #[test]
    fn a_scope_gives_its_claims_a_named_claim_comes_alone() {
        let u = user(
            Some("ada@example.com"),
            json!({ "phone_number": "+1 2", "locale": "en", "zoneinfo": "UTC" }),
        );
        let c = for_user(&u, &["openid", "phone"], None);
        assert_eq!(c["phone_number"], "+1 2");
        assert_eq!(c["phone_number_verified"], false);
        assert!(c.get("email").is_none() && c.get("locale").is_none());
        let asked = json!({ "locale": null });
        let c = for_user(&u, &["openid"], asked.as_object());
        assert_eq!(c["locale"], "en");
        assert!(c.get("zoneinfo").is_none() && c.get("preferred_username").is_none());
        assert_eq!(c["sub"], "s");
    }

    #[test]
    fn no_address_no_email_claims() {
        let c = for_user(
            &user(None, json!({})),
            &["openid", "email", "profile"],
            None,
        );
        assert!(c.get("email").is_none() && c.get("email_verified").is_none());
        assert_eq!(c["preferred_username"], "ada");
    }

    #[test]
    fn a_claims_request_keeps_what_the_client_may_have() {
        let req = json!({
            "userinfo": { "phone_number": null, "nickname": null, "sub": { "value": "x" } },
            "id_token": { "email": null }
        });
        let allowed = vec!["openid".to_string(), "profile".to_string()];
        let kept = allowed_request(&req, &allowed);
        assert_eq!(
            kept,
            json!({ "userinfo": { "nickname": null, "sub": { "value": "x" } }, "id_token": {} })
        );
        assert_eq!(implied_scopes(&kept), ["profile"]);
    }
}
