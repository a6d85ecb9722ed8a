//! Unit tests of the schema registry, normalisation, projection and discovery documents.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Map, json};

use super::normalize::is_rfc3339;
use super::*;

fn path(schema: Option<&str>, attr: &str, sub: Option<&str>) -> AttrPath {
    AttrPath {
        schema: schema.map(str::to_owned),
        attr: attr.to_owned(),
        sub: sub.map(str::to_owned),
    }
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn attr<'a>(schema: &'a Schema, name: &str) -> &'a Attribute {
    schema.attribute(name).expect(name)
}

fn normalized(rt: &ResourceType, input: Value) -> Value {
    Value::Object(normalize_resource(rt, &input).expect("valid input"))
}

fn rejected(rt: &ResourceType, input: Value) -> SchemaError {
    normalize_resource(rt, &input).expect_err("invalid input")
}

// --- loading -------------------------------------------------------------------------

#[test]
fn embedded_documents_load() {
    // What the `expect` in REGISTRY relies on.
    let registry = load().expect("embedded documents load");
    assert_eq!(registry.users.core.id, USER);
    assert_eq!(registry.users.extensions.len(), 2);
    assert_eq!(registry.users.extensions[0].id, ENTERPRISE_USER);
    assert_eq!(registry.users.extensions[1].id, PLINTO_USER);
    assert_eq!(registry.groups.core.id, GROUP);
    assert!(registry.groups.extensions.is_empty());
    assert_eq!(registry.documents.len(), 4);
    for (_, doc) in &registry.documents {
        assert!(doc.get("meta").is_none(), "schema documents carry no meta");
        assert!(doc.get("schemas").is_none());
    }
    let ids: Vec<&str> = all_schemas().iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, [USER, ENTERPRISE_USER, PLINTO_USER, GROUP]);
    assert_eq!(users().name, "User");
    assert_eq!(users().endpoint, "/Users");
    assert_eq!(groups().name, "Group");
    assert_eq!(groups().endpoint, "/Groups");
    assert_eq!(users().schema_ids(), [USER, ENTERPRISE_USER, PLINTO_USER]);
    assert_eq!(groups().schema_ids(), [GROUP]);
    assert!(std::ptr::eq(resource_type("user").unwrap(), users()));
    assert!(std::ptr::eq(
        schema_by_id(&GROUP.to_uppercase()).unwrap(),
        &groups().core
    ));
}

#[test]
fn loader_rejects_bad_documents() {
    let bad = |doc: Value| parse_schema(&doc).expect_err("should be rejected");
    bad(json!({"id": "x", "name": "x"}));
    bad(json!({"id": "x", "name": "x", "attributes": [{"name": "a", "type": "text"}]}));
    bad(json!({"id": "x", "name": "x", "attributes": [{"name": "a", "returned": "sometimes"}]}));
    bad(json!({"id": "x", "name": "x", "attributes": [{"name": "a", "type": "complex"}]}));
    bad(json!({"id": "x", "name": "x", "attributes": [{"name": "a", "multiValued": "yes"}]}));
    // RFC 7643 §2.2 defaults.
    let ok = parse_schema(&json!({"id": "x", "name": "x", "attributes": [{"name": "a"}]})).unwrap();
    let a = &ok.attributes[0];
    assert_eq!(a.ty, Type::String);
    assert!(!a.multi_valued && !a.required && !a.case_exact);
    assert_eq!(a.mutability, Mutability::ReadWrite);
    assert_eq!(a.returned, Returned::Default);
    assert_eq!(a.uniqueness, Uniqueness::None);
}

#[test]
fn user_schema_has_every_rfc_attribute() {
    let user = &users().core;
    assert_eq!(user.name, "User");
    let names: Vec<&str> = user.attributes.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "userName",
            "name",
            "displayName",
            "nickName",
            "profileUrl",
            "title",
            "userType",
            "preferredLanguage",
            "locale",
            "timezone",
            "active",
            "password",
            "emails",
            "phoneNumbers",
            "ims",
            "photos",
            "addresses",
            "groups",
            "entitlements",
            "roles",
            "x509Certificates",
        ]
    );

    let user_name = attr(user, "userName");
    assert_eq!(user_name.ty, Type::String);
    assert!(user_name.required && !user_name.case_exact && !user_name.multi_valued);
    assert_eq!(user_name.uniqueness, Uniqueness::Server);
    assert_eq!(user_name.mutability, Mutability::ReadWrite);
    assert_eq!(user_name.returned, Returned::Default);

    let name = attr(user, "name");
    assert_eq!(name.ty, Type::Complex);
    let subs: Vec<&str> = name
        .sub_attributes
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(
        subs,
        [
            "formatted",
            "familyName",
            "givenName",
            "middleName",
            "honorificPrefix",
            "honorificSuffix"
        ]
    );

    assert_eq!(attr(user, "profileUrl").ty, Type::Reference);
    assert_eq!(attr(user, "active").ty, Type::Boolean);

    let password = attr(user, "password");
    assert_eq!(password.returned, Returned::Never);
    assert_eq!(password.mutability, Mutability::WriteOnly);

    let groups_attr = attr(user, "groups");
    assert_eq!(groups_attr.mutability, Mutability::ReadOnly);
    assert!(groups_attr.multi_valued);
    assert!(
        groups_attr
            .sub_attributes
            .iter()
            .all(|s| s.mutability == Mutability::ReadOnly)
    );
    assert_eq!(
        groups_attr.sub_attribute("type").unwrap().canonical_values,
        ["direct", "indirect"]
    );

    for multi in [
        "emails",
        "phoneNumbers",
        "ims",
        "photos",
        "addresses",
        "groups",
        "entitlements",
        "roles",
        "x509Certificates",
    ] {
        let a = attr(user, multi);
        assert!(a.multi_valued, "{multi}");
        assert_eq!(a.ty, Type::Complex, "{multi}");
    }
    let emails = attr(user, "emails");
    let subs: Vec<&str> = emails
        .sub_attributes
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(subs, ["value", "display", "type", "primary"]);
    assert_eq!(
        emails.sub_attribute("TYPE").unwrap().canonical_values,
        ["work", "home", "other"]
    );
    assert_eq!(emails.sub_attribute("primary").unwrap().ty, Type::Boolean);
    assert_eq!(
        attr(user, "phoneNumbers")
            .sub_attribute("type")
            .unwrap()
            .canonical_values,
        ["work", "home", "mobile", "fax", "pager", "other"]
    );
    assert_eq!(
        attr(user, "photos").sub_attribute("value").unwrap().ty,
        Type::Reference
    );
    let addresses = attr(user, "addresses");
    let subs: Vec<&str> = addresses
        .sub_attributes
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(
        subs,
        [
            "formatted",
            "streetAddress",
            "locality",
            "region",
            "postalCode",
            "country",
            "type",
            "primary"
        ]
    );
    assert_eq!(
        attr(user, "x509Certificates")
            .sub_attribute("value")
            .unwrap()
            .ty,
        Type::Binary
    );
    // Every attribute other than the ones above is a single-valued read-write string.
    for a in &user.attributes {
        if matches!(
            a.name.as_str(),
            "userName" | "displayName" | "nickName" | "title" | "userType" | "locale"
        ) {
            assert_eq!(a.ty, Type::String);
            assert!(!a.multi_valued && !a.case_exact);
            assert_eq!(a.mutability, Mutability::ReadWrite);
        }
    }
}

#[test]
fn enterprise_and_group_schemas() {
    let ent = &users().extensions[0];
    assert_eq!(ent.name, "EnterpriseUser");
    let names: Vec<&str> = ent.attributes.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "employeeNumber",
            "costCenter",
            "organization",
            "division",
            "department",
            "manager"
        ]
    );
    let manager = attr(ent, "manager");
    assert_eq!(manager.ty, Type::Complex);
    assert!(!manager.multi_valued);
    assert_eq!(manager.sub_attribute("$ref").unwrap().ty, Type::Reference);
    assert_eq!(
        manager.sub_attribute("displayName").unwrap().mutability,
        Mutability::ReadOnly
    );
    assert_eq!(
        manager.sub_attribute("value").unwrap().mutability,
        Mutability::ReadWrite
    );

    let group = &groups().core;
    let display_name = attr(group, "displayName");
    assert_eq!(display_name.uniqueness, Uniqueness::Server);
    assert!(!display_name.case_exact);
    let members = attr(group, "members");
    assert!(members.multi_valued);
    let subs: Vec<&str> = members
        .sub_attributes
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(subs, ["value", "$ref", "type", "display"]);
    // A client sets value, $ref and type once; display is Plinto's (the member's name).
    for s in &members.sub_attributes {
        let expected = if s.name == "display" {
            Mutability::ReadOnly
        } else {
            Mutability::Immutable
        };
        assert_eq!(s.mutability, expected, "{}", s.name);
    }
    assert_eq!(
        members.sub_attribute("type").unwrap().canonical_values,
        ["User", "Group"]
    );
}

#[test]
fn common_attributes_are_defined() {
    let common = common_attributes();
    let id = find_attr(common, "id").unwrap();
    assert_eq!(id.mutability, Mutability::ReadOnly);
    assert_eq!(id.returned, Returned::Always);
    assert!(id.case_exact);
    let external = find_attr(common, "externalId").unwrap();
    assert_eq!(external.mutability, Mutability::ReadWrite);
    assert!(external.case_exact);
    assert_eq!(external.ty, Type::String);
    let meta = find_attr(common, "meta").unwrap();
    assert_eq!(meta.mutability, Mutability::ReadOnly);
    assert_eq!(
        meta.sub_attribute("lastModified").unwrap().ty,
        Type::DateTime
    );
    assert_eq!(meta.sub_attribute("created").unwrap().ty, Type::DateTime);
    assert_eq!(meta.sub_attribute("location").unwrap().ty, Type::Reference);
    assert!(meta.sub_attribute("resourceType").is_some());
    assert!(meta.sub_attribute("version").is_some());
}

// --- resolve -------------------------------------------------------------------------

fn resolved(rt: &ResourceType, p: AttrPath) -> (String, String, Option<String>, bool) {
    match rt.resolve(&p) {
        Some(t @ Target::Attr { schema, attr, sub }) => (
            schema.id.clone(),
            attr.name.clone(),
            sub.map(|s| s.name.clone()),
            t.is_common(),
        ),
        other => panic!("{p:?} resolved to {other:?}"),
    }
}

#[test]
fn resolve_core_attributes_case_insensitively() {
    let rt = users();
    assert_eq!(
        resolved(rt, path(None, "USERNAME", None)),
        (USER.into(), "userName".into(), None, false)
    );
    assert_eq!(
        resolved(rt, path(None, "name", Some("GIVENNAME"))),
        (USER.into(), "name".into(), Some("givenName".into()), false)
    );
    assert_eq!(
        resolved(rt, path(Some(USER), "userName", None)),
        (USER.into(), "userName".into(), None, false)
    );
    assert_eq!(
        resolved(
            rt,
            path(Some(&USER.to_uppercase()), "emails", Some("value"))
        ),
        (USER.into(), "emails".into(), Some("value".into()), false)
    );
    assert_eq!(
        resolved(groups(), path(None, "members", Some("$REF"))),
        (GROUP.into(), "members".into(), Some("$ref".into()), false)
    );
}

#[test]
fn resolve_extension_attributes() {
    let rt = users();
    assert_eq!(
        resolved(rt, path(Some(ENTERPRISE_USER), "manager", Some("value"))),
        (
            ENTERPRISE_USER.into(),
            "manager".into(),
            Some("value".into()),
            false
        )
    );
    assert_eq!(
        resolved(
            rt,
            path(
                Some(&ENTERPRISE_USER.to_lowercase()),
                "EMPLOYEENUMBER",
                None
            )
        ),
        (ENTERPRISE_USER.into(), "employeeNumber".into(), None, false)
    );
    // The bare URN, split at its last ':' by the filter parser.
    let bare = path(
        Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0"),
        "user",
        None,
    );
    match rt.resolve(&bare) {
        Some(Target::Extension(ext)) => assert_eq!(ext.id, ENTERPRISE_USER),
        other => panic!("{other:?}"),
    }
    // Extension attributes need their URN; core attributes are not in the extension.
    assert!(rt.resolve(&path(None, "employeeNumber", None)).is_none());
    assert!(
        rt.resolve(&path(Some(ENTERPRISE_USER), "userName", None))
            .is_none()
    );
    assert!(
        rt.resolve(&path(Some(ENTERPRISE_USER), "id", None))
            .is_none()
    );
    // Groups have no extension.
    assert!(groups().resolve(&bare).is_none());
}

#[test]
fn resolve_common_attributes() {
    let rt = users();
    assert_eq!(
        resolved(rt, path(None, "meta", Some("lastModified"))),
        (
            USER.into(),
            "meta".into(),
            Some("lastModified".into()),
            true
        )
    );
    assert_eq!(
        resolved(rt, path(None, "EXTERNALID", None)),
        (USER.into(), "externalId".into(), None, true)
    );
    assert_eq!(
        resolved(rt, path(Some(USER), "id", None)),
        (USER.into(), "id".into(), None, true)
    );
    assert_eq!(
        resolved(groups(), path(None, "meta", Some("LOCATION"))),
        (GROUP.into(), "meta".into(), Some("location".into()), true)
    );
}

#[test]
fn resolve_unknown_is_none() {
    let rt = users();
    assert!(rt.resolve(&path(None, "nope", None)).is_none());
    assert!(rt.resolve(&path(None, "name", Some("nope"))).is_none());
    assert!(rt.resolve(&path(None, "userName", Some("x"))).is_none());
    assert!(rt.resolve(&path(None, "meta", Some("nope"))).is_none());
    assert!(
        rt.resolve(&path(Some("urn:example:other"), "userName", None))
            .is_none()
    );
    // The bare extension URN cannot have a sub-attribute.
    assert!(
        rt.resolve(&path(
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0"),
            "User",
            Some("manager")
        ))
        .is_none()
    );
    assert!(groups().resolve(&path(None, "userName", None)).is_none());
}

#[test]
fn split_path_like_the_filter_parser() {
    assert_eq!(
        split_path(" name.givenName "),
        Some(path(None, "name", Some("givenName")))
    );
    assert_eq!(
        split_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"),
        Some(path(Some(ENTERPRISE_USER), "manager", Some("value")))
    );
    assert_eq!(
        split_path(ENTERPRISE_USER),
        Some(path(
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0"),
            "User",
            None
        ))
    );
    assert_eq!(split_path(""), None);
    assert_eq!(split_path("name."), None);
}

// --- normalize -----------------------------------------------------------------------

#[test]
fn normalize_canonicalises_keys_and_drops_junk() {
    let out = normalized(
        users(),
        json!({
            "schemas": [USER],
            "id": "client-chosen",
            "meta": {"resourceType": "User"},
            "USERNAME": "bjensen",
            "ExternalID": "701984",
            "Name": {"GivenName": "Barbara", "familyname": "Jensen", "nope": "x", "middleName": ""},
            "displayName": null,
            "nickName": "",
            "title": {},
            "emails": [],
            "phoneNumbers": [{"VALUE": "tel:+1-201-555-0123", "Type": "work"}, {}, null],
            "groups": [{"value": "g1"}],
            "favouriteColour": "blue",
            "active": true,
            "password": "t1meMa$heen",
        }),
    );
    assert_eq!(
        out,
        json!({
            "userName": "bjensen",
            "externalId": "701984",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "phoneNumbers": [{"value": "tel:+1-201-555-0123", "type": "work"}],
            "active": true,
            "password": "t1meMa$heen",
        })
    );
}

#[test]
fn normalize_accepts_odd_type_values_and_drops_readonly_subattributes() {
    let out = normalized(
        users(),
        json!({
            "userName": "b",
            "emails": [{"value": "b@example.com", "type": "Corporate", "primary": true}],
            ENTERPRISE_USER: {"manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}},
        }),
    );
    assert_eq!(
        out,
        json!({
            "userName": "b",
            "emails": [{"value": "b@example.com", "type": "Corporate", "primary": true}],
            ENTERPRISE_USER: {"manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}},
        })
    );
}

#[test]
fn normalize_extension_nested_and_flat() {
    let lower = ENTERPRISE_USER.to_lowercase();
    let out = normalized(
        users(),
        json!({
            "userName": "b",
            lower.clone(): {"EMPLOYEENUMBER": "701984", "costCenter": "4130", "unknown": 1},
            format!("{ENTERPRISE_USER}:department"): "Tour Operations",
            format!("{lower}:Manager"): {"Value": "m-1"},
            format!("{ENTERPRISE_USER}:nope"): "x",
            format!("{USER}:displayName"): "Babs",
            "urn:example:other:2.0:User:thing": "x",
        }),
    );
    assert_eq!(
        out,
        json!({
            "userName": "b",
            "displayName": "Babs",
            ENTERPRISE_USER: {
                "employeeNumber": "701984",
                "costCenter": "4130",
                "department": "Tour Operations",
                "manager": {"value": "m-1"},
            },
        })
    );
    // An empty extension object disappears.
    let out = normalized(
        users(),
        json!({"userName": "b", ENTERPRISE_USER: {"nope": 1}}),
    );
    assert_eq!(out, json!({"userName": "b"}));
    // Nested and flat must agree.
    let err = rejected(
        users(),
        json!({
            ENTERPRISE_USER: {"department": "A"},
            format!("{ENTERPRISE_USER}:department"): "B",
        }),
    );
    assert_eq!(err.scim_type, "invalidValue");
    assert!(err.detail.contains("department"), "{}", err.detail);
    // The extension key must hold an object.
    let err = rejected(users(), json!({ENTERPRISE_USER: "x"}));
    assert_eq!(err.scim_type, "invalidValue");
}

#[test]
fn normalize_type_errors() {
    let cases = [
        (
            json!({"userName": 5}),
            "\"userName\" must be a string, got a number",
        ),
        (
            json!({"active": "yes"}),
            "\"active\" must be a boolean, got a string",
        ),
        (
            json!({"name": "Barbara"}),
            "\"name\" must be an object, got a string",
        ),
        (
            json!({"emails": {"value": "b@example.com"}}),
            "\"emails\" is multi-valued: expected an array (elements: an object), got an object",
        ),
        (
            json!({"emails": [{"value": "b@example.com", "primary": "maybe"}]}),
            "\"emails[0].primary\" must be a boolean",
        ),
        (
            json!({"emails": ["b@example.com"]}),
            "\"emails[0]\" must be an object, got a string",
        ),
        (json!({"userName": ["b"]}), "\"userName\" is single-valued"),
        (
            json!({"profileUrl": 1}),
            "\"profileUrl\" must be a URI string",
        ),
        (
            json!({"x509Certificates": [{"value": 1}]}),
            "\"x509Certificates[0].value\" must be a base64 string",
        ),
        (
            json!({ENTERPRISE_USER: {"employeeNumber": 701984}}),
            "employeeNumber\" must be a string, got a number",
        ),
    ];
    for (input, want) in cases {
        let err = rejected(users(), input.clone());
        assert_eq!(err.scim_type, "invalidValue", "{input}");
        assert!(err.detail.contains(want), "{input}: {}", err.detail);
    }
    let err = rejected(users(), json!(["not", "an", "object"]));
    assert_eq!(err.scim_type, "invalidSyntax");
}

#[test]
fn normalize_booleans_from_strings() {
    let out = normalized(users(), json!({"active": "False"}));
    assert_eq!(out, json!({"active": false}));
    let out = normalized(
        users(),
        json!({"emails": [{"value": "a", "primary": "TRUE"}]}),
    );
    assert_eq!(out, json!({"emails": [{"value": "a", "primary": true}]}));
}

#[test]
fn normalize_rejects_two_primaries() {
    let err = rejected(
        users(),
        json!({"emails": [
            {"value": "a@example.com", "primary": true},
            {"value": "b@example.com", "primary": false},
            {"value": "c@example.com", "primary": true},
        ]}),
    );
    assert_eq!(err.scim_type, "invalidValue");
    assert!(err.detail.contains("emails"), "{}", err.detail);
    assert!(err.detail.contains("primary"), "{}", err.detail);
    // One is fine.
    normalized(
        users(),
        json!({"emails": [
            {"value": "a@example.com", "primary": true},
            {"value": "b@example.com", "primary": false},
        ]}),
    );
}

#[test]
fn normalize_group_members() {
    let out = normalized(
        groups(),
        json!({
            "schemas": [GROUP],
            "DisplayName": "Tour Guides",
            "Members": [
                {"Value": "2819c223", "type": "user", "$REF": "https://example.com/v2/Users/2819c223", "display": "Babs"},
                {"value": "e9e30dba", "TYPE": "GROUP"},
                {"value": "x"},
            ],
        }),
    );
    assert_eq!(
        out,
        json!({
            "displayName": "Tour Guides",
            "members": [
                {"value": "2819c223", "type": "User", "$ref": "https://example.com/v2/Users/2819c223"},
                {"value": "e9e30dba", "type": "Group"},
                {"value": "x"},
            ],
        })
    );
    let err = rejected(
        groups(),
        json!({"members": [{"value": "x", "type": "Device"}]}),
    );
    assert_eq!(err.scim_type, "invalidValue");
    assert!(err.detail.contains("members[0].type"), "{}", err.detail);
    assert!(err.detail.contains("User, Group"), "{}", err.detail);
}

#[test]
fn normalize_datetime_and_numbers() {
    let meta = find_attr(common_attributes(), "meta").unwrap();
    // meta is read-only: a writable copy of its dateTime sub-attribute.
    let last_modified = &Attribute {
        mutability: Mutability::ReadWrite,
        ..meta.sub_attribute("lastModified").unwrap().clone()
    };
    assert_eq!(
        normalize_value(meta.sub_attribute("lastModified").unwrap(), &json!("x"))
            .unwrap_err()
            .scim_type,
        "mutability"
    );
    for ok in [
        "2011-05-13T04:42:34Z",
        "2011-05-13t04:42:34.123z",
        "2024-02-29T23:59:60+05:30",
        "2011-05-13T04:42:34-08:00",
    ] {
        assert!(is_rfc3339(ok), "{ok}");
        assert_eq!(
            normalize_value(last_modified, &json!(ok)).unwrap(),
            json!(ok)
        );
    }
    for bad in [
        "2011-05-13",
        "2011-05-13T04:42:34",
        "2011-13-13T04:42:34Z",
        "2023-02-29T04:42:34Z",
        "2011-05-13T24:00:00Z",
        "2011-05-13T04:42:34.Z",
        "2011-05-13T04:42:34+0800",
        "2011-05-13 04:42:34Z",
        "2011-05-13T04:42:34Zjunk",
    ] {
        assert!(!is_rfc3339(bad), "{bad}");
        let err = normalize_value(last_modified, &json!(bad)).unwrap_err();
        assert_eq!(err.scim_type, "invalidValue");
        assert!(err.detail.contains("RFC 3339"), "{}", err.detail);
    }
    let integer = simple_attribute(
        "n",
        Type::Integer,
        false,
        Mutability::ReadWrite,
        Returned::Default,
        Uniqueness::None,
    );
    assert_eq!(normalize_value(&integer, &json!(5)).unwrap(), json!(5));
    assert!(normalize_value(&integer, &json!(5.5)).is_err());
    assert!(normalize_value(&integer, &json!("5")).is_err());
    let decimal = Attribute {
        ty: Type::Decimal,
        ..integer
    };
    assert_eq!(normalize_value(&decimal, &json!(5.5)).unwrap(), json!(5.5));
    assert_eq!(normalize_value(&decimal, &json!(5)).unwrap(), json!(5));
}

#[test]
fn normalize_value_for_patch() {
    let user = &users().core;
    let emails = attr(user, "emails");
    assert_eq!(
        normalize_value(emails, &json!({"VALUE": "a@example.com", "Type": "work"})).unwrap(),
        json!([{"value": "a@example.com", "type": "work"}])
    );
    assert_eq!(
        normalize_value(emails, &json!([{"value": "a@example.com"}])).unwrap(),
        json!([{"value": "a@example.com"}])
    );
    assert_eq!(
        normalize_element(emails, &json!({"VALUE": "a@example.com"})).unwrap(),
        json!({"value": "a@example.com"})
    );
    assert!(normalize_element(emails, &json!([{"value": "a"}])).is_err());
    assert_eq!(
        normalize_value(attr(user, "name"), &json!({"givenname": "B", "x": 1})).unwrap(),
        json!({"givenName": "B"})
    );
    assert_eq!(
        normalize_value(attr(user, "nickName"), &json!("")).unwrap(),
        Value::Null
    );
    assert_eq!(
        normalize_value(attr(user, "active"), &json!("True")).unwrap(),
        json!(true)
    );
    let err = normalize_value(attr(user, "groups"), &json!([{"value": "g"}])).unwrap_err();
    assert_eq!(err.scim_type, "mutability");
    let err = normalize_value(attr(user, "displayName"), &json!(["a", "b"])).unwrap_err();
    assert_eq!(err.scim_type, "invalidValue");
    let members = attr(&groups().core, "members");
    assert_eq!(
        normalize_value(members, &json!({"value": "u1", "type": "USER"})).unwrap(),
        json!([{"value": "u1", "type": "User"}])
    );
}

#[test]
fn required_attributes() {
    let rt = users();
    let ok = normalize_resource(rt, &json!({"userName": "b"})).unwrap();
    check_required(rt, &ok).unwrap();
    let missing = normalize_resource(rt, &json!({"userName": "", "displayName": "B"})).unwrap();
    let err = check_required(rt, &missing).unwrap_err();
    assert_eq!(err.scim_type, "invalidValue");
    assert!(err.detail.contains("userName"), "{}", err.detail);
}

// --- projection ----------------------------------------------------------------------

fn full_user() -> Map<String, Value> {
    json!({
        "schemas": [USER, ENTERPRISE_USER],
        "id": "2819c223",
        "externalId": "701984",
        "meta": {
            "resourceType": "User",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34Z",
            "location": "https://example.com/v2/Users/2819c223",
            "version": "W/\"a330bc54f0671c9\"",
        },
        "userName": "bjensen",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "password": "should never leave",
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"},
        ],
        "active": true,
        ENTERPRISE_USER: {"employeeNumber": "701984", "department": "Tour Operations"},
    })
    .as_object()
    .unwrap()
    .clone()
}

fn projected(rt: &ResourceType, doc: Map<String, Value>, attrs: &[&str], excl: &[&str]) -> Value {
    let mut doc = doc;
    project(rt, &mut doc, &strings(attrs), &strings(excl));
    Value::Object(doc)
}

#[test]
fn project_default_drops_password_only() {
    let mut want = full_user();
    want.remove("password");
    assert_eq!(
        projected(users(), full_user(), &[], &[]),
        Value::Object(want)
    );
}

#[test]
fn project_attributes() {
    let out = projected(
        users(),
        full_user(),
        &["USERNAME", "name.givenName", "nope", "password"],
        &[],
    );
    assert_eq!(
        out,
        json!({
            "schemas": [USER],
            "id": "2819c223",
            "userName": "bjensen",
            "name": {"givenName": "Barbara"},
        })
    );
    // Sub-attribute of a multi-valued attribute, and an extension attribute.
    let out = projected(
        users(),
        full_user(),
        &[
            "emails.value",
            &format!("{ENTERPRISE_USER}:department"),
            "meta.lastModified",
        ],
        &[],
    );
    assert_eq!(
        out,
        json!({
            "schemas": [USER, ENTERPRISE_USER],
            "id": "2819c223",
            "meta": {"lastModified": "2011-05-13T04:42:34Z"},
            "emails": [{"value": "bjensen@example.com"}, {"value": "babs@jensen.org"}],
            ENTERPRISE_USER: {"department": "Tour Operations"},
        })
    );
    // The whole extension by its URN.
    let out = projected(
        users(),
        full_user(),
        &[&ENTERPRISE_USER.to_lowercase()],
        &[],
    );
    assert_eq!(
        out,
        json!({
            "schemas": [USER, ENTERPRISE_USER],
            "id": "2819c223",
            ENTERPRISE_USER: {"employeeNumber": "701984", "department": "Tour Operations"},
        })
    );
    // Only unknown names: just what is always returned.
    let out = projected(users(), full_user(), &["nope"], &[]);
    assert_eq!(out, json!({"schemas": [USER], "id": "2819c223"}));
    // `attributes` wins over `excludedAttributes`.
    let out = projected(users(), full_user(), &["userName"], &["userName"]);
    assert_eq!(
        out,
        json!({"schemas": [USER], "id": "2819c223", "userName": "bjensen"})
    );
}

#[test]
fn project_excluded() {
    let group = json!({
        "schemas": [GROUP],
        "id": "e9e30dba",
        "displayName": "Tour Guides",
        "members": [{"value": "2819c223", "$ref": "https://example.com/v2/Users/2819c223", "type": "User"}],
        "meta": {"resourceType": "Group", "location": "https://example.com/v2/Groups/e9e30dba"},
    })
    .as_object()
    .unwrap()
    .clone();
    let out = projected(groups(), group.clone(), &[], &["MEMBERS"]);
    assert_eq!(
        out,
        json!({
            "schemas": [GROUP],
            "id": "e9e30dba",
            "displayName": "Tour Guides",
            "meta": {"resourceType": "Group", "location": "https://example.com/v2/Groups/e9e30dba"},
        })
    );
    // `id` and `schemas` cannot be excluded; unknown names are ignored.
    let out = projected(
        groups(),
        group,
        &[],
        &["id", "schemas", "nope", "members.$ref", "meta"],
    );
    assert_eq!(
        out,
        json!({
            "schemas": [GROUP],
            "id": "e9e30dba",
            "displayName": "Tour Guides",
            "members": [{"value": "2819c223", "type": "User"}],
        })
    );
    // Excluding every attribute of the extension removes it, and its URN from `schemas`.
    let out = projected(
        users(),
        full_user(),
        &[],
        &[
            &format!("{ENTERPRISE_USER}:employeeNumber"),
            &format!("{ENTERPRISE_USER}:department"),
            "name.givenName",
            "emails",
        ],
    );
    let mut want = full_user();
    for key in ["password", "emails", ENTERPRISE_USER] {
        want.remove(key);
    }
    want.insert("schemas".into(), json!([USER]));
    want.insert("name".into(), json!({"familyName": "Jensen"}));
    assert_eq!(out, Value::Object(want));
    // The whole extension by its URN.
    let out = projected(users(), full_user(), &[], &[ENTERPRISE_USER]);
    let out = out.as_object().unwrap();
    assert!(!out.contains_key(ENTERPRISE_USER));
    assert_eq!(out["schemas"], json!([USER]));
}

// --- discovery -----------------------------------------------------------------------

const BASE: &str = "https://host/t/acme/scim/v2";

#[test]
fn schema_documents() {
    for schema in all_schemas() {
        let doc = schema_document(schema, BASE);
        assert_eq!(doc["id"], json!(schema.id));
        assert_eq!(doc["name"], json!(schema.name));
        assert_eq!(
            doc["schemas"],
            json!(["urn:ietf:params:scim:schemas:core:2.0:Schema"])
        );
        assert_eq!(
            doc["meta"],
            json!({"resourceType": "Schema", "location": format!("{BASE}/Schemas/{}", schema.id)})
        );
        assert_eq!(
            doc["attributes"].as_array().unwrap().len(),
            schema.attributes.len()
        );
    }
    let user = schema_document(&users().core, BASE);
    assert_eq!(user["description"], json!("User Account"));
    assert_eq!(user["attributes"][0]["uniqueness"], json!("server"));
    assert_eq!(user["attributes"][4]["referenceTypes"], json!(["external"]));

    // A schema without an embedded document is described from its definition.
    let custom = Schema {
        id: "urn:example:custom".into(),
        name: "Custom".into(),
        attributes: vec![users().core.attribute("name").unwrap().clone()],
    };
    let doc = schema_document(&custom, BASE);
    assert_eq!(doc["attributes"][0]["name"], json!("name"));
    assert_eq!(doc["attributes"][0]["type"], json!("complex"));
    assert_eq!(
        doc["attributes"][0]["subAttributes"][2]["name"],
        json!("givenName")
    );
}

#[test]
fn resource_type_documents() {
    assert_eq!(
        resource_type_document(users(), BASE),
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "User Account",
            "schema": USER,
            "schemaExtensions": [
                {"schema": ENTERPRISE_USER, "required": false},
                {"schema": PLINTO_USER, "required": false}
            ],
            "meta": {"resourceType": "ResourceType", "location": format!("{BASE}/ResourceTypes/User")},
        })
    );
    assert_eq!(
        resource_type_document(groups(), BASE),
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": "Group",
            "schema": GROUP,
            "meta": {"resourceType": "ResourceType", "location": format!("{BASE}/ResourceTypes/Group")},
        })
    );
}

#[test]
fn service_provider_config_document() {
    let doc = service_provider_config(
        BASE,
        &Limits {
            max_operations: 1000,
            max_payload_size: 1_048_576,
            max_results: 200,
        },
    );
    assert_eq!(
        doc["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"])
    );
    assert_eq!(doc["patch"], json!({"supported": true}));
    assert_eq!(
        doc["bulk"],
        json!({"supported": true, "maxOperations": 1000, "maxPayloadSize": 1_048_576})
    );
    assert_eq!(doc["filter"], json!({"supported": true, "maxResults": 200}));
    for feature in ["changePassword", "sort", "etag"] {
        assert_eq!(doc[feature], json!({"supported": true}), "{feature}");
    }
    let scheme = &doc["authenticationSchemes"][0];
    assert_eq!(scheme["type"], json!("oauthbearertoken"));
    assert_eq!(scheme["name"], json!("OAuth Bearer Token"));
    assert_eq!(scheme["primary"], json!(true));
    assert!(doc.get("documentationUri").is_none());
    assert_eq!(
        doc["meta"],
        json!({"resourceType": "ServiceProviderConfig", "location": format!("{BASE}/ServiceProviderConfig")})
    );
}
