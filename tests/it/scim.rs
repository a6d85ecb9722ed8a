//! SCIM 2.0: the provisioning flows of Entra ID and Okta, authentication, ETags, Bulk, errors
//! and what provisioning does to sign-in. Queries (filters, sorting, paging, attribute
//! selection) are in `scim_query`.

use reqwest::Method;
use serde_json::{Value, json};

use crate::scim_client::*;
use crate::support::TestServer;

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
    let r = scim.post("/Users", &entra_user("ada@example.com", "ext-ada")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(r.header("content-type").unwrap().starts_with("application/scim+json"));
    let id = r.id();
    let location = format!("{}/Users/{id}", scim.base);
    assert_eq!(r.header("location"), Some(location.as_str()));
    assert_eq!(r.body["meta"]["location"], location);
    assert_eq!(r.body["meta"]["resourceType"], "User");
    assert_eq!(r.header("etag"), r.body["meta"]["version"].as_str());
    assert!(r.body["meta"]["version"].as_str().unwrap().starts_with("W/\""));
    assert_eq!(r.body["userName"], "ada@example.com");
    assert_eq!(r.body["externalId"], "ext-ada");
    assert_eq!(r.body["active"], true);
    assert_eq!(r.body["name"]["givenName"], "Ada");
    assert_eq!(r.body[ENTERPRISE]["department"], "Research");
    assert_eq!(r.body["schemas"], json!([USER, ENTERPRISE]));

    // Create again → 409 uniqueness (also with another case).
    let r = scim.post("/Users", &entra_user("ADA@example.com", "ext-2")).await;
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
    scim.post("/Groups", &json!({ "schemas": [GROUP], "displayName": "ENGINEERING" }))
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
    scim.get(&format!("/Users/{bob}")).await.assert_error(404, None);
    scim.delete(&format!("/Users/{bob}")).await.assert_error(404, None);
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
            actions.iter().any(|(x, actor)| x == a && actor == "scim:entra"),
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
        Scim::with_token(&s, "acme", &okta_token).get("/Users").await.status,
        200
    );
    let out = s.cli(&["scim-token", "revoke", "--tenant", "acme", "okta"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let revoked: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(revoked["revoked"], json!([okta["id"]]));
    // Listed without secrets, revoked one marked.
    let out = s.cli(&["scim-token", "list", "--tenant", "acme"]);
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("plinto_scim_"));
    assert!(list.iter().any(|t| t["name"] == "okta" && !t["revoked_at"].is_null()));
    assert!(list.iter().any(|t| t["name"] == "entra" && t["revoked_at"].is_null()));
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
        ("empty bearer", http.get(&users).header("authorization", "Bearer ")),
        ("garbage", http.get(&users).bearer_auth("nope")),
        ("prefixed garbage", http.get(&users).bearer_auth("plinto_scim_nope")),
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
    let code = oidc::code_as(&s, &browser, &rp, "grace@example.com", "correct horse battery").await;
    let tokens: Value = oidc::exchange(&s, &rp, &code).await.json().await.unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_string();
    let access_token = tokens["access_token"].as_str().unwrap().to_string();
    assert_eq!(browser.get("/t/default/account").await.status().as_u16(), 200);
    // The ID token's name comes from displayName.
    let info: Value = oidc::userinfo(&s, &access_token).await.json().await.unwrap();
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
    assert_eq!(browser.get("/t/default/account").await.status().as_u16(), 303);
    assert_eq!(oidc::refresh(&s, &rp, &refresh_token).await.status().as_u16(), 400);
    assert_eq!(oidc::userinfo(&s, &access_token).await.status().as_u16(), 401);
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
    body["emails"] = json!([{ "value": "grace.hopper@example.com", "type": "work", "primary": true }]);
    let r = scim.put(&format!("/Users/{id}"), &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        s.browser()
            .login("default", "grace.hopper@example.com", "correct horse battery")
            .await
            .status()
            .as_u16(),
        303
    );

    // Accounts made outside SCIM are SCIM users too, userName = address.
    s.create_user("default", "local@example.com", "local password 1").await;
    let r = scim.filter("Users", "userName eq \"local@example.com\"").await;
    assert_eq!(r.body["totalResults"], 1, "{}", r.text);
    assert_eq!(r.body["Resources"][0]["emails"][0]["value"], "local@example.com");

    // A user needs an address to sign in with.
    scim.post(
        "/Users",
        &json!({ "schemas": [USER], "userName": "no-address" }),
    )
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
    let r = scim.send(Method::GET, &path, None, &[("if-none-match", &v1)]).await;
    assert_eq!(r.status, 304);
    assert_eq!(r.header("etag"), Some(v1.as_str()));
    let r = scim.send(Method::GET, &path, None, &[("if-none-match", "W/\"999\"")]).await;
    assert_eq!(r.status, 200);

    // If-Match with a stale version: 412, and nothing changes.
    let op = json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "replace", "path": "title", "value": "x" }] });
    let r = scim.send(Method::PATCH, &path, Some(&op), &[("if-match", "W/\"999\"")]).await;
    r.assert_error(412, None);
    assert_eq!(scim.get(&path).await.body["title"], "Engineer");
    // With the current one: done, and the version moves on.
    let r = scim.send(Method::PATCH, &path, Some(&op), &[("if-match", &v1)]).await;
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
    let r = scim.send(Method::PUT, &path, Some(&put), &[("if-match", "*")]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v3 = r.header("etag").unwrap().to_string();
    let r = scim.send(Method::DELETE, &path, None, &[("if-match", &v3)]).await;
    assert_eq!(r.status, 204);

    // Groups: membership changes move the version too.
    let g = scim
        .post("/Groups", &json!({ "schemas": [GROUP], "displayName": "G" }))
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
    let r = scim.send(Method::GET, &gpath, None, &[("if-none-match", &gv1)]).await;
    assert_eq!(r.status, 200);
    let r = scim.send(Method::GET, &gpath, None, &[("if-none-match", &gv2)]).await;
    assert_eq!(r.status, 304);
    s.stop().await;
}
