//! SCIM 2.0: the provisioning flows of Entra ID and Okta, authentication, ETags, Bulk, errors
//! and what provisioning does to sign-in. Queries (filters, sorting, paging, attribute
//! selection) are in `scim_query`.

use reqwest::Method;
use serde_json::{Value, json};

use crate::scim_client::*;
use crate::support::TestServer;

fn with_password(mut user: Value, password: &str) -> Value {
    user["password"] = json!(password);
    user
}

async fn server() -> TestServer {
    let s = TestServer::start_with(|c| c.rate_limits = "off".into()).await;
    s.create_tenant("acme", false).await;
    s
}

#[tokio::test]
async fn entra_provisioning_cycle() {
    let s = server().await;
    let scim = Scim::new(&s, "acme").await;

    // Entra's probe: a filter on a userName that does not exist yet.
    let r = scim
        .get("/Users?filter=userName+eq+%22ada%40example.com%22&count=1&startIndex=1")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["schemas"], json!([LIST]));
    assert_eq!(r.body["totalResults"], 0);

    // Create → 201 with Location, ETag and meta.
    let r = scim
        .post("/Users", &entra_user("ada@example.com", "ext-ada"))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/scim+json")
    );
    let id = r.id();
    let location = format!("{}/Users/{id}", scim.base);
    assert_eq!(r.header("location"), Some(location.as_str()));
    assert_eq!(r.body["meta"]["location"], location);
    assert_eq!(r.body["meta"]["resourceType"], "User");
    assert_eq!(r.header("etag"), r.body["meta"]["version"].as_str());
    assert!(
        r.body["meta"]["version"]
            .as_str()
            .unwrap()
            .starts_with("W/\"")
    );
    assert_eq!(r.body["userName"], "ada@example.com");
    assert_eq!(r.body["externalId"], "ext-ada");
    assert_eq!(r.body["active"], true);
    assert_eq!(r.body["name"]["givenName"], "Ada");
    assert_eq!(r.body[ENTERPRISE]["department"], "Research");
    assert_eq!(r.body["schemas"], json!([USER, ENTERPRISE, PLINTO]));
    assert_eq!(r.body[PLINTO]["emailVerified"], true);

    // Create again → 409 uniqueness (also with another case).
    let r = scim
        .post("/Users", &entra_user("ADA@example.com", "ext-2"))
        .await;
    r.assert_error(409, Some("uniqueness"));

    // Lookups the way Entra and Okta do them.
    for f in [
        "userName eq \"ada@example.com\"",
        "userName eq \"ADA@EXAMPLE.COM\"",
        "externalId eq \"ext-ada\"",
        "emails[type eq \"work\"].value eq \"ada@example.com\"",
    ] {
        let r = scim.filter("Users", f).await;
        assert_eq!(r.status, 200, "{f}: {}", r.text);
        assert_eq!(r.body["totalResults"], 1, "{f}: {}", r.text);
        assert_eq!(r.list_of("id"), vec![id.clone()], "{f}");
    }

    // Unknown id → SCIM 404.
    scim.get("/Users/00000000-0000-0000-0000-000000000000")
        .await
        .assert_error(404, None);
    scim.get("/Users/not-a-uuid").await.assert_error(404, None);

    // PATCH active false with Entra's "Replace" and a string boolean; then true again.
    let r = scim
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{ "op": "Replace", "path": "active", "value": "False" }]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["active"], false);
    let r = scim
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{ "op": "Replace", "value": { "active": true } }]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["active"], true);

    // Entra's attribute updates: title, a work email by value path, the manager as a string.
    let r = scim
        .patch_ops(
            &format!("/Users/{id}"),
            json!([
                { "op": "Add", "path": "title", "value": "Countess" },
                { "op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+44 1" },
                { "op": "Replace", "path": format!("{ENTERPRISE}:department"), "value": "Maths" },
            ]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["title"], "Countess");
    assert_eq!(r.body["phoneNumbers"][0]["value"], "+44 1");
    assert_eq!(r.body["phoneNumbers"][0]["type"], "mobile");
    assert_eq!(r.body[ENTERPRISE]["department"], "Maths");

    // PUT replaces: what is left out is gone (title), the rest is as sent.
    let mut body = entra_user("ada@example.com", "ext-ada");
    body["displayName"] = json!("Ada King");
    body.as_object_mut().unwrap().remove("title");
    let r = scim.put(&format!("/Users/{id}"), &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["displayName"], "Ada King");
    assert!(r.body.get("title").is_none(), "{}", r.text);

    // Groups: create with a member, add and remove members by PATCH.
    let bob = scim
        .create_user(entra_user("bob@example.com", "ext-bob"))
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = scim
        .post(
            "/Groups",
            &json!({
                "schemas": [GROUP],
                "displayName": "Engineering",
                "externalId": "grp-1",
                "members": [{ "value": id }],
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let gid = r.id();
    assert_eq!(r.body["members"][0]["value"], id);
    assert_eq!(r.body["members"][0]["type"], "User");
    // Same name in another case → 409.
    scim.post(
        "/Groups",
        &json!({ "schemas": [GROUP], "displayName": "ENGINEERING" }),
    )
    .await
    .assert_error(409, Some("uniqueness"));
    let r = scim
        .patch_ops(
            &format!("/Groups/{gid}"),
            json!([{ "op": "Add", "path": "members", "value": [{ "value": bob }] }]),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = scim.get(&format!("/Groups/{gid}")).await;
    let mut members: Vec<String> = r.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap().to_string())
        .collect();
    members.sort();
    let mut want = vec![id.clone(), bob.clone()];
    want.sort();
    assert_eq!(members, want);
    // The user shows the group.
    let r = scim.get(&format!("/Users/{bob}")).await;
    assert_eq!(r.body["groups"][0]["value"], gid);
    assert_eq!(r.body["groups"][0]["display"], "Engineering");
    // Okta's remove by value filter, Entra's remove by value list.
    let r = scim
        .patch_ops(
            &format!("/Groups/{gid}"),
            json!([{ "op": "remove", "path": format!("members[value eq \"{bob}\"]") }]),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = scim
        .patch_ops(
            &format!("/Groups/{gid}"),
            json!([{ "op": "Remove", "path": "members", "value": [{ "value": id }] }]),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = scim.get(&format!("/Groups/{gid}")).await;
    assert!(r.body.get("members").is_none(), "{}", r.text);
    // Rename by PATCH.
    let r = scim
        .send(
            Method::PATCH,
            &format!("/Groups/{gid}?excludedAttributes=members"),
            Some(&json!({ "schemas": [PATCH_OP], "Operations": [
                { "op": "replace", "value": { "displayName": "Eng" } }
            ]})),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["displayName"], "Eng");

    // Soft delete via active, then DELETE.
    let r = scim
        .patch_ops(
            &format!("/Users/{bob}"),
            json!([{ "op": "replace", "value": { "active": false } }]),
        )
        .await;
    assert_eq!(r.body["active"], false, "{}", r.text);
    let r = scim.delete(&format!("/Users/{bob}")).await;
    assert_eq!(r.status, 204, "{}", r.text);
    scim.get(&format!("/Users/{bob}"))
        .await
        .assert_error(404, None);
    scim.delete(&format!("/Users/{bob}"))
        .await
        .assert_error(404, None);
    let r = scim.delete(&format!("/Groups/{gid}")).await;
    assert_eq!(r.status, 204, "{}", r.text);

    // Every write is audited with the token's name as the actor.
    let actions: Vec<(String, String)> = s
        .audit_actions()
        .await
        .into_iter()
        .filter(|(a, _, _)| a.starts_with("scim."))
        .map(|(a, actor, _)| (a, actor))
        .collect();
    for a in [
        "scim.user.create",
        "scim.user.patch",
        "scim.user.replace",
        "scim.user.delete",
        "scim.group.create",
        "scim.group.patch",
        "scim.group.delete",
    ] {
        assert!(
            actions
                .iter()
                .any(|(x, actor)| x == a && actor == "scim:entra"),
            "{a} in {actions:?}"
        );
    }
    s.stop().await;
}

#[tokio::test]
async fn every_authentication_failure_is_the_same_401() {
    let s = server().await;
    s.create_tenant("other", false).await;
    let scim = Scim::new(&s, "acme").await;
    let other = Scim::new(&s, "other").await;
    assert_eq!(scim.get("/Users").await.status, 200);

    // A token to revoke, through the CLI, by name.
    let out = s.cli(&["scim-token", "create", "--tenant", "acme", "--name", "okta"]);
    assert!(out.status.success());
    let okta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let okta_token = okta["token"].as_str().unwrap().to_string();
    assert!(okta_token.starts_with("plinto_scim_"));
    assert_eq!(
        Scim::with_token(&s, "acme", &okta_token)
            .get("/Users")
            .await
            .status,
        200
    );
    let out = s.cli(&["scim-token", "revoke", "--tenant", "acme", "okta"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let revoked: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(revoked["revoked"], json!([okta["id"]]));
    // Listed without secrets, revoked one marked.
    let out = s.cli(&["scim-token", "list", "--tenant", "acme"]);
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("plinto_scim_"));
    assert!(
        list.iter()
            .any(|t| t["name"] == "okta" && !t["revoked_at"].is_null())
    );
    assert!(
        list.iter()
            .any(|t| t["name"] == "entra" && t["revoked_at"].is_null())
    );
    // Revoking an unknown token is an error on stderr, nothing on stdout.
    let out = s.cli(&["scim-token", "revoke", "--tenant", "acme", "nope"]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());

    let http = reqwest::Client::new();
    let users = scim.base.clone() + "/Users";
    let mut bodies = Vec::new();
    let cases: Vec<(&str, reqwest::RequestBuilder)> = vec![
        ("no header", http.get(&users)),
        ("basic", http.get(&users).basic_auth("x", Some("y"))),
        (
            "empty bearer",
            http.get(&users).header("authorization", "Bearer "),
        ),
        ("garbage", http.get(&users).bearer_auth("nope")),
        (
            "prefixed garbage",
            http.get(&users).bearer_auth("plinto_scim_nope"),
        ),
        ("revoked", http.get(&users).bearer_auth(&okta_token)),
        ("other tenant's", http.get(&users).bearer_auth(&other.token)),
        (
            "unknown tenant",
            http.get(s.url("/t/nope/scim/v2/Users"))
                .bearer_auth(&scim.token),
        ),
        (
            "on a write",
            http.post(&users)
                .bearer_auth("nope")
                .header("content-type", "application/scim+json")
                .body("{}"),
        ),
        ("on discovery", http.get(scim.base.clone() + "/Schemas")),
    ];
    for (what, req) in cases {
        let res = req.send().await.unwrap();
        assert_eq!(res.status().as_u16(), 401, "{what}");
        assert_eq!(
            res.headers().get("www-authenticate").unwrap(),
            "Bearer realm=\"scim\"",
            "{what}"
        );
        assert_eq!(
            res.headers().get("content-type").unwrap(),
            "application/scim+json",
            "{what}"
        );
        bodies.push((what, res.bytes().await.unwrap()));
    }
    for (what, b) in &bodies {
        assert_eq!(b, &bodies[0].1, "{what} differs");
    }
    let body: Value = serde_json::from_slice(&bodies[0].1).unwrap();
    assert_eq!(body["schemas"], json!([ERROR]));
    assert_eq!(body["status"], "401");
    s.stop().await;
}

#[tokio::test]
async fn provisioning_decides_sign_in() {
    use crate::oidc;
    let s = TestServer::start_with(|c| c.rate_limits = "off".into()).await;
    let scim = Scim::new(&s, "default").await;

    // A provisioned user without a credential cannot sign in; the write-only password gives
    // one, and is never returned.
    let mut body = entra_user("grace@example.com", "ext-grace");
    let r = scim.post("/Users", &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.id();
    assert_eq!(
        s.browser()
            .login("default", "grace@example.com", "correct horse battery")
            .await
            .status()
            .as_u16(),
        422
    );
    let r = scim
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{ "op": "replace", "path": "password", "value": "correct horse battery" }]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(!r.text.contains("correct horse"), "{}", r.text);
    assert!(r.body.get("password").is_none());
    // A password against the policy is refused.
    scim.patch_ops(
        &format!("/Users/{id}"),
        json!([{ "op": "replace", "path": "password", "value": "short" }]),
    )
    .await
    .assert_error(400, Some("invalidValue"));

    // Signed in in a browser, and an app holds her tokens.
    let rp = oidc::client(&s, |c| c.skip_consent = true).await;
    let browser = s.browser();
    let code = oidc::code_as(
        &s,
        &browser,
        &rp,
        "grace@example.com",
        "correct horse battery",
    )
    .await;
    let tokens: Value = oidc::exchange(&s, &rp, &code).await.json().await.unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_string();
    let access_token = tokens["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        browser.get("/t/default/account").await.status().as_u16(),
        200
    );
    // The ID token's name comes from displayName.
    let info: Value = oidc::userinfo(&s, &access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["email"], "grace@example.com");

    // active: false ends the session, the refresh token and the access token, and blocks
    // sign-in.
    let r = scim
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{ "op": "Replace", "path": "active", "value": false }]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        browser.get("/t/default/account").await.status().as_u16(),
        303
    );
    assert_eq!(
        oidc::refresh(&s, &rp, &refresh_token)
            .await
            .status()
            .as_u16(),
        400
    );
    assert_eq!(
        oidc::userinfo(&s, &access_token).await.status().as_u16(),
        401
    );
    assert_ne!(
        s.browser()
            .login("default", "grace@example.com", "correct horse battery")
            .await
            .status()
            .as_u16(),
        303
    );
    // Active again: sign-in works.
    scim.patch_ops(
        &format!("/Users/{id}"),
        json!([{ "op": "Replace", "path": "active", "value": true }]),
    )
    .await;
    assert_eq!(
        s.browser()
            .login("default", "grace@example.com", "correct horse battery")
            .await
            .status()
            .as_u16(),
        303
    );

    // A change of the primary email changes the sign-in address.
    body["emails"] =
        json!([{ "value": "grace.hopper@example.com", "type": "work", "primary": true }]);
    let r = scim.put(&format!("/Users/{id}"), &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        s.browser()
            .login(
                "default",
                "grace.hopper@example.com",
                "correct horse battery"
            )
            .await
            .status()
            .as_u16(),
        303
    );

    // Accounts made outside SCIM are SCIM users too, userName = address.
    s.create_user("default", "local@example.com", "local password 1")
        .await;
    let r = scim
        .filter("Users", "userName eq \"local@example.com\"")
        .await;
    assert_eq!(r.body["totalResults"], 1, "{}", r.text);
    assert_eq!(
        r.body["Resources"][0]["emails"][0]["value"],
        "local@example.com"
    );

    // A change on the account page shows in SCIM, and filters find it.
    let local = s.browser();
    local
        .login("default", "local@example.com", "local password 1")
        .await;
    local
        .submit(
            "/t/default/account",
            "/t/default/account/profile",
            &[("name", "Local Hero")],
        )
        .await;
    let r = scim.filter("Users", "displayName eq \"local hero\"").await;
    assert_eq!(
        r.list_of("userName"),
        vec!["local@example.com"],
        "{}",
        r.text
    );

    // emailVerified (Plinto's extension) is the account's state, read-only, filterable.
    assert_eq!(r.body["Resources"][0][PLINTO]["emailVerified"], true);
    let out = s.cli(&[
        "user",
        "create",
        "--tenant",
        "default",
        "--email",
        "unverified@example.com",
        "--password",
        "local password 2",
    ]);
    assert!(out.status.success());
    let r = scim
        .filter("Users", &format!("{PLINTO}:emailVerified eq false"))
        .await;
    assert_eq!(
        r.list_of("userName"),
        vec!["unverified@example.com"],
        "{}",
        r.text
    );
    let unverified = r.body["Resources"][0]["id"].as_str().unwrap().to_string();
    scim.patch_ops(
        &format!("/Users/{unverified}"),
        json!([{ "op": "replace", "path": format!("{PLINTO}:emailVerified"), "value": true }]),
    )
    .await
    .assert_error(400, Some("mutability"));

    // Administrators are the operator's: readable, not writable over SCIM.
    let r = scim
        .filter(
            "Users",
            &format!("userName eq \"{}\"", crate::support::ADMIN_EMAIL),
        )
        .await;
    let admin = r.body["Resources"][0]["id"].as_str().unwrap().to_string();
    scim.patch_ops(
        &format!("/Users/{admin}"),
        json!([{ "op": "replace", "path": "password", "value": "taken over at last" }]),
    )
    .await
    .assert_error(403, None);
    scim.delete(&format!("/Users/{admin}"))
        .await
        .assert_error(403, None);
    assert_eq!(scim.get(&format!("/Users/{admin}")).await.status, 200);

    // A userName is all a user needs (RFC 7643 §4.1): no address, no email claims.
    let r = scim
        .post(
            "/Users",
            &json!({ "schemas": [USER], "userName": "no-address" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body[PLINTO]["emailVerified"], false);
    scim.post("/Users", &json!({ "schemas": [USER] }))
        .await
        .assert_error(400, Some("invalidValue"));
    // The address is unique too.
    scim.post(
        "/Users",
        &json!({ "schemas": [USER], "userName": "other", "emails": [{ "value": "local@example.com" }] }),
    )
    .await
    .assert_error(409, Some("uniqueness"));
    s.stop().await;
}

#[tokio::test]
async fn etags_and_preconditions() {
    let s = server().await;
    let scim = Scim::new(&s, "acme").await;
    let created = scim.create_user(entra_user("ada@example.com", "a")).await;
    let id = created["id"].as_str().unwrap().to_string();
    let v1 = created["meta"]["version"].as_str().unwrap().to_string();
    let path = format!("/Users/{id}");

    // If-None-Match with the current version: 304; with another: the resource.
    let r = scim
        .send(Method::GET, &path, None, &[("if-none-match", &v1)])
        .await;
    assert_eq!(r.status, 304);
    assert_eq!(r.header("etag"), Some(v1.as_str()));
    let r = scim
        .send(Method::GET, &path, None, &[("if-none-match", "W/\"999\"")])
        .await;
    assert_eq!(r.status, 200);

    // If-Match with a stale version: 412, and nothing changes.
    let op = json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "replace", "path": "title", "value": "x" }] });
    let r = scim
        .send(
            Method::PATCH,
            &path,
            Some(&op),
            &[("if-match", "W/\"999\"")],
        )
        .await;
    r.assert_error(412, None);
    assert_eq!(scim.get(&path).await.body["title"], "Engineer");
    // With the current one: done, and the version moves on.
    let r = scim
        .send(Method::PATCH, &path, Some(&op), &[("if-match", &v1)])
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v2 = r.header("etag").unwrap().to_string();
    assert_ne!(v1, v2);
    assert_eq!(r.body["meta"]["version"], v2);
    // The old version is stale now: PUT and DELETE refuse it too; `*` matches anything.
    let put = entra_user("ada@example.com", "a");
    scim.send(Method::PUT, &path, Some(&put), &[("if-match", &v1)])
        .await
        .assert_error(412, None);
    scim.send(Method::DELETE, &path, None, &[("if-match", &v1)])
        .await
        .assert_error(412, None);
    let r = scim
        .send(Method::PUT, &path, Some(&put), &[("if-match", "*")])
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v3 = r.header("etag").unwrap().to_string();
    let r = scim
        .send(Method::DELETE, &path, None, &[("if-match", &v3)])
        .await;
    assert_eq!(r.status, 204);

    // Groups: membership changes move the version too.
    let g = scim
        .post(
            "/Groups",
            &json!({ "schemas": [GROUP], "displayName": "G" }),
        )
        .await;
    let gpath = format!("/Groups/{}", g.id());
    let gv1 = g.header("etag").unwrap().to_string();
    let u = scim.create_user(entra_user("bob@example.com", "b")).await;
    let r = scim
        .patch_ops(
            &gpath,
            json!([{ "op": "add", "path": "members", "value": [{ "value": u["id"] }] }]),
        )
        .await;
    assert_eq!(r.status, 204);
    let gv2 = r.header("etag").unwrap().to_string();
    assert_ne!(gv1, gv2);
    let r = scim
        .send(Method::GET, &gpath, None, &[("if-none-match", &gv1)])
        .await;
    assert_eq!(r.status, 200);
    let r = scim
        .send(Method::GET, &gpath, None, &[("if-none-match", &gv2)])
        .await;
    assert_eq!(r.status, 304);

    // A user's version moves when their groups change: joining, the group's rename, leaving.
    let upath = format!("/Users/{}", u["id"].as_str().unwrap());
    let mut seen = vec![u["meta"]["version"].as_str().unwrap().to_string()];
    let changes = [
        json!([{ "op": "replace", "path": "displayName", "value": "G renamed" }]),
        json!([{ "op": "remove", "path": format!("members[value eq \"{}\"]", u["id"].as_str().unwrap()) }]),
    ];
    let now = scim.get(&upath).await;
    assert_eq!(now.body["groups"][0]["display"], "G");
    seen.push(now.header("etag").unwrap().to_string());
    for ops in changes {
        let before = seen.last().unwrap().clone();
        assert_eq!(scim.patch_ops(&gpath, ops).await.status, 204);
        let r = scim
            .send(Method::GET, &upath, None, &[("if-none-match", &before)])
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        seen.push(r.header("etag").unwrap().to_string());
    }
    let mut distinct = seen.clone();
    distinct.dedup();
    assert_eq!(distinct.len(), seen.len(), "{seen:?}");
    assert!(scim.get(&upath).await.body.get("groups").is_none());
    s.stop().await;
}

#[tokio::test]
async fn bulk_with_bulk_id_references_and_fail_on_errors() {
    let s = server().await;
    let scim = Scim::new(&s, "acme").await;

    // The group refers to users created in the same request, one of them defined after it
    // (a forward reference); a PATCH refers to the group by bulkId in its path.
    let r = scim
        .post(
            "/Bulk",
            &json!({
                "schemas": [BULK],
                "Operations": [
                    { "method": "POST", "path": "/Groups", "bulkId": "g1", "data": {
                        "schemas": [GROUP], "displayName": "Tour",
                        "members": [{ "type": "User", "value": "bulkId:u1" }, { "value": "bulkId:u2" }]
                    }},
                    { "method": "POST", "path": "/Users", "bulkId": "u1",
                      "data": with_password(entra_user("u1@example.com", "x1"), "bulk password one") },
                    { "method": "POST", "path": "/Users", "bulkId": "u2",
                      "data": entra_user("u2@example.com", "x2") },
                    { "method": "PATCH", "path": "/Groups/bulkId:g1", "data": {
                        "schemas": [PATCH_OP],
                        "Operations": [{ "op": "replace", "path": "displayName", "value": "Tour 2" }]
                    }},
                ]
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:BulkResponse"])
    );
    let ops = r.body["Operations"].as_array().unwrap();
    assert_eq!(ops.len(), 4, "{}", r.text);
    let by_bulk = |id: &str| ops.iter().find(|o| o["bulkId"] == id).unwrap().clone();
    for b in ["u1", "u2", "g1"] {
        assert_eq!(by_bulk(b)["status"], "201", "{b}: {}", r.text);
        assert!(
            by_bulk(b)["location"]
                .as_str()
                .unwrap()
                .starts_with(&scim.base)
        );
        assert!(by_bulk(b)["version"].as_str().unwrap().starts_with("W/"));
    }
    let patch = ops.iter().find(|o| o["method"] == "PATCH").unwrap();
    assert_eq!(patch["status"], "200", "{}", r.text);
    // Passwords set in a Bulk (hashed before its transaction) work, by POST and by PATCH.
    let u2 = by_bulk("u2")["location"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let r2 = scim
        .post(
            "/Bulk",
            &json!({ "schemas": [BULK], "Operations": [
                { "method": "PATCH", "path": format!("/Users/{u2}"), "data": { "schemas": [PATCH_OP],
                  "Operations": [{ "op": "replace", "path": "password", "value": "bulk password two" }] } }
            ]}),
        )
        .await;
    assert_eq!(r2.body["Operations"][0]["status"], "200", "{}", r2.text);
    for (who, pw) in [
        ("u1@example.com", "bulk password one"),
        ("u2@example.com", "bulk password two"),
    ] {
        let res = s.browser().login("acme", who, pw).await;
        assert_eq!(res.status().as_u16(), 303, "{who}");
    }
    let group = scim
        .get(
            by_bulk("g1")["location"]
                .as_str()
                .unwrap()
                .trim_start_matches(&scim.base),
        )
        .await;
    assert_eq!(group.body["displayName"], "Tour 2");
    let members: Vec<&str> = group.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(members.len(), 2);
    for b in ["u1", "u2"] {
        let loc = by_bulk(b)["location"].as_str().unwrap().to_string();
        assert!(members.iter().any(|m| loc.ends_with(m)), "{b}");
    }

    // failOnErrors: 1 stops after the first error; the rest is not run.
    let r = scim
        .post(
            "/Bulk",
            &json!({
                "schemas": [BULK],
                "failOnErrors": 1,
                "Operations": [
                    { "method": "POST", "path": "/Users", "bulkId": "dup",
                      "data": entra_user("u1@example.com", "again") },
                    { "method": "POST", "path": "/Users", "bulkId": "never",
                      "data": entra_user("never@example.com", "n") },
                ]
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ops = r.body["Operations"].as_array().unwrap();
    assert_eq!(ops.len(), 1, "{}", r.text);
    assert_eq!(ops[0]["status"], "409");
    assert_eq!(ops[0]["response"]["scimType"], "uniqueness");
    assert_eq!(
        scim.filter("Users", "userName eq \"never@example.com\"")
            .await
            .body["totalResults"],
        0
    );

    // Without failOnErrors every operation runs; a reference to a failed or unknown bulkId
    // fails that operation, and a circular reference is reported, not looped on.
    let r = scim
        .post(
            "/Bulk",
            &json!({
                "schemas": [BULK],
                "Operations": [
                    { "method": "POST", "path": "/Users", "bulkId": "bad",
                      "data": { "schemas": [USER], "displayName": "no userName" } },
                    { "method": "POST", "path": "/Groups", "bulkId": "gbad", "data": {
                        "schemas": [GROUP], "displayName": "Refers to bad",
                        "members": [{ "value": "bulkId:bad" }] } },
                    { "method": "POST", "path": "/Groups", "bulkId": "c1", "data": {
                        "schemas": [GROUP], "displayName": "C1", "members": [{ "value": "bulkId:c2" }] } },
                    { "method": "POST", "path": "/Groups", "bulkId": "c2", "data": {
                        "schemas": [GROUP], "displayName": "C2", "members": [{ "value": "bulkId:c1" }] } },
                    { "method": "DELETE", "path": "/Users/00000000-0000-0000-0000-000000000000" },
                    { "method": "GET", "path": "/Users" },
                    { "method": "POST", "path": "/Users", "bulkId": "ok",
                      "data": entra_user("ok@example.com", "ok") },
                ]
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ops = r.body["Operations"].as_array().unwrap();
    assert_eq!(ops.len(), 7, "{}", r.text);
    let status_of = |b: &str| {
        ops.iter()
            .find(|o| o["bulkId"] == b)
            .map(|o| o["status"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert_eq!(status_of("bad"), "400");
    assert_eq!(status_of("gbad"), "409");
    assert_eq!(status_of("c1"), "409");
    assert_eq!(status_of("ok"), "201");
    assert!(
        ops.iter()
            .any(|o| o["method"] == "DELETE" && o["status"] == "404")
    );
    assert!(
        ops.iter()
            .any(|o| o["method"] == "GET" && o["status"] == "400")
    );

    // maxOperations and maxPayloadSize are advertised and enforced.
    let spc = scim.get("/ServiceProviderConfig").await;
    assert_eq!(spc.status, 200, "{}", spc.text);
    let max_ops = spc.body["bulk"]["maxOperations"].as_u64().unwrap() as usize;
    let max_payload = spc.body["bulk"]["maxPayloadSize"].as_u64().unwrap() as usize;
    assert_eq!(spc.body["bulk"]["supported"], true);
    let too_many: Vec<Value> = (0..=max_ops)
        .map(|i| json!({ "method": "DELETE", "path": format!("/Users/{i}") }))
        .collect();
    scim.post(
        "/Bulk",
        &json!({ "schemas": [BULK], "Operations": too_many }),
    )
    .await
    .assert_error(413, None);
    let huge = "x".repeat(max_payload);
    scim.post(
        "/Bulk",
        &json!({ "schemas": [BULK], "Operations": [{ "method": "POST", "path": "/Users", "bulkId": "h", "data": { "schemas": [USER], "userName": huge } }] }),
    )
    .await
    .assert_error(413, None);
    // Malformed requests.
    scim.post("/Bulk", &json!({ "Operations": [] }))
        .await
        .assert_error(400, Some("invalidSyntax"));
    scim.post(
        "/Bulk",
        &json!({ "schemas": [BULK], "Operations": [{ "method": "POST", "path": "/Users", "data": {} }] }),
    )
    .await
    .assert_error(400, Some("invalidSyntax"));
    s.stop().await;
}

#[tokio::test]
async fn errors_carry_the_right_scim_type() {
    let s = server().await;
    let scim = Scim::new(&s, "acme").await;
    let u = scim.create_user(entra_user("ada@example.com", "a")).await;
    let path = format!("/Users/{}", u["id"].as_str().unwrap());

    // invalidSyntax: not JSON, no schemas, a PatchOp without Operations.
    let r = reqwest::Client::new()
        .post(format!("{}/Users", scim.base))
        .bearer_auth(&scim.token)
        .header("content-type", "application/scim+json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["scimType"], "invalidSyntax");
    scim.post("/Users", &json!({ "userName": "x@example.com" }))
        .await
        .assert_error(400, Some("invalidSyntax"));
    scim.patch(&path, &json!({ "schemas": [PATCH_OP] }))
        .await
        .assert_error(400, Some("invalidSyntax"));
    scim.patch_ops(
        &path,
        json!([{ "op": "frobnicate", "path": "title", "value": "x" }]),
    )
    .await
    .assert_error(400, Some("invalidSyntax"));
    // invalidPath: a path that does not parse, or names nothing.
    scim.patch_ops(
        &path,
        json!([{ "op": "replace", "path": "emails[type eq", "value": "x" }]),
    )
    .await
    .assert_error(400, Some("invalidPath"));
    scim.patch_ops(
        &path,
        json!([{ "op": "replace", "path": "nonsense", "value": "x" }]),
    )
    .await
    .assert_error(400, Some("invalidPath"));
    // noTarget: a value filter that matches nothing, or remove without a path.
    scim.patch_ops(
        &path,
        json!([{ "op": "remove", "path": "emails[type eq \"home\"]" }]),
    )
    .await
    .assert_error(400, Some("noTarget"));
    scim.patch_ops(&path, json!([{ "op": "remove" }]))
        .await
        .assert_error(400, Some("noTarget"));
    // invalidValue: a wrong type, a missing required attribute.
    scim.patch_ops(
        &path,
        json!([{ "op": "replace", "path": "active", "value": 42 }]),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    scim.post("/Users", &json!({ "schemas": [USER], "userName": 7 }))
        .await
        .assert_error(400, Some("invalidValue"));
    scim.post(
        "/Users",
        &json!({ "schemas": [USER], "emails": [{ "value": "x@example.com" }] }),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    // mutability: read-only attributes.
    scim.patch_ops(
        &path,
        json!([{ "op": "replace", "path": "id", "value": "x" }]),
    )
    .await
    .assert_error(400, Some("mutability"));
    scim.patch_ops(
        &path,
        json!([{ "op": "add", "path": "groups", "value": [{ "value": "x" }] }]),
    )
    .await
    .assert_error(400, Some("mutability"));
    // uniqueness.
    scim.post("/Users", &entra_user("ADA@EXAMPLE.COM", "z"))
        .await
        .assert_error(409, Some("uniqueness"));
    // invalidFilter and sensitive.
    scim.filter("Users", "userName eq")
        .await
        .assert_error(400, Some("invalidFilter"));
    scim.filter("Users", "password eq \"x\"")
        .await
        .assert_error(403, Some("sensitive"));
    // invalidVers: another protocol version.
    let r = reqwest::Client::new()
        .get(s.url("/t/acme/scim/v1/Users"))
        .bearer_auth(&scim.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["scimType"], "invalidVers");

    // Unknown paths and ids: SCIM 404. Unsupported methods: 405. Other media types: 415.
    scim.get("/Nope").await.assert_error(404, None);
    scim.get("/Groups/00000000-0000-0000-0000-000000000000")
        .await
        .assert_error(404, None);
    scim.get("/Schemas/urn:nope").await.assert_error(404, None);
    scim.get("/ResourceTypes/Nope")
        .await
        .assert_error(404, None);
    scim.delete("/ServiceProviderConfig")
        .await
        .assert_error(405, None);
    scim.put("/Users", &json!({})).await.assert_error(405, None);
    scim.send(Method::GET, "/Bulk", None, &[])
        .await
        .assert_error(405, None);
    scim.delete("/Schemas").await.assert_error(405, None);
    let r = reqwest::Client::new()
        .post(format!("{}/Users", scim.base))
        .bearer_auth(&scim.token)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);
    // application/json is accepted too.
    let r = reqwest::Client::new()
        .post(format!("{}/Users", scim.base))
        .bearer_auth(&scim.token)
        .json(&entra_user("json@example.com", "j"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    scim.get("/Me").await.assert_error(501, None);

    // A NUL character (which PostgreSQL cannot store) is a 400, never a 500.
    scim.post(
        "/Users",
        &json!({ "schemas": [USER], "userName": "nul@example.com", "externalId": "x\u{0}" }),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    scim.post(
        "/Users",
        &json!({ "schemas": [USER], "userName": "nul@example.com", "title": "x\u{0}" }),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    scim.filter("Users", "title eq \"\\u0000\"")
        .await
        .assert_error(400, Some("invalidFilter"));
    // `pr` on a sub-attribute of a multi-valued attribute asks for that sub-attribute.
    let r = scim.filter("Users", "emails.type pr").await;
    assert_eq!(r.body["totalResults"], 2, "{}", r.text);
    let r = scim.filter("Users", "emails.display pr").await;
    assert_eq!(r.body["totalResults"], 0, "{}", r.text);

    // Nothing of the above changed Ada.
    let r = scim.get(&path).await;
    assert_eq!(r.body["meta"]["version"], u["meta"]["version"]);
    s.stop().await;
}

#[tokio::test]
async fn discovery_endpoints_describe_what_is_enforced() {
    let s = server().await;
    let scim = Scim::new(&s, "acme").await;
    let spc = scim.get("/ServiceProviderConfig").await;
    assert_eq!(spc.status, 200, "{}", spc.text);
    for f in ["patch", "bulk", "filter", "changePassword", "sort", "etag"] {
        assert_eq!(spc.body[f]["supported"], true, "{f}: {}", spc.text);
    }
    assert_eq!(spc.body["filter"]["maxResults"], 1000);
    assert_eq!(
        spc.body["authenticationSchemes"][0]["type"],
        "oauthbearertoken"
    );
    assert_eq!(
        spc.body["meta"]["location"],
        format!("{}/ServiceProviderConfig", scim.base)
    );

    let schemas = scim.get("/Schemas").await;
    assert_eq!(schemas.body["totalResults"], 4, "{}", schemas.text);
    let ids = schemas.list_of("id");
    for id in [USER, ENTERPRISE, PLINTO, GROUP] {
        assert!(ids.iter().any(|x| x == id), "{id}");
    }
    let user = scim.get(&format!("/Schemas/{USER}")).await;
    assert_eq!(user.status, 200, "{}", user.text);
    let attrs = user.body["attributes"].as_array().unwrap();
    let user_name = attrs.iter().find(|a| a["name"] == "userName").unwrap();
    assert_eq!(user_name["uniqueness"], "server");
    assert_eq!(user_name["caseExact"], false);
    let password = attrs.iter().find(|a| a["name"] == "password").unwrap();
    assert_eq!(password["returned"], "never");
    assert_eq!(password["mutability"], "writeOnly");

    let types = scim.get("/ResourceTypes").await;
    assert_eq!(types.body["totalResults"], 2, "{}", types.text);
    let u = scim.get("/ResourceTypes/User").await;
    assert_eq!(u.body["endpoint"], "/Users", "{}", u.text);
    assert_eq!(u.body["schema"], USER);
    assert_eq!(u.body["schemaExtensions"][0]["schema"], ENTERPRISE);
    let g = scim.get("/ResourceTypes/Group").await;
    assert_eq!(g.body["endpoint"], "/Groups", "{}", g.text);
    s.stop().await;
}

/// Membership of a large group is changed row by row: adding and removing one member does
/// not rewrite (or return) the others.
#[tokio::test]
async fn large_group_membership() {
    let s = server().await;
    let scim = Scim::new(&s, "acme").await;
    let n = 1000;
    let ops: Vec<Value> = (0..n)
        .map(|i| {
            json!({ "method": "POST", "path": "/Users", "bulkId": format!("u{i}"),
                    "data": { "schemas": [USER], "userName": format!("user{i}@example.com") } })
        })
        .collect();
    let r = scim
        .post("/Bulk", &json!({ "schemas": [BULK], "Operations": ops }))
        .await;
    assert_eq!(r.status, 200);
    let ids: Vec<String> = r.body["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            o["location"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids.len(), n);
    let g = scim
        .post(
            "/Groups",
            &json!({ "schemas": [GROUP], "displayName": "Everyone" }),
        )
        .await;
    let gpath = format!("/Groups/{}", g.id());
    let members: Vec<Value> = ids.iter().map(|id| json!({ "value": id })).collect();
    let r = scim
        .patch_ops(
            &gpath,
            json!([{ "op": "add", "path": "members", "value": members }]),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    // Adding members that are members already changes nothing.
    let r = scim
        .patch_ops(
            &gpath,
            json!([{ "op": "add", "path": "members", "value": [{ "value": ids[0] }] }]),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = scim
        .patch_ops(
            &gpath,
            json!([{ "op": "remove", "path": format!("members[value eq \"{}\"]", ids[1]) }]),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    // The group without its members, and with them.
    let r = scim
        .get(&format!("{gpath}?excludedAttributes=members"))
        .await;
    assert!(r.body.get("members").is_none());
    assert_eq!(r.body["displayName"], "Everyone");
    let r = scim.get(&gpath).await;
    assert_eq!(r.body["members"].as_array().unwrap().len(), n - 1);
    // Who is in it, by filter, in the database.
    let r = scim
        .filter("Groups", &format!("members.value eq \"{}\"", ids[2]))
        .await;
    assert_eq!(r.body["totalResults"], 1, "{}", r.text);
    let r = scim
        .filter("Groups", &format!("members[value eq \"{}\"]", ids[1]))
        .await;
    assert_eq!(r.body["totalResults"], 0, "{}", r.text);
    // A group cannot contain itself; a member's declared type must be what it is; a group
    // can be a member of another.
    scim.patch_ops(
        &gpath,
        json!([{ "op": "add", "path": "members", "value": [{ "value": g.id() }] }]),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    scim.patch_ops(
        &gpath,
        json!([{ "op": "add", "path": "members", "value": [{ "value": ids[3], "type": "Group" }] }]),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    let outer = scim
        .post(
            "/Groups",
            &json!({ "schemas": [GROUP], "displayName": "Outer", "members": [{ "value": g.id(), "type": "Group" }] }),
        )
        .await;
    assert_eq!(outer.status, 201, "{}", outer.text);
    assert_eq!(outer.body["members"][0]["type"], "Group");
    assert_eq!(outer.body["members"][0]["display"], "Everyone");
    // A Bulk operation's `version` is its If-Match.
    let r = scim
        .post(
            "/Bulk",
            &json!({ "schemas": [BULK], "Operations": [
                { "method": "PATCH", "path": format!("/Groups/{}", outer.id()), "version": "W/\"999\"",
                  "data": { "schemas": [PATCH_OP], "Operations": [{ "op": "replace", "path": "displayName", "value": "X" }] } },
                { "method": "PATCH", "path": format!("/Groups/{}", outer.id()), "version": outer.body["meta"]["version"],
                  "data": { "schemas": [PATCH_OP], "Operations": [{ "op": "replace", "path": "displayName", "value": "Outer 2" }] } }
            ]}),
        )
        .await;
    assert_eq!(r.body["Operations"][0]["status"], "412", "{}", r.text);
    assert_eq!(r.body["Operations"][1]["status"], "200", "{}", r.text);

    // An unknown member id is refused and changes nothing.
    scim.patch_ops(
        &gpath,
        json!([{ "op": "add", "path": "members", "value": [{ "value": "00000000-0000-0000-0000-000000000000" }] }]),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    s.stop().await;
}

#[tokio::test]
async fn scim_requests_are_rate_limited_per_token_in_scim_format() {
    let s = TestServer::start_with(|c| c.rate_limits = "scim=3/s,auth_failure=2/min".into()).await;
    s.create_tenant("acme", false).await;
    let a = Scim::new(&s, "acme").await;
    let b = Scim::new(&s, "acme").await;
    for _ in 0..3 {
        assert_eq!(a.get("/Users").await.status, 200);
    }
    let r = a.get("/Users").await;
    r.assert_error(429, None);
    assert!(r.header("retry-after").is_some());
    // Another token has a budget of its own.
    assert_eq!(b.get("/Users").await.status, 200);
    // Invalid tokens are limited per address (auth_failure), in the SCIM format too; once
    // over it, that address waits, with a valid token too.
    let nobody = Scim::with_token(&s, "acme", "nope");
    assert_eq!(nobody.get("/Users").await.status, 401);
    assert_eq!(nobody.get("/Users").await.status, 401);
    nobody.get("/Users").await.assert_error(429, None);
    b.get("/Users").await.assert_error(429, None);
    s.clock.advance(chrono::Duration::seconds(60));
    assert_eq!(a.get("/Users").await.status, 200);
    s.stop().await;
}

/// Issue 17.16: every password hash has its own salt, also for identical passwords in one Bulk
/// request (each user's stored argon2 hash differs), and each user signs in with it.
#[tokio::test]
async fn bulk_hashes_each_password_with_its_own_salt() {
    use sea_orm::EntityTrait;
    let s = server().await;
    let scim = Scim::new(&s, "acme").await;
    let same = "the same good password";
    let user = |n: &str| with_password(entra_user(&format!("{n}@example.com"), n), same);
    let r = scim
        .post(
            "/Bulk",
            &json!({ "schemas": [BULK], "Operations": [
                { "method": "POST", "path": "/Users", "bulkId": "a", "data": user("twin-a") },
                { "method": "POST", "path": "/Users", "bulkId": "b", "data": user("twin-b") },
                { "method": "PATCH", "path": "/Users/bulkId:a", "data": {
                    "schemas": [PATCH_OP],
                    "Operations": [{ "op": "replace", "path": "password", "value": same }] } },
            ]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    for op in r.body["Operations"].as_array().unwrap() {
        assert!(op["status"] == "201" || op["status"] == "200", "{}", r.text);
    }
    let hashes: Vec<String> = entity::user::Entity::find()
        .all(&s.state.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|u| u.user_name.starts_with("twin-"))
        .map(|u| u.password_hash.unwrap())
        .collect();
    assert_eq!(hashes.len(), 2);
    assert_ne!(hashes[0], hashes[1], "one salt per hash");
    for h in &hashes {
        assert!(h.starts_with("$argon2id$"), "{h}");
    }
    for n in ["twin-a", "twin-b"] {
        let res = s
            .browser()
            .login("acme", &format!("{n}@example.com"), same)
            .await;
        assert_eq!(res.status(), reqwest::StatusCode::SEE_OTHER, "{n}");
    }
    s.stop().await;
}

/// Issue 17.17: a repeated `filter` is refused (which one would apply?), as the OAuth
/// endpoints refuse repeated parameters; one `filter` works.
#[tokio::test]
async fn a_repeated_filter_parameter_is_refused() {
    let s = server().await;
    let scim = Scim::new(&s, "acme").await;
    let r = scim
        .post("/Users", &entra_user("ada@example.com", "ada"))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let one = "filter=userName+eq+%22ada%40example.com%22";
    for resource in ["Users", "Groups"] {
        let r = scim.get(&format!("/{resource}?{one}&{one}")).await;
        r.assert_error(400, Some("invalidFilter"));
        let r = scim
            .get(&format!("/{resource}?{one}&filter=userName+pr"))
            .await;
        r.assert_error(400, Some("invalidFilter"));
    }
    let r = scim.get(&format!("/Users?{one}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["totalResults"], 1);
    s.stop().await;
}
