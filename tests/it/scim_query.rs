//! SCIM queries (RFC 7644 §3.4.2, §3.4.3): filters as the database runs them (every operator
//! on columns, JSON attributes, sub-attributes, the enterprise extension, multi-valued
//! attributes, value paths, `meta`, memberships), logical operators, filter errors, sorting,
//! paging, `attributes` / `excludedAttributes`, and POST `.search` (per type and at the root).

use std::collections::{BTreeSet, HashMap};

use chrono::{Duration, SecondsFormat};
use plinto::clock::Clock;
use serde_json::{Value, json};

use crate::scim_client::{ENTERPRISE, LIST, Resp, SEARCH, Scim, USER};
use crate::support::TestServer;

// --- Fixture and helpers ---

const ADA: &str = "Ada@Example.com";
const GRACE: &str = "grace@example.com";
const ALAN: &str = "ALAN@example.org";
const LINUS: &str = "linus@kernel.org";
const MARGARET: &str = "Margaret@Example.com";
const EDSGER: &str = "edsger@example.net";
const ALL: [&str; 6] = [ADA, GRACE, ALAN, LINUS, MARGARET, EDSGER];

/// Six users and three groups: Engineering {Ada, Grace, Linus}, Research {Ada, Alan},
/// Leadership {Margaret, Engineering}. Ada, Grace and Alan were created an hour before the
/// other three (`mid` lies between); the groups an hour later; Ada was modified an hour after
/// that (`late` lies before that change and after every other write).
struct Fixture {
    /// userName → id
    id: HashMap<&'static str, String>,
    eng: String,
    research: String,
    leads: String,
    mid: String,
    late: String,
    /// Ada's `meta.created` as the server shows it.
    ada_created: String,
}

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

async fn start() -> (TestServer, Scim) {
    let s = TestServer::start_with(|c| c.rate_limits = "off".into()).await;
    s.create_tenant("acme", false).await;
    let scim = Scim::new(&s, "acme").await;
    (s, scim)
}

async fn seed(s: &TestServer, scim: &Scim) -> Fixture {
    let mut id = HashMap::new();
    let ada = scim
        .create_user(json!({
            "schemas": [USER, ENTERPRISE], "userName": ADA, "externalId": "ext-Ada",
            "displayName": "Ada Lovelace", "title": "Engineer", "active": true,
            "name": { "givenName": "Ada", "familyName": "Lovelace" },
            "emails": [
                { "value": "ada@example.com", "type": "work", "primary": true },
                { "value": "ada@home.org", "type": "home" }
            ],
            ENTERPRISE: { "department": "Research", "employeeNumber": "E-001" }
        }))
        .await;
    let ada_id = ada["id"].as_str().unwrap().to_string();
    id.insert(ADA, ada_id.clone());
    let first = [
        json!({
            "schemas": [USER, ENTERPRISE], "userName": GRACE, "externalId": "ext-Grace",
            "displayName": "Grace Hopper", "title": "Senior Engineer", "active": true,
            "name": { "givenName": "Grace", "familyName": "Hopper" },
            "emails": [
                { "value": "grace@example.com", "type": "work", "primary": true },
                { "value": "Grace.H@Home.org", "type": "home", "primary": false }
            ],
            ENTERPRISE: { "department": "Navy", "employeeNumber": "E-002",
                          "manager": { "value": ada_id } }
        }),
        json!({
            "schemas": [USER, ENTERPRISE], "userName": ALAN, "externalId": "ext-Alan",
            "displayName": "Alan Turing", "title": "Mathematician", "active": false,
            "name": { "givenName": "Alan", "familyName": "Turing" },
            "emails": [{ "value": "alan@home.org", "type": "home", "primary": true }],
            ENTERPRISE: { "department": "Research", "employeeNumber": "E-003",
                          "manager": { "value": ada_id } }
        }),
    ];
    for body in first {
        let u = scim.create_user(body).await;
        let name = ALL.iter().find(|n| **n == u["userName"]).unwrap();
        id.insert(*name, u["id"].as_str().unwrap().to_string());
    }
    s.clock.advance(Duration::hours(1));
    let mid = rfc3339(s.clock.now() - Duration::minutes(30));
    let second = [
        json!({
            "schemas": [USER], "userName": LINUS, "externalId": "ext-linus", "active": true,
            "name": { "givenName": "Linus" },
            "emails": [{ "value": "linus@kernel.org", "type": "work" }]
        }),
        json!({
            "schemas": [USER, ENTERPRISE], "userName": MARGARET,
            "displayName": "Margaret Hamilton", "title": "Director", "active": true,
            "name": { "givenName": "Margaret", "familyName": "Hamilton" },
            "emails": [{ "value": "margaret@example.com", "type": "work", "primary": true }],
            ENTERPRISE: { "department": "Apollo", "employeeNumber": "E-005" }
        }),
        json!({
            "schemas": [USER], "userName": EDSGER, "externalId": "ext-Edsger", "active": false
        }),
    ];
    for body in second {
        let u = scim.create_user(body).await;
        let name = ALL.iter().find(|n| **n == u["userName"]).unwrap();
        id.insert(*name, u["id"].as_str().unwrap().to_string());
    }
    s.clock.advance(Duration::hours(1));
    let group = |name: &str, members: Vec<&String>| {
        let members: Vec<Value> = members.iter().map(|m| json!({ "value": m })).collect();
        json!({ "schemas": [crate::scim_client::GROUP], "displayName": name, "members": members })
    };
    let mut gid = Vec::new();
    for body in [
        group("Engineering", vec![&id[ADA], &id[GRACE], &id[LINUS]]),
        group("Research", vec![&id[ADA], &id[ALAN]]),
    ] {
        let r = scim.post("/Groups", &body).await;
        assert_eq!(r.status, 201, "{}", r.text);
        gid.push(r.id());
    }
    let r = scim
        .post(
            "/Groups",
            &group("Leadership", vec![&id[MARGARET], &gid[0]]),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let leads = r.id();
    let late = rfc3339(s.clock.now() + Duration::minutes(30));
    s.clock.advance(Duration::hours(1));
    let r = scim
        .patch_ops(
            &format!("/Users/{ada_id}"),
            json!([{ "op": "replace", "path": "nickName", "value": "Countess" }]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    Fixture {
        ada_created: ada["meta"]["created"].as_str().unwrap().to_string(),
        id,
        eng: gid[0].clone(),
        research: gid[1].clone(),
        leads,
        mid,
        late,
    }
}

/// GET `/{resource}` with these query parameters (URL-encoded here).
async fn query(scim: &Scim, resource: &str, params: &[(&str, &str)]) -> Resp {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        q.append_pair(k, v);
    }
    scim.get(&format!("/{resource}?{}", q.finish())).await
}

/// GET `/Users?startIndex=…&count=…`.
async fn page(scim: &Scim, start: &str, count: &str) -> Resp {
    query(scim, "Users", &[("startIndex", start), ("count", count)]).await
}

/// A `SearchRequest` with these members.
fn search(members: Value) -> Value {
    let mut body = json!({ "schemas": [SEARCH] });
    for (k, v) in members.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

fn set<S: AsRef<str>>(items: &[S]) -> BTreeSet<String> {
    items.iter().map(|s| s.as_ref().to_string()).collect()
}

/// Assert a 200 `ListResponse` whose `key`s are exactly `want` (any order), all on one page.
fn assert_list(r: &Resp, what: &str, key: &str, want: &[&str]) {
    assert_eq!(r.status, 200, "{what}: {}", r.text);
    assert_eq!(r.body["schemas"], json!([LIST]), "{what}: {}", r.text);
    assert_eq!(set(&r.list_of(key)), set(want), "{what}: {}", r.text);
    assert_eq!(r.body["totalResults"], want.len(), "{what}: {}", r.text);
    assert_eq!(r.body["itemsPerPage"], want.len(), "{what}: {}", r.text);
}

/// `(filter, matching names)` pairs: `cases![(r#"userName pr"#, ALL), (format!(…), [ADA])]`.
macro_rules! cases {
    ($(($f:expr, $w:expr)),* $(,)?) => {
        vec![$((String::from($f), AsRef::<[&str]>::as_ref(&$w).to_vec())),*]
    };
}

/// Each filter on `/Users` matches exactly these userNames.
async fn expect_users(scim: &Scim, cases: &[(String, Vec<&str>)]) {
    for (filter, want) in cases {
        let r = scim.filter("Users", filter).await;
        assert_list(&r, &format!("Users filter {filter}"), "userName", want);
    }
}

/// Each filter on `/Groups` matches exactly these displayNames.
async fn expect_groups(scim: &Scim, cases: &[(String, Vec<&str>)]) {
    for (filter, want) in cases {
        let r = scim.filter("Groups", filter).await;
        assert_list(&r, &format!("Groups filter {filter}"), "displayName", want);
    }
}

/// Whether a JSON value has the key `key` (any case) anywhere.
fn has_key_anywhere(v: &Value, key: &str) -> bool {
    match v {
        Value::Object(o) => o
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case(key) || has_key_anywhere(v, key)),
        Value::Array(a) => a.iter().any(|v| has_key_anywhere(v, key)),
        _ => false,
    }
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

// --- 1. Comparison operators ---

#[tokio::test]
async fn every_operator_on_columns_username_externalid_active_and_id() {
    let (s, scim) = start().await;
    let f = seed(&s, &scim).await;
    let others_than_ada: Vec<&str> = ALL.iter().copied().filter(|n| *n != ADA).collect();
    expect_users(
        &scim,
        &cases![
            // userName: caseExact false, on the lower-cased column.
            (r#"userName eq "ADA@EXAMPLE.COM""#, [ADA]),
            (r#"userName ne "ada@example.com""#, others_than_ada),
            (
                r#"userName co "EXAMPLE""#,
                [ADA, GRACE, ALAN, MARGARET, EDSGER]
            ),
            (r#"userName sw "A""#, [ADA, ALAN]),
            (r#"userName ew ".ORG""#, [ALAN, LINUS]),
            (r#"userName gt "grace@example.com""#, [LINUS, MARGARET]),
            (
                r#"userName ge "GRACE@example.com""#,
                [GRACE, LINUS, MARGARET]
            ),
            (r#"userName lt "b""#, [ADA, ALAN]),
            (r#"userName le "ALAN@EXAMPLE.ORG""#, [ADA, ALAN]),
            (r#"userName pr"#, ALL),
            // externalId: caseExact true; Margaret has none.
            (r#"externalId eq "ext-Ada""#, [ADA]),
            (r#"externalId eq "EXT-ADA""#, []),
            (r#"externalId ne "ext-Ada""#, [GRACE, ALAN, LINUS, EDSGER]),
            (r#"externalId co "A""#, [ADA, ALAN]),
            (r#"externalId sw "ext-""#, [ADA, GRACE, ALAN, LINUS, EDSGER]),
            (r#"externalId sw "EXT-""#, []),
            (r#"externalId ew "s""#, [LINUS]),
            (r#"externalId ew "S""#, []),
            (r#"externalId gt "ext-F""#, [GRACE, LINUS]),
            (r#"externalId ge "ext-Grace""#, [GRACE, LINUS]),
            (r#"externalId lt "ext-B""#, [ADA, ALAN]),
            (r#"externalId le "ext-Ada""#, [ADA]),
            (r#"externalId pr"#, [ADA, GRACE, ALAN, LINUS, EDSGER]),
            // active
            (r#"active eq true"#, [ADA, GRACE, LINUS, MARGARET]),
            (r#"active eq false"#, [ALAN, EDSGER]),
            (r#"active ne true"#, [ALAN, EDSGER]),
            (r#"active pr"#, ALL),
        ],
    )
    .await;
    let ada = &f.id[ADA];
    expect_users(
        &scim,
        &cases![
            (format!(r#"id eq "{ada}""#), [ADA]),
            (format!(r#"id eq "{}""#, ada.to_uppercase()), [ADA]),
            (format!(r#"id ne "{ada}""#), others_than_ada),
            (r#"id eq "not-a-uuid""#, []),
            (r#"id pr"#, ALL),
        ],
    )
    .await;
    s.stop().await;
}

#[tokio::test]
async fn every_operator_on_json_attributes_sub_attributes_and_the_extension() {
    let (s, scim) = start().await;
    let f = seed(&s, &scim).await;
    const DEPT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department";
    let dept = |rest: &str| format!("{DEPT} {rest}");
    let cases = cases![
        // displayName (JSON, caseExact false); Linus and Edsger have none.
        (r#"displayName eq "ada lovelace""#, [ADA]),
        (r#"displayName ne "Ada Lovelace""#, [GRACE, ALAN, MARGARET]),
        (r#"displayName co "ING""#, [ALAN]),
        (r#"displayName sw "a""#, [ADA, ALAN]),
        (r#"displayName ew "ER""#, [GRACE]),
        (r#"displayName gt "B""#, [GRACE, MARGARET]),
        (r#"displayName ge "grace hopper""#, [GRACE, MARGARET]),
        (r#"displayName lt "b""#, [ADA, ALAN]),
        (r#"displayName le "ALAN TURING""#, [ADA, ALAN]),
        (r#"displayName pr"#, [ADA, GRACE, ALAN, MARGARET]),
        // title (JSON)
        (r#"title eq "engineer""#, [ADA]),
        (r#"title ne "Engineer""#, [GRACE, ALAN, MARGARET]),
        (r#"title co "ENG""#, [ADA, GRACE]),
        (r#"title sw "s""#, [GRACE]),
        (r#"title ew "ICIAN""#, [ALAN]),
        (r#"title gt "mathematician""#, [GRACE]),
        (r#"title ge "M""#, [ALAN, GRACE]),
        (r#"title lt "E""#, [MARGARET]),
        (r#"title le "engineer""#, [ADA, MARGARET]),
        (r#"title pr"#, [ADA, GRACE, ALAN, MARGARET]),
        // name.givenName (a sub-attribute of a complex attribute); Edsger has no name.
        (r#"name.givenName eq "ADA""#, [ADA]),
        (r#"name.givenName ne "Ada""#, [GRACE, ALAN, LINUS, MARGARET]),
        (r#"name.givenName co "a""#, [ADA, GRACE, ALAN, MARGARET]),
        (r#"name.givenName sw "L""#, [LINUS]),
        (r#"name.givenName ew "N""#, [ALAN]),
        (r#"name.givenName gt "h""#, [LINUS, MARGARET]),
        (r#"name.givenName ge "grace""#, [GRACE, LINUS, MARGARET]),
        (r#"name.givenName lt "b""#, [ADA, ALAN]),
        (r#"name.givenName le "alan""#, [ADA, ALAN]),
        (r#"name.givenName pr"#, [ADA, GRACE, ALAN, LINUS, MARGARET]),
        (r#"name.familyName pr"#, [ADA, GRACE, ALAN, MARGARET]),
        (r#"name pr"#, [ADA, GRACE, ALAN, LINUS, MARGARET]),
        // The enterprise extension, by its full URN.
        (dept(r#"eq "research""#), [ADA, ALAN]),
        (dept(r#"ne "Research""#), [GRACE, MARGARET]),
        (dept(r#"co "E""#), [ADA, ALAN]),
        (dept(r#"sw "n""#), [GRACE]),
        (dept(r#"ew "LO""#), [MARGARET]),
        (dept(r#"gt "n""#), [ADA, ALAN, GRACE]),
        (dept(r#"ge "navy""#), [ADA, ALAN, GRACE]),
        (dept(r#"lt "b""#), [MARGARET]),
        (dept(r#"le "apollo""#), [MARGARET]),
        (dept("pr"), [ADA, GRACE, ALAN, MARGARET]),
        (
            format!(r#"{ENTERPRISE}:employeeNumber eq "e-002""#),
            [GRACE],
        ),
        (
            format!(r#"{ENTERPRISE}:manager.value eq "{}""#, f.id[ADA]),
            [GRACE, ALAN],
        ),
        (format!("{ENTERPRISE}:manager pr"), [GRACE, ALAN]),
    ];
    expect_users(&scim, &cases).await;
    s.stop().await;
}

#[tokio::test]
async fn multi_valued_attributes_and_value_paths() {
    let (s, scim) = start().await;
    seed(&s, &scim).await;
    expect_users(
        &scim,
        &cases![
            (r#"emails pr"#, [ADA, GRACE, ALAN, LINUS, MARGARET]),
            // `emails` alone compares the elements' `value`.
            (r#"emails co "EXAMPLE""#, [ADA, GRACE, MARGARET]),
            (r#"emails eq "ada@home.org""#, [ADA]),
            (r#"emails.value eq "GRACE.h@home.org""#, [GRACE]),
            (r#"emails.value sw "a""#, [ADA, ALAN]),
            (r#"emails.value ew "@HOME.ORG""#, [ADA, GRACE, ALAN]),
            (r#"emails.value gt "l""#, [LINUS, MARGARET]),
            (r#"emails.value pr"#, [ADA, GRACE, ALAN, LINUS, MARGARET]),
            (r#"emails.type eq "home""#, [ADA, GRACE, ALAN]),
            (r#"emails.primary eq true"#, [ADA, GRACE, ALAN, MARGARET]),
            (r#"emails.primary eq false"#, [GRACE]),
            (r#"emails[type eq "work"]"#, [ADA, GRACE, LINUS, MARGARET]),
            (
                r#"emails[type eq "work" and value co "example"]"#,
                [ADA, GRACE, MARGARET]
            ),
            // Both conditions on the same element: Ada's home address is not at example.com.
            (r#"emails[type eq "home" and value co "example"]"#, []),
            (
                r#"emails[type eq "work" and primary eq true]"#,
                [ADA, GRACE, MARGARET]
            ),
            (r#"emails[not (primary pr)]"#, [ADA, LINUS]),
            (
                r#"emails[type eq "work"].value eq "LINUS@kernel.org""#,
                [LINUS]
            ),
            (r#"emails[type eq "home"].value eq "ada@example.com""#, []),
            (
                r#"emails[type eq "home"].value co "home""#,
                [ADA, GRACE, ALAN]
            ),
        ],
    )
    .await;
    s.stop().await;
}

#[tokio::test]
async fn meta_times_and_memberships() {
    let (s, scim) = start().await;
    let f = seed(&s, &scim).await;
    let (mid, late) = (&f.mid, &f.late);
    let cases = cases![
        (format!(r#"meta.created lt "{mid}""#), [ADA, GRACE, ALAN]),
        (format!(r#"meta.created le "{mid}""#), [ADA, GRACE, ALAN]),
        (
            format!(r#"meta.created gt "{mid}""#),
            [LINUS, MARGARET, EDSGER]
        ),
        (
            format!(r#"meta.created ge "{mid}""#),
            [LINUS, MARGARET, EDSGER]
        ),
        // The time exactly as the server shows it in meta.created.
        (
            format!(r#"meta.created eq "{}""#, f.ada_created),
            [ADA, GRACE, ALAN]
        ),
        (format!(r#"meta.lastModified gt "{late}""#), [ADA]),
        (
            format!(r#"meta.lastModified lt "{late}""#),
            [GRACE, ALAN, LINUS, MARGARET, EDSGER],
        ),
        (r#"meta.resourceType eq "User""#.into(), ALL),
        (
            format!(r#"groups.value eq "{}""#, f.eng),
            [ADA, GRACE, LINUS]
        ),
        // Direct memberships only: Engineering is in Leadership, its members are not.
        (format!(r#"groups.value eq "{}""#, f.leads), [MARGARET]),
        (format!(r#"groups eq "{}""#, f.research), [ADA, ALAN]),
        (r#"groups.display eq "research""#, [ADA, ALAN]),
        (r#"groups pr"#, [ADA, GRACE, ALAN, LINUS, MARGARET]),
    ];
    expect_users(&scim, &cases).await;

    let (ada, eng) = (&f.id[ADA], &f.eng);
    let cases = cases![
        (
            format!(r#"members.value eq "{ada}""#),
            ["Engineering", "Research"]
        ),
        (format!(r#"members eq "{eng}""#), ["Leadership"]),
        (format!(r#"not (members.value eq "{ada}")"#), ["Leadership"]),
        (r#"members.type eq "Group""#, ["Leadership"]),
        (r#"members pr"#, ["Engineering", "Research", "Leadership"]),
        (r#"displayName eq "ENGINEERING""#, ["Engineering"]),
        (
            r#"displayName ne "engineering""#,
            ["Research", "Leadership"]
        ),
        (r#"displayName co "EA""#, ["Research", "Leadership"]),
        (r#"displayName sw "r""#, ["Research"]),
        (r#"displayName ew "ING""#, ["Engineering"]),
        (r#"displayName gt "l""#, ["Research", "Leadership"]),
        (
            r#"displayName le "leadership""#,
            ["Engineering", "Leadership"]
        ),
        (format!(r#"id eq "{eng}""#), ["Engineering"]),
        (
            format!(r#"meta.created gt "{mid}""#),
            ["Engineering", "Research", "Leadership"]
        ),
        (
            r#"meta.resourceType eq "Group""#,
            ["Engineering", "Research", "Leadership"]
        ),
    ];
    expect_groups(&scim, &cases).await;
    s.stop().await;
}

// --- 2. Logical operators ---

#[tokio::test]
async fn and_or_not_precedence_parentheses_and_case() {
    let (s, scim) = start().await;
    seed(&s, &scim).await;
    expect_users(
        &scim,
        &cases![
            (r#"title co "engineer" and active eq true"#, [ADA, GRACE]),
            (r#"userName sw "a" or userName sw "l""#, [ADA, ALAN, LINUS]),
            // A comparison with a missing attribute is false, so its negation is true: users
            // without a title are "not (title eq …)".
            (r#"not (title eq "Engineer")"#, [GRACE, ALAN, LINUS, MARGARET, EDSGER]),
            (r#"not (title pr)"#, [LINUS, EDSGER]),
            (r#"not (active eq true) and not (emails pr)"#, [EDSGER]),
            (r#"not (not (userName eq "ada@example.com"))"#, [ADA]),
            // `and` binds tighter than `or`.
            (r#"userName sw "e" or title co "engineer" and active eq true"#, [EDSGER, ADA, GRACE]),
            (r#"title co "engineer" and active eq true or userName sw "e""#, [EDSGER, ADA, GRACE]),
            (r#"(userName sw "e" or title co "engineer") and active eq true"#, [ADA, GRACE]),
            (r#"((userName sw "a")) and (active eq false or title eq "Engineer")"#, [ADA, ALAN]),
            // Attribute names, operators, keywords and literals in any case.
            (r#"USERNAME Eq "ada@example.com""#, [ADA]),
            (r#"Title CO "eng""#, [ADA, GRACE]),
            (r#"NAME.GIVENNAME sw "a" AND ACTIVE EQ TRUE"#, [ADA]),
            (r#"userName eq "x" OR NOT (Emails PR)"#, [EDSGER]),
            (r#"EMAILS[TYPE EQ "work" and PRIMARY eq True]"#, [ADA, GRACE, MARGARET]),
            (
                r#"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:Department eq "navy""#,
                &[GRACE],
            ),
            (r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "linus@kernel.org""#, [LINUS]),
        ],
    )
    .await;
    s.stop().await;
}

// --- 3. Filter errors ---

#[tokio::test]
async fn invalid_filters_are_400_invalid_filter_and_password_is_403_sensitive() {
    let (s, scim) = start().await;
    seed(&s, &scim).await;
    let invalid = [
        r#"userName eq"#,
        r#"userName xx "a""#,
        r#"userName "a""#,
        r#"(userName eq "a""#,
        r#"userName eq "a")"#,
        r#"userName eq "a" and"#,
        r#"userName eq "a" userName eq "b""#,
        r#"emails[type eq "work""#,
        r#"userName eq "unterminated"#,
        r#"not userName eq "a""#,
        r#""#,
        r#"nosuch eq "x""#,
        r#"name.nosuch eq "x""#,
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:nosuch eq "x""#,
        r#"emails[nosuch eq "x"]"#,
        r#"active gt true"#,
        r#"active gt "x""#,
        r#"emails.primary lt false"#,
        r#"active co "t""#,
        r#"meta.created gt "yesterday""#,
        r#"name eq "Ada""#,
        r#"title[value eq "x"]"#,
        r#"name[givenName eq "Ada"]"#,
        r#"emails[type eq "work" and emails[value pr]]"#,
    ];
    for filter in invalid {
        let r = scim.filter("Users", filter).await;
        assert_eq!(r.status, 400, "filter {filter:?}: {}", r.text);
        r.assert_error(400, Some("invalidFilter"));
    }
    for filter in [
        r#"userName eq "x""#,
        r#"members.nosuch eq "x""#,
        r#"title pr"#,
    ] {
        let r = scim.filter("Groups", filter).await;
        assert_eq!(r.status, 400, "Groups filter {filter:?}: {}", r.text);
        r.assert_error(400, Some("invalidFilter"));
    }
    for filter in [
        r#"password eq "secret""#,
        r#"password pr"#,
        r#"userName pr or password pr"#,
    ] {
        let r = scim.filter("Users", filter).await;
        assert_eq!(r.status, 403, "filter {filter:?}: {}", r.text);
        r.assert_error(403, Some("sensitive"));
    }
    s.stop().await;
}

// --- 4. Sorting ---

#[tokio::test]
async fn sort_by_and_sort_order() {
    let (s, scim) = start().await;
    seed(&s, &scim).await;
    let by_name = [ADA, ALAN, EDSGER, GRACE, LINUS, MARGARET];
    let r = query(&scim, "Users", &[("sortBy", "userName")]).await;
    assert_eq!(
        r.list_of("userName"),
        by_name,
        "ascending, ignoring case: {}",
        r.text
    );
    let r = query(
        &scim,
        "Users",
        &[("sortBy", "USERNAME"), ("sortOrder", "ascending")],
    )
    .await;
    assert_eq!(r.list_of("userName"), by_name, "{}", r.text);
    let r = query(
        &scim,
        "Users",
        &[("sortBy", "userName"), ("sortOrder", "descending")],
    )
    .await;
    let mut rev = by_name.to_vec();
    rev.reverse();
    assert_eq!(r.list_of("userName"), rev, "descending: {}", r.text);

    // Users without a family name (Linus, Edsger) come last in either order.
    for (order, head) in [
        ("ascending", [MARGARET, GRACE, ADA, ALAN]),
        ("descending", [ALAN, ADA, GRACE, MARGARET]),
    ] {
        let r = query(
            &scim,
            "Users",
            &[("sortBy", "name.familyName"), ("sortOrder", order)],
        )
        .await;
        let got = r.list_of("userName");
        assert_eq!(got.len(), 6, "{}", r.text);
        assert_eq!(got[..4], head, "familyName {order}: {}", r.text);
        assert_eq!(
            set(&got[4..]),
            set(&[LINUS, EDSGER]),
            "nulls last, {order}: {}",
            r.text
        );
    }

    let older = set(&[ADA, GRACE, ALAN]);
    let newer = set(&[LINUS, MARGARET, EDSGER]);
    for (order, first, last) in [
        ("ascending", &older, &newer),
        ("descending", &newer, &older),
    ] {
        let r = query(
            &scim,
            "Users",
            &[("sortBy", "meta.created"), ("sortOrder", order)],
        )
        .await;
        let got = r.list_of("userName");
        assert_eq!(got.len(), 6, "{}", r.text);
        assert_eq!(&set(&got[..3]), first, "meta.created {order}: {}", r.text);
        assert_eq!(&set(&got[3..]), last, "meta.created {order}: {}", r.text);
    }

    // With a filter and paging: the page is cut from the sorted matches.
    let r = query(
        &scim,
        "Users",
        &[
            ("filter", "active eq true"),
            ("sortBy", "userName"),
            ("startIndex", "2"),
            ("count", "2"),
        ],
    )
    .await;
    assert_eq!(r.list_of("userName"), [GRACE, LINUS], "{}", r.text);
    assert_eq!(r.body["totalResults"], 4, "{}", r.text);

    let r = query(
        &scim,
        "Groups",
        &[("sortBy", "displayName"), ("sortOrder", "descending")],
    )
    .await;
    assert_eq!(
        r.list_of("displayName"),
        ["Research", "Leadership", "Engineering"],
        "{}",
        r.text
    );

    for (by, order) in [
        ("nosuch", "ascending"),
        ("name.nosuch", "ascending"),
        ("userName", "sideways"),
    ] {
        let r = query(&scim, "Users", &[("sortBy", by), ("sortOrder", order)]).await;
        assert_eq!(r.status, 400, "sortBy={by} sortOrder={order}: {}", r.text);
        assert_eq!(r.body["status"], "400", "{}", r.text);
    }
    let r = query(&scim, "Groups", &[("sortBy", "userName")]).await;
    assert_eq!(r.status, 400, "Groups sortBy=userName: {}", r.text);
    s.stop().await;
}

// --- 5. Paging ---

#[tokio::test]
async fn paging_with_start_index_and_count() {
    let (s, scim) = start().await;
    seed(&s, &scim).await;
    // Entra ID's probe.
    let r = query(
        &scim,
        "Users",
        &[
            ("filter", "userName pr"),
            ("startIndex", "1"),
            ("count", "1"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["totalResults"], 6, "{}", r.text);
    assert_eq!(r.body["itemsPerPage"], 1, "{}", r.text);
    assert_eq!(r.body["startIndex"], 1, "{}", r.text);
    assert_eq!(
        r.body["Resources"].as_array().unwrap().len(),
        1,
        "{}",
        r.text
    );

    // Every page of two, without the server being told an order: no duplicate, no omission.
    let mut seen = Vec::new();
    for start in ["1", "3", "5"] {
        let r = page(&scim, start, "2").await;
        assert_eq!(r.body["totalResults"], 6, "{}", r.text);
        assert_eq!(
            r.body["startIndex"],
            start.parse::<u64>().unwrap(),
            "{}",
            r.text
        );
        assert_eq!(r.body["itemsPerPage"], 2, "{}", r.text);
        seen.extend(r.list_of("userName"));
    }
    assert_eq!(seen.len(), 6, "{seen:?}");
    assert_eq!(set(&seen), set(&ALL), "{seen:?}");
    let r = page(&scim, "6", "2").await;
    assert_eq!(r.list_of("userName").len(), 1, "last page: {}", r.text);

    // startIndex below 1 is 1.
    let first = page(&scim, "1", "3").await.list_of("userName");
    for start in ["0", "-5"] {
        let r = page(&scim, start, "3").await;
        assert_eq!(r.status, 200, "startIndex={start}: {}", r.text);
        assert_eq!(r.body["startIndex"], 1, "startIndex={start}: {}", r.text);
        assert_eq!(
            r.list_of("userName"),
            first,
            "startIndex={start}: {}",
            r.text
        );
    }
    // Beyond the end: nothing, and the right total.
    let r = page(&scim, "7", "10").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["totalResults"], 6, "{}", r.text);
    assert_eq!(r.body["itemsPerPage"], 0, "{}", r.text);
    assert_eq!(r.list_of("userName").len(), 0, "{}", r.text);
    // count 0 (or negative): the total only.
    for count in ["0", "-3"] {
        let r = page(&scim, "1", count).await;
        assert_eq!(r.status, 200, "count={count}: {}", r.text);
        assert_eq!(r.body["totalResults"], 6, "count={count}: {}", r.text);
        assert_eq!(r.body["itemsPerPage"], 0, "count={count}: {}", r.text);
        assert_eq!(r.list_of("userName").len(), 0, "count={count}: {}", r.text);
    }
    // Above the maximum (1000): accepted, at most the maximum.
    let r = page(&scim, "1", "5000").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.list_of("userName").len(), 6, "{}", r.text);
    // No count: the default page holds all six.
    let r = scim.get("/Users").await;
    assert_list(&r, "no count", "userName", &ALL);
    for (start, count) in [("1", "two"), ("x", "2"), ("1", "1.5")] {
        let r = page(&scim, start, count).await;
        assert_eq!(
            r.status, 400,
            "startIndex={start} count={count}: {}",
            r.text
        );
        assert_eq!(r.body["status"], "400", "{}", r.text);
    }
    // Groups page the same way.
    let r = query(&scim, "Groups", &[("startIndex", "3"), ("count", "5")]).await;
    assert_eq!(r.body["totalResults"], 3, "{}", r.text);
    assert_eq!(r.list_of("displayName").len(), 1, "{}", r.text);
    s.stop().await;
}

// --- 6. attributes / excludedAttributes ---

#[tokio::test]
async fn attributes_and_excluded_attributes_and_never_the_password() {
    let (s, scim) = start().await;
    let f = seed(&s, &scim).await;

    let r = query(&scim, "Users", &[("attributes", "userName")]).await;
    assert_eq!(r.list_of("userName").len(), 6, "{}", r.text);
    for u in r.body["Resources"].as_array().unwrap() {
        assert_eq!(keys(u), set(&["id", "schemas", "userName"]), "{}", r.text);
        assert_eq!(u["schemas"], json!([USER]), "{}", r.text);
    }
    let r = query(
        &scim,
        "Users",
        &[
            ("attributes", "name.givenName"),
            ("filter", "userName eq \"ada@example.com\""),
        ],
    )
    .await;
    let ada = &r.body["Resources"][0];
    assert_eq!(keys(ada), set(&["id", "schemas", "name"]), "{}", r.text);
    assert_eq!(ada["name"], json!({ "givenName": "Ada" }), "{}", r.text);

    let dept = format!("{ENTERPRISE}:department");
    let r = query(
        &scim,
        "Users",
        &[
            ("attributes", dept.as_str()),
            ("filter", "userName eq \"grace@example.com\""),
        ],
    )
    .await;
    let grace = &r.body["Resources"][0];
    assert_eq!(
        keys(grace),
        set(&["id", "schemas", ENTERPRISE]),
        "{}",
        r.text
    );
    assert_eq!(
        grace[ENTERPRISE],
        json!({ "department": "Navy" }),
        "{}",
        r.text
    );
    assert_eq!(grace["schemas"], json!([USER, ENTERPRISE]), "{}", r.text);

    let r = query(&scim, "Users", &[("excludedAttributes", "emails,groups")]).await;
    assert_eq!(r.list_of("userName").len(), 6, "{}", r.text);
    for u in r.body["Resources"].as_array().unwrap() {
        assert!(
            u.get("emails").is_none() && u.get("groups").is_none(),
            "{}",
            r.text
        );
        assert!(
            u.get("userName").is_some() && u.get("meta").is_some(),
            "{}",
            r.text
        );
    }
    let r = query(
        &scim,
        "Users",
        &[
            ("excludedAttributes", "name.familyName"),
            ("filter", "userName eq \"ada@example.com\""),
        ],
    )
    .await;
    assert_eq!(
        r.body["Resources"][0]["name"],
        json!({ "givenName": "Ada" }),
        "{}",
        r.text
    );

    // By id too.
    let ada_path = format!("/Users/{}", f.id[ADA]);
    let r = scim
        .get(&format!("{ada_path}?attributes=userName,emails.value"))
        .await;
    assert_eq!(
        keys(&r.body),
        set(&["id", "schemas", "userName", "emails"]),
        "{}",
        r.text
    );
    assert_eq!(
        r.body["emails"],
        json!([{ "value": "ada@example.com" }, { "value": "ada@home.org" }]),
        "{}",
        r.text
    );
    let r = scim
        .get(&format!(
            "{ada_path}?excludedAttributes=emails,groups,{ENTERPRISE}"
        ))
        .await;
    assert!(
        r.body.get("emails").is_none() && r.body.get("groups").is_none(),
        "{}",
        r.text
    );
    assert!(r.body.get(ENTERPRISE).is_none(), "{}", r.text);
    assert_eq!(r.body["schemas"], json!([USER]), "{}", r.text);
    assert_eq!(r.body["title"], "Engineer", "{}", r.text);

    // Groups without their members, in a list and by id.
    let r = query(&scim, "Groups", &[("excludedAttributes", "members")]).await;
    assert_eq!(r.list_of("displayName").len(), 3, "{}", r.text);
    for g in r.body["Resources"].as_array().unwrap() {
        assert!(g.get("members").is_none(), "{}", r.text);
        assert!(
            g.get("displayName").is_some() && g.get("meta").is_some(),
            "{}",
            r.text
        );
    }
    let r = scim
        .get(&format!("/Groups/{}?excludedAttributes=members", f.eng))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body.get("members").is_none(), "{}", r.text);
    assert_eq!(r.body["displayName"], "Engineering", "{}", r.text);
    let r = scim
        .get(&format!("/Groups/{}?attributes=displayName", f.eng))
        .await;
    assert_eq!(
        keys(&r.body),
        set(&["id", "schemas", "displayName"]),
        "{}",
        r.text
    );
    let r = scim
        .get(&format!("/Groups/{}?attributes=members.value", f.eng))
        .await;
    let members = r.body["members"].as_array().unwrap();
    assert_eq!(members.len(), 3, "{}", r.text);
    assert!(
        members.iter().all(|m| keys(m) == set(&["value"])),
        "{}",
        r.text
    );

    // The password is write-only: in no response, whatever is asked for.
    const SECRET: &str = "Tr0ub4dor & 3 zebras crossing";
    let mut body = json!({
        "schemas": [USER], "userName": "pw@example.com", "password": SECRET,
        "emails": [{ "value": "pw@example.com", "type": "work", "primary": true }]
    });
    let created = scim
        .post("/Users?attributes=password,userName", &body)
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let path = format!("/Users/{}", created.id());
    body["id"] = created.body["id"].clone();
    let responses = vec![
        created,
        scim.post(
            "/Users",
            &json!({ "schemas": [USER], "userName": "pw2@example.com", "password": SECRET }),
        )
        .await,
        scim.get(&path).await,
        scim.get(&format!("{path}?attributes=password")).await,
        scim.put(&path, &body).await,
        scim.patch_ops(
            &path,
            json!([{ "op": "replace", "path": "password", "value": SECRET }]),
        )
        .await,
        scim.get("/Users").await,
        query(&scim, "Users", &[("attributes", "password")]).await,
        scim.post(
            "/Users/.search",
            &json!({ "schemas": [SEARCH], "attributes": ["password", "userName"] }),
        )
        .await,
    ];
    for r in &responses {
        assert!(r.status < 300, "{}", r.text);
        assert!(
            !has_key_anywhere(&r.body, "password"),
            "password returned: {}",
            r.text
        );
        assert!(!r.text.contains(SECRET), "the secret returned: {}", r.text);
    }
    s.stop().await;
}

// --- 7. POST .search ---

#[tokio::test]
async fn search_requests_per_type_and_at_the_root() {
    let (s, scim) = start().await;
    let f = seed(&s, &scim).await;
    // The same query by GET and by POST .search gives the same answer.
    let get = query(
        &scim,
        "Users",
        &[
            ("filter", r#"title co "engineer" or active eq false"#),
            ("sortBy", "userName"),
            ("sortOrder", "descending"),
            ("startIndex", "2"),
            ("count", "2"),
            ("attributes", "userName,title"),
        ],
    )
    .await;
    assert_eq!(get.list_of("userName"), [EDSGER, ALAN], "{}", get.text);
    assert_eq!(get.body["totalResults"], 4, "{}", get.text);
    let post = scim
        .post(
            "/Users/.search",
            &search(json!({
                "filter": r#"title co "engineer" or active eq false"#,
                "sortBy": "userName", "sortOrder": "descending",
                "startIndex": 2, "count": 2, "attributes": ["userName", "title"]
            })),
        )
        .await;
    assert_eq!(post.status, 200, "{}", post.text);
    assert_eq!(
        post.body, get.body,
        "POST .search {} vs GET {}",
        post.text, get.text
    );

    let filter = format!(r#"members.value eq "{}""#, f.id[ADA]);
    let get = query(
        &scim,
        "Groups",
        &[
            ("filter", filter.as_str()),
            ("excludedAttributes", "members"),
        ],
    )
    .await;
    assert_list(
        &get,
        "Groups GET",
        "displayName",
        &["Engineering", "Research"],
    );
    let post = scim
        .post(
            "/Groups/.search",
            &search(json!({ "filter": filter, "excludedAttributes": ["members"] })),
        )
        .await;
    assert_eq!(post.status, 200, "{}", post.text);
    assert_eq!(
        set(&post.list_of("displayName")),
        set(&["Engineering", "Research"]),
        "{}",
        post.text
    );
    assert_eq!(
        post.body["totalResults"], get.body["totalResults"],
        "{}",
        post.text
    );
    assert!(
        post.body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g.get("members").is_none()),
        "{}",
        post.text
    );

    // Paging and clamping in a SearchRequest as in a query string.
    let r = scim
        .post(
            "/Users/.search",
            &search(json!({ "startIndex": -1, "count": 1 })),
        )
        .await;
    assert_eq!(
        (r.body["totalResults"].clone(), r.body["startIndex"].clone()),
        (json!(6), json!(1)),
        "{}",
        r.text
    );
    assert_eq!(r.list_of("userName").len(), 1, "{}", r.text);

    // A SearchRequest needs its schema; a bad filter in one is invalidFilter.
    for path in ["/Users/.search", "/Groups/.search", "/.search"] {
        let r = scim.post(path, &json!({ "filter": "userName pr" })).await;
        r.assert_error(400, Some("invalidSyntax"));
        let r = scim
            .post(path, &json!({ "schemas": [USER], "filter": "userName pr" }))
            .await;
        r.assert_error(400, Some("invalidSyntax"));
        let r = scim
            .post(path, &search(json!({ "filter": "userName eq" })))
            .await;
        r.assert_error(400, Some("invalidFilter"));
    }

    // At the root: Users, then Groups, paged as one list.
    let r = scim
        .post(
            "/.search",
            &search(json!({ "filter": r#"meta.resourceType eq "User""# })),
        )
        .await;
    assert_list(&r, "root resourceType User", "userName", &ALL);
    let r = scim
        .post(
            "/.search",
            &search(json!({ "filter": r#"meta.resourceType eq "Group""# })),
        )
        .await;
    assert_list(
        &r,
        "root resourceType Group",
        "displayName",
        &["Engineering", "Research", "Leadership"],
    );
    let ing = search(json!({ "filter": r#"displayName co "ING""# }));
    let r = scim.post("/.search", &ing).await;
    assert_list(
        &r,
        "root displayName",
        "displayName",
        &["Alan Turing", "Engineering"],
    );
    let types: Vec<&Value> = r.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| &x["meta"]["resourceType"])
        .collect();
    assert_eq!(types, [&json!("User"), &json!("Group")], "{}", r.text);
    let mut second = ing.clone();
    second["startIndex"] = json!(2);
    second["count"] = json!(1);
    let r = scim.post("/.search", &second).await;
    assert_eq!(r.body["totalResults"], 2, "{}", r.text);
    assert_eq!(r.list_of("displayName"), ["Engineering"], "{}", r.text);
    // A filter only Users understand: no Groups, no error.
    let r = scim
        .post(
            "/.search",
            &search(json!({ "filter": r#"userName eq "ada@example.com""# })),
        )
        .await;
    assert_list(&r, "root userName", "userName", &[ADA]);
    // Nobody understands it: invalidFilter.
    let r = scim
        .post("/.search", &search(json!({ "filter": r#"nosuch eq "x""# })))
        .await;
    r.assert_error(400, Some("invalidFilter"));
    // Without a filter: too many.
    let r = scim.post("/.search", &search(json!({ "count": 10 }))).await;
    r.assert_error(400, Some("tooMany"));
    s.stop().await;
}
