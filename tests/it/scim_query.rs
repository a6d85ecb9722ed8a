//! SCIM queries (RFC 7644 §3.4.2, §3.4.3): filters as the database runs them (every operator
//! on columns, JSON attributes, sub-attributes, the enterprise extension, multi-valued
//! attributes, value paths, `meta`, memberships), logical operators, filter errors, sorting,
//! paging, `attributes` / `excludedAttributes`, and POST `.search` (per type and at the root).

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use plinto::clock::Clock;
use serde_json::{Value, json};

use crate::scim_client::{ENTERPRISE, GROUP, LIST, Resp, SEARCH, Scim, USER};
use crate::support::TestServer;

// --- Fixture and helpers ---

const ADA: &str = "Ada@Example.com";
const GRACE: &str = "grace@example.com";
const ALAN: &str = "ALAN@example.org";
const LINUS: &str = "linus@kernel.org";
const MARGARET: &str = "Margaret@Example.com";
const EDSGER: &str = "edsger@example.net";
const ALL: [&str; 6] = [ADA, GRACE, ALAN, LINUS, MARGARET, EDSGER];
const GROUPS: [&str; 3] = ["Engineering", "Research", "Leadership"];

/// Six users and three groups: Engineering {Ada, Grace, Linus}, Research {Ada, Alan},
/// Leadership {Margaret, the Engineering group}. Ada, Grace and Alan were created an hour
/// before the other three (`mid` lies between); the groups an hour later; Ada was modified an
/// hour after that (`late` lies before that change and after every other write).
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

impl Fixture {
    /// The `{name}`s the filter tables use.
    fn vars(&self) -> Vec<(&'static str, &str)> {
        vec![
            ("ada", &self.id[ADA]),
            ("eng", &self.eng),
            ("research", &self.research),
            ("leads", &self.leads),
            ("mid", &self.mid),
            ("late", &self.late),
            ("created", &self.ada_created),
            ("ent", ENTERPRISE),
            ("user", USER),
        ]
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

async fn start() -> (TestServer, Scim) {
    let s = TestServer::start_with(|c| c.rate_limits = "off".into()).await;
    s.create_tenant("acme", false).await;
    let scim = Scim::new(&s, "acme").await;
    (s, scim)
}

async fn add_user(scim: &Scim, id: &mut HashMap<&'static str, String>, body: Value) -> Value {
    let u = scim.create_user(body).await;
    let name = ALL.iter().find(|n| **n == u["userName"]).unwrap();
    id.insert(*name, u["id"].as_str().unwrap().to_string());
    u
}

async fn add_group(scim: &Scim, name: &str, members: &[&String]) -> String {
    let members: Vec<Value> = members.iter().map(|m| json!({ "value": m })).collect();
    let body = json!({ "schemas": [GROUP], "displayName": name, "members": members });
    let r = scim.post("/Groups", &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.id()
}

async fn seed(s: &TestServer, scim: &Scim) -> Fixture {
    let mut id = HashMap::new();
    let ada = json!({
        "schemas": [USER, ENTERPRISE], "userName": ADA, "externalId": "ext-Ada",
        "displayName": "Ada Lovelace", "title": "Engineer", "active": true,
        "name": { "givenName": "Ada", "familyName": "Lovelace" },
        "emails": [
            { "value": "ada@example.com", "type": "work", "primary": true },
            { "value": "ada@home.org", "type": "home" }
        ],
        ENTERPRISE: { "department": "Research", "employeeNumber": "E-001" }
    });
    let ada = add_user(scim, &mut id, ada).await;
    let grace = json!({
        "schemas": [USER, ENTERPRISE], "userName": GRACE, "externalId": "ext-Grace",
        "displayName": "Grace Hopper", "title": "Senior Engineer", "active": true,
        "name": { "givenName": "Grace", "familyName": "Hopper" },
        "emails": [
            { "value": "grace@example.com", "type": "work", "primary": true },
            { "value": "Grace.H@Home.org", "type": "home", "primary": false }
        ],
        ENTERPRISE: { "department": "Navy", "employeeNumber": "E-002",
                      "manager": { "value": ada["id"] } }
    });
    let alan = json!({
        "schemas": [USER, ENTERPRISE], "userName": ALAN, "externalId": "ext-Alan",
        "displayName": "Alan Turing", "title": "Mathematician", "active": false,
        "name": { "givenName": "Alan", "familyName": "Turing" },
        "emails": [{ "value": "alan@home.org", "type": "home", "primary": true }],
        ENTERPRISE: { "department": "Research", "employeeNumber": "E-003",
                      "manager": { "value": ada["id"] } }
    });
    add_user(scim, &mut id, grace).await;
    add_user(scim, &mut id, alan).await;
    s.clock.advance(Duration::hours(1));
    let mid = rfc3339(s.clock.now() - Duration::minutes(30));
    let linus = json!({
        "schemas": [USER], "userName": LINUS, "externalId": "ext-linus", "active": true,
        "name": { "givenName": "Linus" },
        "emails": [{ "value": "linus@kernel.org", "type": "work" }]
    });
    let margaret = json!({
        "schemas": [USER, ENTERPRISE], "userName": MARGARET,
        "displayName": "Margaret Hamilton", "title": "Director", "active": true,
        "name": { "givenName": "Margaret", "familyName": "Hamilton" },
        "emails": [{ "value": "margaret@example.com", "type": "work", "primary": true }],
        ENTERPRISE: { "department": "Apollo", "employeeNumber": "E-005" }
    });
    let edsger = json!({
        "schemas": [USER], "userName": EDSGER, "externalId": "ext-Edsger", "active": false
    });
    for body in [linus, margaret, edsger] {
        add_user(scim, &mut id, body).await;
    }
    s.clock.advance(Duration::hours(1));
    let eng = add_group(scim, "Engineering", &[&id[ADA], &id[GRACE], &id[LINUS]]).await;
    let research = add_group(scim, "Research", &[&id[ADA], &id[ALAN]]).await;
    let leads = add_group(scim, "Leadership", &[&id[MARGARET], &eng]).await;
    let late = rfc3339(s.clock.now() + Duration::minutes(30));
    s.clock.advance(Duration::hours(1));
    let nick = json!([{ "op": "replace", "path": "nickName", "value": "Countess" }]);
    let r = scim.patch_ops(&format!("/Users/{}", id[ADA]), nick).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ada_created = ada["meta"]["created"].as_str().unwrap().to_string();
    Fixture {
        id,
        eng,
        research,
        leads,
        mid,
        late,
        ada_created,
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

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn resources(r: &Resp) -> &Vec<Value> {
    r.body["Resources"]
        .as_array()
        .unwrap_or_else(|| panic!("no Resources: {}", r.text))
}

/// `(totalResults, startIndex, itemsPerPage, Resources.len())` of a 200 `ListResponse`.
fn counts(r: &Resp) -> (u64, u64, u64, usize) {
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["schemas"], json!([LIST]), "{}", r.text);
    let n = |k: &str| {
        r.body[k]
            .as_u64()
            .unwrap_or_else(|| panic!("no {k}: {}", r.text))
    };
    let len = r.body["Resources"].as_array().map_or(0, Vec::len);
    (n("totalResults"), n("startIndex"), n("itemsPerPage"), len)
}

/// Assert a `ListResponse` whose `key`s are exactly `want` (any order), all on one page.
fn assert_list(r: &Resp, what: &str, key: &str, want: &[&str]) {
    assert_eq!(r.status, 200, "{what}: {}", r.text);
    assert_eq!(set(&r.list_of(key)), set(want), "{what}: {}", r.text);
    let n = want.len();
    assert_eq!(counts(r), (n as u64, 1, n as u64, n), "{what}: {}", r.text);
}

/// Run a table of `filter => names` lines (blank lines and `#` comments skipped) on
/// `/{resource}`: each filter matches exactly those resources. Users are named by the part of
/// their userName before `@`, lower-cased, groups by displayName; `-` is none, `*` all. In a
/// filter, `{name}` is replaced by `vars[name]`.
async fn expect(scim: &Scim, resource: &str, table: &str, vars: &[(&str, &str)]) {
    let (key, all): (&str, &[&str]) = if resource == "Users" {
        ("userName", &ALL)
    } else {
        ("displayName", &GROUPS)
    };
    let lines = table.lines().map(str::trim);
    for line in lines.filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (filter, names) = line.rsplit_once("=>").expect("filter => names");
        let mut filter = filter.trim().to_string();
        for (k, v) in vars {
            filter = filter.replace(&format!("{{{k}}}"), v);
        }
        let want: Vec<&str> = match names.trim() {
            "-" => vec![],
            "*" => all.to_vec(),
            names => names
                .split_whitespace()
                .map(|n| full_name(all, n))
                .collect(),
        };
        let r = scim.filter(resource, &filter).await;
        assert_list(&r, &format!("{resource} filter {filter}"), key, &want);
    }
}

fn full_name(all: &[&'static str], short: &str) -> &'static str {
    let known = |n: &&str| n.to_lowercase().split('@').next() == Some(short) || *n == short;
    all.iter()
        .copied()
        .find(known)
        .unwrap_or_else(|| panic!("no {short} in the fixture"))
}

/// Assert something about a response, showing the response if it does not hold.
#[track_caller]
fn ok(r: &Resp, holds: bool) {
    assert!(holds, "{}", r.text);
}

/// Assert a 200 `ListResponse` whose `key`s are `want`, in this order.
#[track_caller]
fn assert_order(r: &Resp, key: &str, want: &[&str]) {
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.list_of(key), want, "{}", r.text);
}

/// Assert a response's body (or the resource taken out of it).
#[track_caller]
fn same(r: &Resp, want: Value) {
    assert_eq!(r.body, want, "{}", r.text);
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

// --- 1. Comparison operators ---

#[tokio::test]
async fn every_operator_on_columns_username_externalid_active_and_id() {
    let (s, scim) = start().await;
    let f = seed(&s, &scim).await;
    let table = r#"
        # userName: caseExact false, on the lower-cased column.
        userName eq "ADA@EXAMPLE.COM"   => ada
        userName ne "ada@example.com"   => grace alan linus margaret edsger
        userName co "EXAMPLE"           => ada grace alan margaret edsger
        userName sw "A"                 => ada alan
        userName ew ".ORG"              => alan linus
        userName gt "grace@example.com" => linus margaret
        userName ge "GRACE@example.com" => grace linus margaret
        userName lt "b"                 => ada alan
        userName le "ALAN@EXAMPLE.ORG"  => ada alan
        userName pr                     => *
        # externalId: caseExact true; Margaret has none.
        externalId eq "ext-Ada"         => ada
        externalId eq "EXT-ADA"         => -
        externalId ne "ext-Ada"         => grace alan linus edsger
        externalId co "A"               => ada alan
        externalId sw "ext-"            => ada grace alan linus edsger
        externalId sw "EXT-"            => -
        externalId ew "s"               => linus
        externalId ew "S"               => -
        externalId gt "ext-F"           => grace linus
        externalId ge "ext-Grace"       => grace linus
        externalId lt "ext-B"           => ada alan
        externalId le "ext-Ada"         => ada
        externalId pr                   => ada grace alan linus edsger
        active eq true                  => ada grace linus margaret
        active eq false                 => alan edsger
        active ne true                  => alan edsger
        active pr                       => *
        id eq "{ada}"                   => ada
        id eq "{ADA}"                   => ada
        id ne "{ada}"                   => grace alan linus margaret edsger
        id eq "not-a-uuid"              => -
        id pr                           => *
    "#;
    let upper = f.id[ADA].to_uppercase();
    let vars = [f.vars(), vec![("ADA", upper.as_str())]].concat();
    expect(&scim, "Users", table, &vars).await;
    s.stop().await;
}

#[tokio::test]
async fn every_operator_on_json_attributes_sub_attributes_and_the_extension() {
    let (s, scim) = start().await;
    let f = seed(&s, &scim).await;
    let table = r#"
        # displayName (JSON, caseExact false); Linus and Edsger have none.
        displayName eq "ada lovelace"   => ada
        displayName ne "Ada Lovelace"   => grace alan margaret
        displayName co "ING"            => alan
        displayName sw "a"              => ada alan
        displayName ew "ER"             => grace
        displayName gt "B"              => grace margaret
        displayName ge "grace hopper"   => grace margaret
        displayName lt "b"              => ada alan
        displayName le "ALAN TURING"    => ada alan
        displayName pr                  => ada grace alan margaret
        title eq "engineer"             => ada
        title ne "Engineer"             => grace alan margaret
        title co "ENG"                  => ada grace
        title sw "s"                    => grace
        title ew "ICIAN"                => alan
        title gt "mathematician"        => grace
        title ge "M"                    => alan grace
        title lt "E"                    => margaret
        title le "engineer"             => ada margaret
        title pr                        => ada grace alan margaret
        # A sub-attribute of a complex attribute; Edsger has no name.
        name.givenName eq "ADA"         => ada
        name.givenName ne "Ada"         => grace alan linus margaret
        name.givenName co "a"           => ada grace alan margaret
        name.givenName sw "L"           => linus
        name.givenName ew "N"           => alan
        name.givenName gt "h"           => linus margaret
        name.givenName ge "grace"       => grace linus margaret
        name.givenName lt "b"           => ada alan
        name.givenName le "alan"        => ada alan
        name.givenName pr               => ada grace alan linus margaret
        name.familyName pr              => ada grace alan margaret
        name pr                         => ada grace alan linus margaret
        # The enterprise extension, by its full URN.
        {ent}:department eq "research"  => ada alan
        {ent}:department ne "Research"  => grace margaret
        {ent}:department co "E"         => ada alan
        {ent}:department sw "n"         => grace
        {ent}:department ew "LO"        => margaret
        {ent}:department gt "n"         => ada alan grace
        {ent}:department ge "navy"      => ada alan grace
        {ent}:department lt "b"         => margaret
        {ent}:department le "apollo"    => margaret
        {ent}:department pr             => ada grace alan margaret
        {ent}:employeeNumber eq "e-002" => grace
        {ent}:manager.value eq "{ada}"  => grace alan
        {ent}:manager pr                => grace alan
    "#;
    expect(&scim, "Users", table, &f.vars()).await;
    s.stop().await;
}

#[tokio::test]
async fn multi_valued_attributes_and_value_paths() {
    let (s, scim) = start().await;
    let f = seed(&s, &scim).await;
    let table = r#"
        emails pr                                         => ada grace alan linus margaret
        # `emails` alone compares the elements' `value`.
        emails co "EXAMPLE"                               => ada grace margaret
        emails eq "ada@home.org"                          => ada
        emails.value eq "GRACE.h@home.org"                => grace
        emails.value sw "a"                               => ada alan
        emails.value ew "@HOME.ORG"                       => ada grace alan
        emails.value gt "l"                               => linus margaret
        emails.value pr                                   => ada grace alan linus margaret
        emails.type eq "home"                             => ada grace alan
        emails.primary eq true                            => ada grace alan margaret
        emails.primary eq false                           => grace
        emails[type eq "work"]                            => ada grace linus margaret
        emails[type eq "work" and value co "example"]     => ada grace margaret
        # Both conditions on the same element: Ada's home address is not at example.com.
        emails[type eq "home" and value co "example"]     => -
        emails[type eq "work" and primary eq true]        => ada grace margaret
        emails[not (primary pr)]                          => ada linus
        emails[type eq "work"].value eq "LINUS@kernel.org" => linus
        emails[type eq "home"].value eq "ada@example.com" => -
        emails[type eq "home"].value co "home"            => ada grace alan
        # RFC 7644 §3.4.2.2: a filter on a multi-valued attribute matches if any value does:
        # whoever has an address that is not a work one (and nobody without any address).
        emails.type ne "work"                             => ada grace alan
    "#;
    expect(&scim, "Users", table, &f.vars()).await;
    s.stop().await;
}

#[tokio::test]
async fn meta_times_and_memberships() {
    let (s, scim) = start().await;
    let f = seed(&s, &scim).await;
    let users = r#"
        meta.created lt "{mid}"         => ada grace alan
        meta.created le "{mid}"         => ada grace alan
        meta.created gt "{mid}"         => linus margaret edsger
        meta.created ge "{mid}"         => linus margaret edsger
        meta.lastModified gt "{late}"   => ada
        meta.lastModified lt "{late}"   => grace alan linus margaret edsger
        meta.resourceType eq "User"     => *
        groups.value eq "{eng}"         => ada grace linus
        # Direct memberships only: Engineering is in Leadership, its members are not.
        groups.value eq "{leads}"       => margaret
        groups eq "{research}"          => ada alan
        groups.display eq "research"    => ada alan
        groups pr                       => ada grace alan linus margaret
    "#;
    expect(&scim, "Users", users, &f.vars()).await;
    let groups = r#"
        members.value eq "{ada}"        => Engineering Research
        members eq "{eng}"              => Leadership
        not (members.value eq "{ada}")  => Leadership
        members.type eq "Group"         => Leadership
        members pr                      => *
        displayName eq "ENGINEERING"    => Engineering
        displayName ne "engineering"    => Research Leadership
        displayName co "EA"             => Research Leadership
        displayName sw "r"              => Research
        displayName ew "ING"            => Engineering
        displayName gt "l"              => Research Leadership
        displayName le "leadership"     => Engineering Leadership
        displayName pr                  => *
        id eq "{eng}"                   => Engineering
        meta.created gt "{mid}"         => *
        meta.resourceType eq "Group"    => *
    "#;
    expect(&scim, "Groups", groups, &f.vars()).await;
    // Times exactly as the server shows them in meta.created (milliseconds).
    let shown = r#"
        meta.created eq "{created}"     => ada grace alan
        meta.created le "{created}"     => ada grace alan
        meta.created gt "{created}"     => linus margaret edsger
    "#;
    expect(&scim, "Users", shown, &f.vars()).await;
    s.stop().await;
}

// --- 2. Logical operators ---

#[tokio::test]
async fn and_or_not_precedence_parentheses_and_case() {
    let (s, scim) = start().await;
    let f = seed(&s, &scim).await;
    let table = r#"
        title co "engineer" and active eq true    => ada grace
        userName sw "a" or userName sw "l"        => ada alan linus
        # A comparison with a missing attribute is false, so its negation is true: users
        # without a title are "not (title eq …)" (though not "title ne …").
        not (title eq "Engineer")                 => grace alan linus margaret edsger
        not (title pr)                            => linus edsger
        not (active eq true) and not (emails pr)  => edsger
        not (not (userName eq "ada@example.com")) => ada
        # `and` binds tighter than `or`, on either side.
        userName sw "e" or title co "engineer" and active eq true => edsger ada grace
        title co "engineer" and active eq true or userName sw "e" => edsger ada grace
        (userName sw "e" or title co "engineer") and active eq true => ada grace
        ((userName sw "a")) and (active eq false or title eq "Engineer") => ada alan
        # Attribute names, operators, keywords, literals and schema URNs in any case.
        USERNAME Eq "ada@example.com"             => ada
        Title CO "eng"                            => ada grace
        NAME.GIVENNAME sw "a" AND ACTIVE EQ TRUE  => ada
        userName eq "x" OR NOT (Emails PR)        => edsger
        EMAILS[TYPE EQ "work" and PRIMARY eq True] => ada grace margaret
        {ENT}:DEPARTMENT eq "navy"                => grace
        {user}:userName eq "linus@kernel.org"     => linus
    "#;
    let upper = ENTERPRISE.to_uppercase();
    let vars = [f.vars(), vec![("ENT", upper.as_str())]].concat();
    expect(&scim, "Users", table, &vars).await;
    s.stop().await;
}

// --- 3. Filter errors ---

#[tokio::test]
async fn invalid_filters_are_400_invalid_filter_and_password_is_403_sensitive() {
    let (s, scim) = start().await;
    seed(&s, &scim).await;
    let invalid = [
        // Syntax
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
        // Unknown attributes
        r#"nosuch eq "x""#,
        r#"name.nosuch eq "x""#,
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:nosuch eq "x""#,
        r#"emails[nosuch eq "x"]"#,
        // Operators and values the attribute's type does not take
        r#"active gt true"#,
        r#"active gt "x""#,
        r#"emails.primary lt false"#,
        r#"active co "t""#,
        r#"meta.created gt "yesterday""#,
        r#"name eq "Ada""#,
        // Value filters on single-valued attributes, or nested
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
    // The userNames of `/Users?{query}`, in order.
    let sorted = async |query: &str| {
        let r = scim.get(&format!("/Users?{query}")).await;
        assert_eq!(r.status, 200, "{query}: {}", r.text);
        r.list_of("userName")
    };
    let by_name = [ADA, ALAN, EDSGER, GRACE, LINUS, MARGARET];
    assert_eq!(sorted("sortBy=userName").await, by_name);
    assert_eq!(sorted("sortBy=USERNAME&sortOrder=Ascending").await, by_name);
    let rev: Vec<&str> = by_name.into_iter().rev().collect();
    assert_eq!(sorted("sortBy=userName&sortOrder=descending").await, rev);

    // Users without a family name (Linus, Edsger) come last in either order.
    let got = sorted("sortBy=name.familyName").await;
    assert_eq!(got[..4], [MARGARET, GRACE, ADA, ALAN]);
    assert_eq!(set(&got[4..]), set(&[LINUS, EDSGER]), "nulls last");
    let got = sorted("sortBy=name.familyName&sortOrder=descending").await;
    assert_eq!(got[..4], [ALAN, ADA, GRACE, MARGARET]);
    assert_eq!(set(&got[4..]), set(&[LINUS, EDSGER]), "nulls last");

    let (older, newer) = (set(&[ADA, GRACE, ALAN]), set(&[LINUS, MARGARET, EDSGER]));
    let got = sorted("sortBy=meta.created").await;
    assert_eq!(
        [set(&got[..3]), set(&got[3..])],
        [older.clone(), newer.clone()]
    );
    let got = sorted("sortBy=meta.created&sortOrder=descending").await;
    assert_eq!([set(&got[..3]), set(&got[3..])], [newer, older]);

    // With a filter and paging: the page is cut from the sorted matches.
    let query = "filter=active+eq+true&sortBy=userName&startIndex=2&count=2";
    assert_eq!(sorted(query).await, [GRACE, LINUS]);

    let path = "/Groups?sortBy=displayName&sortOrder=descending";
    let r = scim.get(path).await;
    assert_order(
        &r,
        "displayName",
        &["Research", "Leadership", "Engineering"],
    );

    for path in [
        "/Users?sortBy=nosuch",
        "/Users?sortBy=name.nosuch",
        "/Users?sortBy=userName&sortOrder=up",
        "/Groups?sortBy=userName",
    ] {
        let r = scim.get(path).await;
        assert_eq!(r.status, 400, "{path}: {}", r.text);
        assert_eq!(r.body["status"], "400", "{path}: {}", r.text);
    }
    s.stop().await;
}

// --- 5. Paging ---

#[tokio::test]
async fn paging_with_start_index_and_count() {
    let (s, scim) = start().await;
    seed(&s, &scim).await;
    let page = async |query: &str| scim.get(&format!("/Users?{query}")).await;
    // query → (totalResults, startIndex, itemsPerPage, resources)
    let cases = [
        // Entra ID's probe: the total of all matches, one resource.
        ("filter=userName+pr&startIndex=1&count=1", (6, 1, 1, 1)),
        ("startIndex=6&count=2", (6, 6, 1, 1)),
        // startIndex below 1 is 1.
        ("startIndex=0&count=3", (6, 1, 3, 3)),
        ("startIndex=-5&count=3", (6, 1, 3, 3)),
        // Beyond the end: nothing, and the total.
        ("startIndex=7&count=10", (6, 7, 0, 0)),
        // count 0, or negative: the total only.
        ("count=0", (6, 1, 0, 0)),
        ("startIndex=1&count=-3", (6, 1, 0, 0)),
        // Above the maximum (1000): accepted.
        ("count=5000", (6, 1, 6, 6)),
        ("", (6, 1, 6, 6)),
    ];
    for (query, want) in cases {
        let r = page(query).await;
        assert_eq!(counts(&r), want, "{query}: {}", r.text);
    }
    let first = page("startIndex=1&count=3").await.list_of("userName");
    for query in ["startIndex=0&count=3", "startIndex=-5&count=3"] {
        assert_eq!(page(query).await.list_of("userName"), first, "{query}");
    }

    // Every page of two, in the server's own order: no duplicate, no omission.
    let mut seen = Vec::new();
    for start in [1, 3, 5] {
        let r = page(&format!("startIndex={start}&count=2")).await;
        assert_eq!(counts(&r), (6, start, 2, 2), "{}", r.text);
        seen.extend(r.list_of("userName"));
    }
    assert_eq!(seen.len(), 6, "{seen:?}");
    assert_eq!(set(&seen), set(&ALL), "{seen:?}");

    for query in ["count=two", "startIndex=x", "count=1.5"] {
        let r = page(query).await;
        assert_eq!(r.status, 400, "{query}: {}", r.text);
        assert_eq!(r.body["status"], "400", "{query}: {}", r.text);
    }
    let r = scim.get("/Groups?startIndex=3&count=5").await;
    assert_eq!(counts(&r), (3, 3, 1, 1), "{}", r.text);
    s.stop().await;
}

// --- 6. attributes / excludedAttributes ---

#[tokio::test]
async fn attributes_and_excluded_attributes_and_never_the_password() {
    let (s, scim) = start().await;
    let f = seed(&s, &scim).await;
    let (ada, eng) = (&f.id[ADA], &f.eng);
    // The one user whose userName starts with `who@`, listed with `query`: its representation.
    let one = async |who: &str, query: &str| {
        let path = format!("/Users?filter=userName+sw+%22{who}@%22&{query}");
        let mut r = scim.get(&path).await;
        assert_eq!(counts(&r).3, 1, "{}", r.text);
        r.body = r.body["Resources"][0].take();
        r
    };
    let r = one("ada", "attributes=name.givenName").await;
    let want = json!({ "schemas": [USER], "id": ada, "name": { "givenName": "Ada" } });
    same(&r, want);
    let r = one("grace", &format!("attributes={ENTERPRISE}:department")).await;
    let want = json!({ "schemas": [USER, ENTERPRISE], "id": f.id[GRACE],
                       ENTERPRISE: { "department": "Navy" } });
    same(&r, want);
    let r = one("ada", "excludedAttributes=name.familyName").await;
    ok(&r, r.body["name"] == json!({ "givenName": "Ada" }));
    ok(&r, r.body["title"] == "Engineer");

    let r = scim.get("/Users?attributes=userName").await;
    ok(&r, resources(&r).len() == 6);
    for u in resources(&r) {
        ok(&r, keys(u) == set(&["id", "schemas", "userName"]));
        ok(&r, u["schemas"] == json!([USER]));
    }
    let r = scim.get("/Users?excludedAttributes=emails,groups").await;
    ok(&r, resources(&r).len() == 6);
    for u in resources(&r) {
        ok(&r, u.get("emails").is_none() && u.get("groups").is_none());
        ok(&r, u.get("userName").is_some() && u.get("meta").is_some());
    }

    // By id too.
    let r = scim
        .get(&format!("/Users/{ada}?attributes=userName,emails.value"))
        .await;
    let emails = json!([{ "value": "ada@example.com" }, { "value": "ada@home.org" }]);
    let want = json!({ "schemas": [USER], "id": ada, "userName": ADA, "emails": emails });
    same(&r, want);
    let query = format!("excludedAttributes=emails,groups,{ENTERPRISE}");
    let r = scim.get(&format!("/Users/{ada}?{query}")).await;
    let b = &r.body;
    ok(&r, b.get("emails").is_none() && b.get("groups").is_none());
    ok(&r, b.get(ENTERPRISE).is_none());
    ok(&r, !b["schemas"].to_string().contains(ENTERPRISE));
    ok(&r, b["title"] == "Engineer");

    // Groups without their members, in a list and by id.
    let r = scim.get("/Groups?excludedAttributes=members").await;
    ok(&r, resources(&r).len() == 3);
    for g in resources(&r) {
        ok(&r, g.get("members").is_none());
        ok(&r, g.get("displayName").is_some());
    }
    let group = async |query: &str| scim.get(&format!("/Groups/{eng}?{query}")).await;
    let r = group("excludedAttributes=members").await;
    ok(&r, r.status == 200 && r.body.get("members").is_none());
    ok(&r, r.body["displayName"] == "Engineering");
    let r = group("attributes=displayName").await;
    let want = json!({ "schemas": [GROUP], "id": eng, "displayName": "Engineering" });
    same(&r, want);
    let r = group("attributes=members.value").await;
    let members = r.body["members"].as_array().unwrap();
    ok(&r, members.len() == 3);
    ok(&r, members.iter().all(|m| keys(m) == set(&["value"])));

    // The password is write-only: in no response, whatever is asked for.
    const SECRET: &str = "Tr0ub4dor & 3 zebras crossing";
    let mut body = json!({
        "schemas": [USER], "userName": "pw@example.com", "password": SECRET,
        "emails": [{ "value": "pw@example.com", "type": "work", "primary": true }]
    });
    let created = scim.post("/Users?attributes=password", &body).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let path = format!("/Users/{}", created.id());
    body["id"] = created.body["id"].clone();
    let other = json!({ "schemas": [USER], "userName": "pw2@example.com", "password": SECRET });
    let set_pw = json!([{ "op": "replace", "path": "password", "value": SECRET }]);
    let everything = search(json!({ "attributes": ["password", "userName"] }));
    let responses = vec![
        created,
        scim.post("/Users", &other).await,
        scim.get(&path).await,
        scim.get(&format!("{path}?attributes=password")).await,
        scim.put(&path, &body).await,
        scim.patch_ops(&path, set_pw).await,
        scim.get("/Users").await,
        scim.get("/Users?attributes=password").await,
        scim.post("/Users/.search", &everything).await,
    ];
    for r in &responses {
        ok(r, r.status < 300);
        ok(r, !has_key_anywhere(&r.body, "password"));
        ok(r, !r.text.contains(SECRET));
    }
    s.stop().await;
}

// --- 7. POST .search ---

#[tokio::test]
async fn search_requests_per_type_and_at_the_root() {
    let (s, scim) = start().await;
    let f = seed(&s, &scim).await;
    // The same query by GET and by POST .search gives the same answer.
    let filter = r#"title co "engineer" or active eq false"#;
    let sort = [
        ("filter", filter),
        ("sortBy", "userName"),
        ("sortOrder", "descending"),
    ];
    let page = [
        ("startIndex", "2"),
        ("count", "2"),
        ("attributes", "userName,title"),
    ];
    let get = query(&scim, "Users", &[sort, page].concat()).await;
    assert_order(&get, "userName", &[EDSGER, ALAN]);
    assert_eq!(counts(&get), (4, 2, 2, 2), "{}", get.text);
    let body = search(json!({
        "filter": filter, "sortBy": "userName", "sortOrder": "descending",
        "startIndex": 2, "count": 2, "attributes": ["userName", "title"]
    }));
    let post = scim.post("/Users/.search", &body).await;
    assert_eq!(post.body, get.body, "{} vs {}", post.text, get.text);

    let filter = format!(r#"members.value eq "{}""#, f.id[ADA]);
    let params = [
        ("filter", filter.as_str()),
        ("excludedAttributes", "members"),
    ];
    let get = query(&scim, "Groups", &params).await;
    let body = search(json!({ "filter": filter, "excludedAttributes": ["members"] }));
    let post = scim.post("/Groups/.search", &body).await;
    for r in [&get, &post] {
        assert_list(r, "members", "displayName", &["Engineering", "Research"]);
        ok(r, resources(r).iter().all(|g| g.get("members").is_none()));
    }

    // Paging is clamped in a SearchRequest as in a query string.
    let body = search(json!({ "startIndex": -1, "count": 1 }));
    let r = scim.post("/Users/.search", &body).await;
    assert_eq!(counts(&r), (6, 1, 1, 1), "{}", r.text);

    // A SearchRequest needs its schema; a bad filter in one is invalidFilter.
    let bad = [
        (json!({ "filter": "userName pr" }), "invalidSyntax"),
        (
            json!({ "schemas": [USER], "filter": "userName pr" }),
            "invalidSyntax",
        ),
        (search(json!({ "filter": "userName eq" })), "invalidFilter"),
    ];
    for path in ["/Users/.search", "/Groups/.search", "/.search"] {
        for (body, scim_type) in &bad {
            scim.post(path, body)
                .await
                .assert_error(400, Some(scim_type));
        }
    }

    // At the root: Users, then Groups, paged as one list.
    let root = async |body: Value| scim.post("/.search", &search(body)).await;
    let r = root(json!({ "filter": r#"meta.resourceType eq "User""# })).await;
    assert_list(&r, "root resourceType User", "userName", &ALL);
    let r = root(json!({ "filter": r#"meta.resourceType eq "Group""# })).await;
    assert_list(&r, "root resourceType Group", "displayName", &GROUPS);
    let ing = r#"displayName co "ING""#;
    let r = root(json!({ "filter": ing })).await;
    assert_order(&r, "displayName", &["Alan Turing", "Engineering"]);
    let types: Vec<&Value> = resources(&r).iter().map(|x| &x["meta"]).collect();
    ok(
        &r,
        types[0]["resourceType"] == "User" && types[1]["resourceType"] == "Group",
    );
    let r = root(json!({ "filter": ing, "startIndex": 2, "count": 1 })).await;
    assert_eq!(counts(&r), (2, 2, 1, 1), "{}", r.text);
    assert_order(&r, "displayName", &["Engineering"]);
    // A filter only Users understand: no Groups, no error.
    let r = root(json!({ "filter": r#"userName eq "ada@example.com""# })).await;
    assert_list(&r, "root userName", "userName", &[ADA]);
    // Nobody understands it: invalidFilter. No filter (optional, RFC 7644 §3.4.3): every
    // User, then every Group, paged.
    let r = root(json!({ "filter": r#"nosuch eq "x""# })).await;
    r.assert_error(400, Some("invalidFilter"));
    let r = root(json!({ "count": 2 })).await;
    let total = (ALL.len() + GROUPS.len()) as u64;
    assert_eq!(counts(&r), (total, 1, 2, 2), "{}", r.text);
    let r = root(json!({ "startIndex": ALL.len() + 1, "count": 1 })).await;
    assert_eq!(
        counts(&r),
        (total, ALL.len() as u64 + 1, 1, 1),
        "{}",
        r.text
    );
    ok(&r, resources(&r)[0]["meta"]["resourceType"] == "Group");
    // Sorted by an attribute only Users have: the Groups lack it (as a missing value would).
    let r = root(json!({ "filter": ing, "sortBy": "userName" })).await;
    assert_order(&r, "displayName", &["Alan Turing", "Engineering"]);
    s.stop().await;
}
