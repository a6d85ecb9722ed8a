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
