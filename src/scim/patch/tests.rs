//! Unit tests of PATCH request parsing and of applying operations.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;

use super::*;
use crate::scim::schema::{self, ENTERPRISE_USER, GROUP, Returned, USER, Uniqueness};

fn attr(name: &str, ty: Type) -> Attribute {
    Attribute {
        name: name.into(),
        ty,
        multi_valued: false,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        uniqueness: Uniqueness::None,
        canonical_values: vec![],
        sub_attributes: vec![],
    }
}

fn string(name: &str) -> Attribute {
    attr(name, Type::String)
}

fn complex(name: &str, subs: Vec<Attribute>) -> Attribute {
    Attribute {
        sub_attributes: subs,
        ..attr(name, Type::Complex)
    }
}

fn multi(a: Attribute) -> Attribute {
    Attribute {
        multi_valued: true,
        ..a
    }
}

fn with(mutability: Mutability, a: Attribute) -> Attribute {
    Attribute { mutability, ..a }
}

fn required(a: Attribute) -> Attribute {
    Attribute {
        required: true,
        ..a
    }
}

fn case_exact(a: Attribute) -> Attribute {
    Attribute {
        case_exact: true,
        ..a
    }
}

fn schema(id: &str, name: &str, attributes: Vec<Attribute>) -> Schema {
    Schema {
        id: id.into(),
        name: name.into(),
        attributes,
    }
}

fn user() -> ResourceType {
    ResourceType {
        name: "User",
        endpoint: "/Users",
        core: schema(
            USER,
            "User",
            vec![
                required(string("userName")),
                complex(
                    "name",
                    vec![
                        string("formatted"),
                        string("familyName"),
                        string("givenName"),
                    ],
                ),
                string("displayName"),
                attr("active", Type::Boolean),
                multi(complex(
                    "emails",
                    vec![
                        string("value"),
                        string("type"),
                        attr("primary", Type::Boolean),
                    ],
                )),
                with(Mutability::WriteOnly, case_exact(string("password"))),
                with(
                    Mutability::ReadOnly,
                    multi(complex(
                        "groups",
                        vec![
                            with(Mutability::ReadOnly, string("value")),
                            with(Mutability::ReadOnly, string("display")),
                        ],
                    )),
                ),
            ],
        ),
        extensions: vec![schema(
            ENTERPRISE_USER,
            "EnterpriseUser",
            vec![
                string("employeeNumber"),
                string("department"),
                complex(
                    "manager",
                    vec![
                        string("value"),
                        attr("$ref", Type::Reference),
                        with(Mutability::ReadOnly, string("displayName")),
                    ],
                ),
            ],
        )],
    }
}

fn group() -> ResourceType {
    ResourceType {
        name: "Group",
        endpoint: "/Groups",
        core: schema(
            GROUP,
            "Group",
            vec![
                required(string("displayName")),
                multi(complex(
                    "members",
                    vec![
                        with(Mutability::Immutable, case_exact(string("value"))),
                        with(Mutability::Immutable, attr("$ref", Type::Reference)),
                        with(Mutability::Immutable, string("type")),
                        with(Mutability::ReadOnly, string("display")),
                    ],
                )),
            ],
        ),
        extensions: vec![],
    }
}

fn barbara() -> Value {
    json!({
        "userName": "bjensen",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "displayName": "Babs",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "groups": [{"value": "g1", "display": "Staff"}],
        ENTERPRISE_USER: {
            "department": "Tour Operations",
            "manager": {"value": "m1", "displayName": "John Smith"}
        }
    })
}

fn body(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

/// Parses and applies a request body to a copy of `doc`.
fn run(rt: &ResourceType, doc: &Value, body: &Value) -> Result<Value, PatchError> {
    let ops = parse_request(body)?;
    let mut doc = doc.as_object().unwrap().clone();
    apply(rt, &mut doc, &ops)?;
    Ok(Value::Object(doc))
}

fn patch(rt: &ResourceType, doc: &Value, ops: Value) -> Result<Value, PatchError> {
    run(rt, doc, &body(ops))
}

fn ok(rt: &ResourceType, doc: &Value, ops: Value) -> Value {
    patch(rt, doc, ops).unwrap()
}

fn err(rt: &ResourceType, doc: &Value, ops: Value) -> PatchError {
    patch(rt, doc, ops).unwrap_err()
}

// ---- parse_request ----

#[test]
fn parses_entra_replace_active_string() {
    let ops = parse_request(&json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}]
    }))
    .unwrap();
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0].op, OpKind::Replace);
    assert_eq!(ops[0].path.as_ref().unwrap().attr.attr, "active");
    assert_eq!(ops[0].value, Some(json!("False")));
}

#[test]
fn operations_key_and_op_names_are_case_insensitive() {
    let ops = parse_request(&json!({
        "schemas": [PATCH_OP],
        "operations": [
            {"op": "ADD", "path": "displayName", "value": "x"},
            {"op": "remove", "path": "displayName"},
            {"OP": "RePlAcE", "Path": "displayName", "Value": "y"}
        ]
    }))
    .unwrap();
    let kinds: Vec<OpKind> = ops.iter().map(|o| o.op).collect();
    assert_eq!(kinds, [OpKind::Add, OpKind::Remove, OpKind::Replace]);
    assert_eq!(ops[2].value, Some(json!("y")));
}

#[test]
fn rejects_missing_or_wrong_schemas() {
    let ops = json!([{"op": "add", "path": "displayName", "value": "x"}]);
    for b in [
        json!({"Operations": ops}),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "Operations": ops}),
        json!({"schemas": PATCH_OP, "Operations": ops}),
    ] {
        assert_eq!(parse_request(&b).unwrap_err().scim_type, "invalidSyntax");
    }
}

#[test]
fn rejects_missing_empty_or_non_array_operations() {
    for b in [
        json!({"schemas": [PATCH_OP]}),
        json!({"schemas": [PATCH_OP], "Operations": []}),
        json!({"schemas": [PATCH_OP], "Operations": {"op": "add"}}),
        json!([]),
    ] {
        assert_eq!(parse_request(&b).unwrap_err().scim_type, "invalidSyntax");
    }
}

#[test]
fn rejects_bad_op_names() {
    for op in [
        json!({"op": "merge", "path": "displayName", "value": "x"}),
        json!({"path": "displayName", "value": "x"}),
        json!({"op": 1, "path": "displayName", "value": "x"}),
        json!("add"),
    ] {
        let e = parse_request(&body(json!([op]))).unwrap_err();
        assert_eq!(e.scim_type, "invalidSyntax", "{e:?}");
    }
}

#[test]
fn bad_path_syntax_is_invalid_path() {
    for path in [
        json!("emails[type eq \"work\""),
        json!("na me"),
        json!(""),
        json!(3),
    ] {
        let e = parse_request(&body(
            json!([{"op": "replace", "path": path, "value": "x"}]),
        ))
        .unwrap_err();
        assert_eq!(e.scim_type, "invalidPath", "{e:?}");
    }
}

#[test]
fn add_and_replace_need_a_value() {
    for op in ["add", "replace"] {
        let e = parse_request(&body(json!([{"op": op, "path": "displayName"}]))).unwrap_err();
        assert_eq!(e.scim_type, "invalidSyntax");
        assert!(e.detail.contains("value"), "{e:?}");
    }
    // An explicit null is a value.
    let ops = parse_request(&body(
        json!([{"op": "replace", "path": "displayName", "value": null}]),
    ))
    .unwrap();
    assert_eq!(ops[0].value, Some(Value::Null));
}

#[test]
fn remove_without_path_is_no_target() {
    let e = parse_request(&body(
        json!([{"op": "remove", "value": {"displayName": "x"}}]),
    ))
    .unwrap_err();
    assert_eq!(e.scim_type, "noTarget");
    // `apply` refuses it too when built by hand.
    let mut doc = barbara().as_object().unwrap().clone();
    let op = PatchOp {
        op: OpKind::Remove,
        path: None,
        value: None,
    };
    assert_eq!(
        apply(&user(), &mut doc, &[op]).unwrap_err().scim_type,
        "noTarget"
    );
}

#[test]
fn errors_name_the_operation() {
    let e = parse_request(&body(json!([
        {"op": "add", "path": "displayName", "value": "x"},
        {"op": "frobnicate"}
    ])))
    .unwrap_err();
    assert!(e.detail.starts_with("Operations[1]: "), "{e:?}");
    let e = err(
        &user(),
        &barbara(),
        json!([
            {"op": "replace", "path": "displayName", "value": "x"},
            {"op": "replace", "path": "id", "value": "y"}
        ]),
    );
    assert!(e.detail.starts_with("Operations[1]: "), "{e:?}");
}

#[test]
fn null_path_means_no_path() {
    let doc = ok(
        &user(),
        &barbara(),
        json!([{"op": "replace", "path": null, "value": {"displayName": "B"}}]),
    );
    assert_eq!(doc["displayName"], "B");
}

// ---- single-valued attributes ----

#[test]
fn entra_replace_active_false_string() {
    let doc = run(
        &user(),
        &barbara(),
        &json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}]
        }),
    )
    .unwrap();
    assert_eq!(doc["active"], false);
    let doc = ok(
        &user(),
        &doc,
        json!([{"op": "Replace", "path": "active", "value": "TRUE"}]),
    );
    assert_eq!(doc["active"], true);
}

#[test]
fn non_boolean_string_for_boolean_is_invalid_value() {
    for v in [json!("yes"), json!(1)] {
        let e = err(
            &user(),
            &barbara(),
            json!([{"op": "replace", "path": "active", "value": v}]),
        );
        assert_eq!(e.scim_type, "invalidValue", "{e:?}");
    }
    let e = err(
        &user(),
        &barbara(),
        json!([{"op": "replace", "path": "userName", "value": 5}]),
    );
    assert_eq!(e.scim_type, "invalidValue");
}

#[test]
fn add_and_replace_single_valued_set_the_value() {
    let doc = ok(
        &user(),
        &barbara(),
        json!([
            {"op": "add", "path": "displayName", "value": "Barb"},
            {"op": "add", "path": "externalId", "value": "ext-1"}
        ]),
    );
    assert_eq!(doc["displayName"], "Barb");
    assert_eq!(doc["externalId"], "ext-1");
    let doc = ok(
        &user(),
        &doc,
        json!([{"op": "replace", "path": "DISPLAYNAME", "value": "B"}]),
    );
    assert_eq!(doc["displayName"], "B");
}

#[test]
fn write_only_password_can_be_set() {
    let doc = ok(
        &user(),
        &barbara(),
        json!([{"op": "replace", "path": "password", "value": "t1meMachine"}]),
    );
    assert_eq!(doc["password"], "t1meMachine");
    let doc = ok(
        &user(),
        &doc,
        json!([{"op": "add", "path": "password", "value": "other"}]),
    );
    assert_eq!(doc["password"], "other");
}

#[test]
fn replace_with_empty_or_null_unassigns() {
    let doc = ok(
        &user(),
        &barbara(),
        json!([{"op": "replace", "path": "displayName", "value": ""}]),
    );
    assert!(doc.get("displayName").is_none());
    let doc = ok(
        &user(),
        &barbara(),
        json!([{"op": "replace", "path": "displayName", "value": null}]),
    );
    assert!(doc.get("displayName").is_none());
    // add null changes nothing
    let doc = ok(
        &user(),
        &barbara(),
        json!([{"op": "add", "path": "displayName", "value": null}]),
    );
    assert_eq!(doc["displayName"], "Babs");
}

// ---- complex attributes ----

#[test]
fn add_complex_merges_sub_attributes() {
    let doc = ok(
        &user(),
        &barbara(),
        json!([{"op": "add", "path": "name", "value": {"givenName": "Barb", "Formatted": "Ms. Barb Jensen"}}]),
    );
    assert_eq!(
        doc["name"],
        json!({"givenName": "Barb", "familyName": "Jensen", "formatted": "Ms. Barb Jensen"})
    );
}

#[test]
fn replace_complex_merges_sub_attributes() {
    let doc = ok(
        &user(),
        &barbara(),
        json!([{"op": "replace", "path": "name", "value": {"familyName": "Smith"}}]),
    );
    assert_eq!(
        doc["name"],
        json!({"givenName": "Barbara", "familyName": "Smith"})
    );
}

#[test]
fn sub_attribute_paths_are_case_insensitive() {
    let doc = ok(
        &user(),
        &barbara(),
        json!([
            {"op": "replace", "path": "name.familyName", "value": "Smith"},
            {"op": "Add", "path": "Name.GivenName", "value": "Barb"}
        ]),
    );
    assert_eq!(
        doc["name"],
        json!({"givenName": "Barb", "familyName": "Smith"})
    );
}

#[test]
fn sub_attribute_on_absent_complex_creates_it() {
    let mut doc = barbara();
    doc.as_object_mut().unwrap().remove("name");
    let doc = ok(
        &user(),
        &doc,
        json!([{"op": "add", "path": "name.givenName", "value": "B"}]),
    );
    assert_eq!(doc["name"], json!({"givenName": "B"}));
}

#[test]
fn removing_last_sub_attribute_removes_the_complex_attribute() {
    let doc = ok(
        &user(),
        &barbara(),
        json!([
            {"op": "remove", "path": "name.givenName"},
            {"op": "replace", "path": "name.familyName", "value": ""}
        ]),
    );
    assert!(doc.get("name").is_none(), "{doc}");
}

#[test]
fn complex_value_must_be_an_object() {
    let e = err(
        &user(),
        &barbara(),
        json!([{"op": "replace", "path": "name", "value": "Barbara Jensen"}]),
    );
    assert_eq!(e.scim_type, "invalidValue");
}

// ---- multi-valued attributes ----

#[test]
fn add_multi_valued_appends() {
    let doc = ok(
        &user(),
        &barbara(),
        json!([{"op": "add", "path": "emails", "value": [{"value": "b@other.org", "type": "other"}]}]),
    );
    assert_eq!(doc["emails"].as_array().unwrap().len(), 3);
    assert_eq!(
        doc["emails"][2],
        json!({"value": "b@other.org", "type": "other"})
    );
    // A single object is one value.
    let doc = ok(
        &user(),
        &barbara(),
        json!([{"op": "add", "path": "emails", "value": {"value": "c@other.org"}}]),
    );
    assert_eq!(doc["emails"][2], json!({"value": "c@other.org"}));
}

#[test]
fn add_existing_value_does_not_duplicate() {
    let doc = ok(
        &user(),
        &barbara(),
        json!([{"op": "add", "path": "emails", "value": [
            {"value": "BJENSEN@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org"}
        ]}]),
    );
    // The same address (emails are not caseExact) and type: merged, not appended.
    assert_eq!(
        doc["emails"],
        json!([
            {"value": "BJENSEN@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ])
    );
    // Same address, different type: a different value.
    let doc = ok(
        &user(),
        &barbara(),
        json!([{"op": "add", "path": "emails", "value": [{"value": "babs@jensen.org", "type": "other"}]}]),
    );
    assert_eq!(doc["emails"].as_array().unwrap().len(), 3);
}

#[test]
fn replace_multi_valued_replaces_the_array() {
    let doc = ok(
        &user(),
        &barbara(),
        json!([{"op": "replace", "path": "emails", "value": [{"value": "new@example.com", "type": "work"}]}]),
    );
    assert_eq!(
        doc["emails"],
        json!([{"value": "new@example.com", "type": "work"}])
    );
    let doc = ok(
        &user(),
        &barbara(),
        json!([{"op": "replace", "path": "emails", "value": []}]),
    );
    assert!(doc.get("emails").is_none());
}

#[test]
fn entra_add_filtered_sub_attribute_creates_element() {
    let mut doc = barbara();
    doc.as_object_mut().unwrap().remove("emails");
    let doc = ok(
        &user(),
        &doc,
        json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "a@b.c"}]),
    );
    assert_eq!(doc["emails"], json!([{"type": "work", "value": "a@b.c"}]));
    // With several eq terms all of them go into the new element.
    let doc = ok(
        &user(),
        &doc,
        json!([{"op": "replace", "path": "emails[type eq \"home\" and primary eq true].value", "value": "h@b.c"}]),
    );
    assert_eq!(
        doc["emails"],
        json!([{"type": "work", "value": "a@b.c"}, {"type": "home", "value": "h@b.c", "primary": true}])
    );
}

#[test]
fn entra_add_filtered_sub_attribute_sets_matched_element() {
    let doc = ok(
        &user(),
        &barbara(),
        json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "a@b.c"}]),
    );
    assert_eq!(
        doc["emails"][0],
        json!({"value": "a@b.c", "type": "work", "primary": true})
    );
    assert_eq!(doc["emails"].as_array().unwrap().len(), 2);
}

#[test]
fn filtered_paths_are_case_insensitive() {
    let doc = ok(
        &user(),
        &barbara(),
        json!([{"op": "replace", "path": "EMAILS[TYPE eq \"WORK\"].VALUE", "value": "x@y.z"}]),
    );
    assert_eq!(doc["emails"][0]["value"], "x@y.z");
    let doc = ok(
        &user(),
        &barbara(),
        json!([{"op": "replace", "path": "emails[value eq \"BJENSEN@EXAMPLE.COM\"].type", "value": "other"}]),
    );
    assert_eq!(doc["emails"][0]["type"], "other");
}

#[test]
fn replace_filtered_element_replaces_it_whole() {
    let doc = ok(
        &user(),
        &barbara(),
        json!([{"op": "replace", "path": "emails[type eq \"home\"]", "value": {"value": "new@jensen.org", "type": "home"}}]),
    );
    assert_eq!(
        doc["emails"][1],
        json!({"value": "new@jensen.org", "type": "home"})
    );
    let e = err(
        &user(),
        &barbara(),
        json!([{"op": "replace", "path": "emails[type eq \"home\"]", "value": [{"value": "a"}, {"value": "b"}]}]),
    );
    assert_eq!(e.scim_type, "invalidValue");
}

#[test]
fn add_filtered_element_merges_or_creates() {
    let doc = ok(
        &user(),
        &barbara(),
        json!([{"op": "add", "path": "emails[type eq \"home\"]", "value": {"primary": true}}]),
    );
    assert_eq!(
        doc["emails"],
        json!([
            {"value": "bjensen@example.com", "type": "work"},
            {"value": "babs@jensen.org", "type": "home", "primary": true}
        ])
    );
    let doc = ok(
        &user(),
        &barbara(),
        json!([{"op": "add", "path": "emails[type eq \"other\"]", "value": {"value": "o@x.y"}}]),
    );
    assert_eq!(doc["emails"][2], json!({"type": "other", "value": "o@x.y"}));
}

#[test]
fn filter_that_matches_nothing_is_no_target() {
    // Not an eq filter: nothing to build a new element from.
    let e = err(
        &user(),
        &barbara(),
        json!([{"op": "replace", "path": "emails[type sw \"x\"].value", "value": "a@b.c"}]),
    );
    assert_eq!(e.scim_type, "noTarget");
    // replace of whole elements never creates one.
    let e = err(
        &user(),
        &barbara(),
        json!([{"op": "replace", "path": "emails[type eq \"other\"]", "value": {"value": "a@b.c"}}]),
    );
    assert_eq!(e.scim_type, "noTarget");
    let e = err(
        &user(),
        &barbara(),
        json!([{"op": "remove", "path": "emails[type eq \"other\"]"}]),
    );
    assert_eq!(e.scim_type, "noTarget");
    let e = err(
        &user(),
        &barbara(),
        json!([{"op": "remove", "path": "emails[type eq \"work\" or type eq \"home\"]"}, {"op": "remove", "path": "emails[type eq \"work\"].value"}]),
    );
    assert_eq!(e.scim_type, "noTarget");
}

#[test]
fn remove_filtered_elements() {
    let doc = ok(
        &user(),
        &barbara(),
        json!([{"op": "remove", "path": "emails[type eq \"work\"]"}]),
    );
    assert_eq!(
        doc["emails"],
        json!([{"value": "babs@jensen.org", "type": "home"}])
    );
    let doc = ok(
        &user(),
        &doc,
        json!([{"op": "remove", "path": "emails[value co \"jensen\"]"}]),
    );
    assert!(doc.get("emails").is_none());
}

#[test]
fn remove_filtered_sub_attribute() {
    let doc = ok(
        &user(),
        &barbara(),
        json!([{"op": "remove", "path": "emails[type eq \"work\"].primary"}]),
    );
    assert_eq!(
        doc["emails"][0],
        json!({"value": "bjensen@example.com", "type": "work"})
    );
}

#[test]
fn sub_attribute_of_multi_valued_without_filter_applies_to_all() {
    let doc = ok(
        &user(),
        &barbara(),
        json!([{"op": "remove", "path": "emails.type"}]),
    );
    assert_eq!(
        doc["emails"],
        json!([{"value": "bjensen@example.com", "primary": true}, {"value": "babs@jensen.org"}])
    );
}

#[test]
fn remove_whole_attribute_and_absent_attribute() {
    let doc = ok(
        &user(),
        &barbara(),
        json!([
            {"op": "remove", "path": "emails"},
            {"op": "remove", "path": "emails"},
            {"op": "remove", "path": "externalId"},
            {"op": "remove", "path": "name.formatted"}
        ]),
    );
    assert!(doc.get("emails").is_none());
    assert_eq!(doc["name"], barbara()["name"]);
}

#[test]
fn filter_on_single_valued_or_unknown_sub_attribute_is_invalid_path() {
    for path in [
        "name[givenName eq \"x\"]",
        "emails[kind eq \"work\"].value",
        "emails[type eq \"work\"].nope",
        "name.nope",
        "emails.value[type eq \"work\"]",
    ] {
        let e = err(
            &user(),
            &barbara(),
            json!([{"op": "replace", "path": path, "value": "x"}]),
        );
        assert_eq!(e.scim_type, "invalidPath", "{path}: {e:?}");
    }
}

#[test]
fn unknown_attribute_path_is_invalid_path() {
    for path in [
        "nickName",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenterX",
        "urn:example:nope:thing",
        "schemas",
    ] {
        for op in ["add", "replace", "remove"] {
            let e = err(
                &user(),
                &barbara(),
                json!([{"op": op, "path": path, "value": "x"}]),
            );
            assert_eq!(e.scim_type, "invalidPath", "{op} {path}: {e:?}");
        }
    }
}

// ---- primary ----

#[test]
fn new_primary_clears_the_others() {
    let doc = ok(
        &user(),
        &barbara(),
        json!([{"op": "add", "path": "emails", "value": [{"value": "n@x.y", "primary": true}]}]),
    );
    assert_eq!(
        doc["emails"],
        json!([
            {"value": "bjensen@example.com", "type": "work"},
            {"value": "babs@jensen.org", "type": "home"},
            {"value": "n@x.y", "primary": true}
        ])
    );
    let doc = ok(
        &user(),
        &barbara(),
        json!([{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": "True"}]),
    );
    assert_eq!(
        doc["emails"],
        json!([
            {"value": "bjensen@example.com", "type": "work"},
            {"value": "babs@jensen.org", "type": "home", "primary": true}
        ])
    );
}

#[test]
fn two_new_primaries_are_invalid() {
    let e = err(
        &user(),
        &barbara(),
        json!([{"op": "replace", "path": "emails", "value": [
            {"value": "a@x.y", "primary": true}, {"value": "b@x.y", "primary": true}
        ]}]),
    );
    assert_eq!(e.scim_type, "invalidValue");
    let e = err(
        &user(),
        &barbara(),
        json!([{"op": "replace", "path": "emails.primary", "value": true}]),
    );
    assert_eq!(e.scim_type, "invalidValue");
}

// ---- path-less ----

#[test]
fn entra_pathless_replace_active() {
    let doc = ok(
        &user(),
        &barbara(),
        json!([{"op": "Replace", "value": {"active": false}}]),
    );
    assert_eq!(doc["active"], false);
    let doc = ok(
        &user(),
        &barbara(),
        json!([{"op": "Replace", "value": {"active": "False"}}]),
    );
    assert_eq!(doc["active"], false);
}

#[test]
fn okta_pathless_replace_ignores_read_only_and_unknown() {
    let doc = ok(
        &user(),
        &barbara(),
        json!([{"op": "replace", "value": {
            "id": "2819c223-7f76-453a-919d-413861904646",
            "meta": {"resourceType": "User"},
            "schemas": [USER],
            "groups": [{"value": "g2"}],
            "favouriteColour": "green",
            "active": false
        }}]),
    );
    let mut want = barbara();
    want["active"] = json!(false);
    assert_eq!(doc, want);
}

#[test]
fn pathless_add_merges_every_kind_of_attribute() {
    let doc = ok(
        &user(),
        &barbara(),
        json!([{"op": "add", "value": {
            "NAME": {"formatted": "Barbara Jensen"},
            "emails": [{"value": "n@x.y", "type": "other"}],
            "urn:ietf:params:scim:schemas:core:2.0:User:displayName": "BJ",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "701984",
            ENTERPRISE_USER: {"Department": "Sales", "unknown": 1},
            "externalId": "e1"
        }}]),
    );
    assert_eq!(
        doc["name"],
        json!({"givenName": "Barbara", "familyName": "Jensen", "formatted": "Barbara Jensen"})
    );
    assert_eq!(doc["emails"].as_array().unwrap().len(), 3);
    assert_eq!(doc["displayName"], "BJ");
    assert_eq!(doc["externalId"], "e1");
    assert_eq!(
        doc[ENTERPRISE_USER],
        json!({
            "employeeNumber": "701984",
            "department": "Sales",
            "manager": {"value": "m1", "displayName": "John Smith"}
        })
    );
}

#[test]
fn pathless_core_urn_object() {
    let doc = ok(
        &user(),
        &barbara(),
        json!([{"op": "replace", "value": {USER: {"displayName": "Core"}}}]),
    );
    assert_eq!(doc["displayName"], "Core");
}

#[test]
fn pathless_replace_replaces_multi_valued_and_merges_complex() {
    let doc = ok(
        &user(),
        &barbara(),
        json!([{"op": "replace", "value": {
            "emails": [{"value": "only@x.y"}],
            "name": {"givenName": "B"}
        }}]),
    );
    assert_eq!(doc["emails"], json!([{"value": "only@x.y"}]));
    assert_eq!(
        doc["name"],
        json!({"givenName": "B", "familyName": "Jensen"})
    );
}

#[test]
fn pathless_value_must_be_an_object() {
    for v in [json!("x"), json!([{"active": false}]), Value::Null] {
        let e = err(&user(), &barbara(), json!([{"op": "replace", "value": v}]));
        assert_eq!(e.scim_type, "invalidValue", "{e:?}");
    }
}

// ---- mutability and required ----

#[test]
fn read_only_targets_are_mutability_errors() {
    for (op, path) in [
        ("replace", "id"),
        ("remove", "id"),
        ("add", "meta"),
        ("replace", "meta.resourceType"),
        ("add", "groups"),
        ("remove", "groups[value eq \"g1\"]"),
        (
            "replace",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName",
        ),
    ] {
        let e = err(
            &user(),
            &barbara(),
            json!([{"op": op, "path": path, "value": "x"}]),
        );
        assert_eq!(e.scim_type, "mutability", "{op} {path}: {e:?}");
    }
}

#[test]
fn immutable_attribute_can_be_set_once() {
    let rt = ResourceType {
        name: "Thing",
        endpoint: "/Things",
        core: schema(
            "urn:example:Thing",
            "Thing",
            vec![with(Mutability::Immutable, string("serial"))],
        ),
        extensions: vec![],
    };
    let doc = ok(
        &rt,
        &json!({}),
        json!([{"op": "add", "path": "serial", "value": "s1"}]),
    );
    assert_eq!(doc["serial"], "s1");
    // The same value again is no change.
    ok(
        &rt,
        &doc,
        json!([{"op": "replace", "path": "serial", "value": "s1"}]),
    );
    for op in [
        json!({"op": "replace", "path": "serial", "value": "s2"}),
        json!({"op": "remove", "path": "serial"}),
        json!({"op": "replace", "value": {"serial": "s3"}}),
    ] {
        assert_eq!(err(&rt, &doc, json!([op])).scim_type, "mutability");
    }
}

#[test]
fn immutable_sub_attribute_of_existing_element() {
    let doc = json!({"displayName": "G", "members": [{"value": "u1", "type": "User"}]});
    let e = err(
        &group(),
        &doc,
        json!([{"op": "replace", "path": "members[value eq \"u1\"].value", "value": "u2"}]),
    );
    assert_eq!(e.scim_type, "mutability");
    let e = err(
        &group(),
        &doc,
        json!([{"op": "add", "path": "members[value eq \"u1\"]", "value": {"type": "Group"}}]),
    );
    assert_eq!(e.scim_type, "mutability");
    // Unset immutable sub-attributes may be set.
    let doc = ok(
        &group(),
        &doc,
        json!([{"op": "add", "path": "members[value eq \"u1\"].$ref", "value": "https://x/Users/u1"}]),
    );
    assert_eq!(doc["members"][0]["$ref"], "https://x/Users/u1");
}

#[test]
fn removing_required_attribute_is_invalid_value() {
    for ops in [
        json!([{"op": "remove", "path": "userName"}]),
        json!([{"op": "replace", "path": "userName", "value": ""}]),
        json!([{"op": "replace", "value": {"userName": null}}]),
    ] {
        let e = err(&user(), &barbara(), ops);
        assert_eq!(e.scim_type, "invalidValue", "{e:?}");
        assert!(e.detail.contains("userName"));
    }
    let e = err(
        &group(),
        &json!({"displayName": "G"}),
        json!([{"op": "remove", "path": "displayName"}]),
    );
    assert_eq!(e.scim_type, "invalidValue");
    // Removed and set again within one request is fine.
    let doc = ok(
        &user(),
        &barbara(),
        json!([
            {"op": "remove", "path": "userName"},
            {"op": "add", "path": "userName", "value": "bj"}
        ]),
    );
    assert_eq!(doc["userName"], "bj");
}

// ---- extensions ----

#[test]
fn entra_manager_as_bare_string() {
    let doc = ok(
        &user(),
        &barbara(),
        json!([{"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "id-of-mgr"}]),
    );
    // A different manager: the stale readOnly displayName goes too.
    assert_eq!(
        doc[ENTERPRISE_USER]["manager"],
        json!({"value": "id-of-mgr"})
    );
    let mut no_ext = barbara();
    no_ext.as_object_mut().unwrap().remove(ENTERPRISE_USER);
    let doc = ok(
        &user(),
        &no_ext,
        json!([{"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "id-of-mgr"}]),
    );
    assert_eq!(
        doc[ENTERPRISE_USER],
        json!({"manager": {"value": "id-of-mgr"}})
    );
}

#[test]
fn same_manager_keeps_display_name() {
    let doc = ok(
        &user(),
        &barbara(),
        json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": {"value": "m1"}}]),
    );
    assert_eq!(doc, barbara());
}

#[test]
fn extension_attribute_paths() {
    let doc = ok(
        &user(),
        &barbara(),
        json!([
            {"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Sales"},
            {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", "value": "m2"}
        ]),
    );
    assert_eq!(
        doc[ENTERPRISE_USER],
        json!({"department": "Sales", "manager": {"value": "m2"}})
    );
    // Removing the last extension attribute removes the extension object.
    let doc = ok(
        &user(),
        &barbara(),
        json!([
            {"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"},
            {"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}
        ]),
    );
    assert!(doc.get(ENTERPRISE_USER).is_none(), "{doc}");
}

#[test]
fn extension_urn_path_merges_and_removes() {
    let doc = ok(
        &user(),
        &barbara(),
        json!([{"op": "add", "path": ENTERPRISE_USER, "value": {"employeeNumber": "7", "manager": {"displayName": "ignored"}}}]),
    );
    assert_eq!(
        doc[ENTERPRISE_USER],
        json!({
            "employeeNumber": "7",
            "department": "Tour Operations",
            "manager": {"value": "m1", "displayName": "John Smith"}
        })
    );
    let doc = ok(
        &user(),
        &barbara(),
        json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user", "value": {"department": "Sales"}}]),
    );
    assert_eq!(doc[ENTERPRISE_USER]["department"], "Sales");
    let doc = ok(
        &user(),
        &barbara(),
        json!([{"op": "remove", "path": ENTERPRISE_USER}]),
    );
    assert!(doc.get(ENTERPRISE_USER).is_none());
    let e = err(
        &user(),
        &barbara(),
        json!([{"op": "add", "path": ENTERPRISE_USER, "value": "x"}]),
    );
    assert_eq!(e.scim_type, "invalidValue");
}

// ---- groups ----

#[test]
fn entra_group_member_add_and_remove() {
    let doc = json!({"displayName": "G", "members": [{"value": "u1", "display": "User One"}]});
    let doc = ok(
        &group(),
        &doc,
        json!([{"op": "Add", "path": "members", "value": [{"value": "u2"}, {"value": "u1"}]}]),
    );
    assert_eq!(
        doc["members"],
        json!([{"value": "u1", "display": "User One"}, {"value": "u2"}])
    );
    let doc = ok(
        &group(),
        &doc,
        json!([{"op": "Remove", "path": "members", "value": [{"value": "u1"}, {"value": "not-a-member"}]}]),
    );
    assert_eq!(doc["members"], json!([{"value": "u2"}]));
    let doc = ok(
        &group(),
        &doc,
        json!([{"op": "remove", "path": "members[value eq \"u2\"]"}]),
    );
    assert!(doc.get("members").is_none());
}

#[test]
fn member_values_are_case_exact() {
    let doc = json!({"displayName": "G", "members": [{"value": "U1"}]});
    let e = err(
        &group(),
        &doc,
        json!([{"op": "remove", "path": "members[value eq \"u1\"]"}]),
    );
    assert_eq!(e.scim_type, "noTarget");
    let doc = ok(
        &group(),
        &doc,
        json!([{"op": "add", "path": "members", "value": [{"value": "u1"}]}]),
    );
    assert_eq!(doc["members"].as_array().unwrap().len(), 2);
}

#[test]
fn okta_group_pathless_replace() {
    let doc = ok(
        &group(),
        &json!({"displayName": "G"}),
        json!([{"op": "replace", "value": {"id": "abf4dd94-a4c0-4f67-89c9-76b03340cb9b", "displayName": "Renamed"}}]),
    );
    assert_eq!(doc, json!({"displayName": "Renamed"}));
}

#[test]
fn entra_user_update_sequence() {
    let doc = run(&user(), &barbara(), &json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "Replace", "path": "displayName", "value": "Barbara J"},
            {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "barbara@example.com"},
            {"op": "Replace", "path": "name.givenName", "value": "Barb"},
            {"op": "Add", "path": "externalId", "value": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"},
            {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Finance"},
            {"op": "Replace", "path": "active", "value": "False"}
        ]
    }))
    .unwrap();
    assert_eq!(
        doc,
        json!({
            "userName": "bjensen",
            "name": {"givenName": "Barb", "familyName": "Jensen"},
            "displayName": "Barbara J",
            "active": false,
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "emails": [
                {"value": "barbara@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "groups": [{"value": "g1", "display": "Staff"}],
            ENTERPRISE_USER: {
                "department": "Finance",
                "manager": {"value": "m1", "displayName": "John Smith"}
            }
        })
    );
}

// ---- the schemas Plinto serves ----

#[test]
fn served_user_schema_entra_payloads() {
    let rt = schema::users();
    let doc = json!({"userName": "bjensen", "active": true});
    let doc = ok(
        rt,
        &doc,
        json!([
            {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "a@b.c"},
            {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0100"},
            {"op": "Add", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Main St"},
            {"op": "Replace", "path": "addresses[type eq \"work\"].locality", "value": "Springfield"},
            {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "id-of-mgr"},
            {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "42"},
            {"op": "Replace", "path": "active", "value": "False"},
            {"op": "Replace", "path": "name.middleName", "value": "Q"}
        ]),
    );
    assert_eq!(
        doc,
        json!({
            "userName": "bjensen",
            "active": false,
            "name": {"middleName": "Q"},
            "emails": [{"type": "work", "value": "a@b.c"}],
            "phoneNumbers": [{"type": "mobile", "value": "+1 555 0100"}],
            "addresses": [{"type": "work", "streetAddress": "1 Main St", "locality": "Springfield"}],
            ENTERPRISE_USER: {"manager": {"value": "id-of-mgr"}, "employeeNumber": "42"}
        })
    );
}

#[test]
fn served_user_schema_errors() {
    let rt = schema::users();
    let doc = json!({"userName": "bjensen", "groups": [{"value": "g1"}]});
    for (op, want) in [
        (json!({"op": "remove", "path": "userName"}), "invalidValue"),
        (
            json!({"op": "add", "path": "groups", "value": [{"value": "g2"}]}),
            "mutability",
        ),
        (
            json!({"op": "replace", "path": "meta.lastModified", "value": "2020-01-01T00:00:00Z"}),
            "mutability",
        ),
        (
            json!({"op": "replace", "path": "id", "value": "x"}),
            "mutability",
        ),
        (
            json!({"op": "replace", "path": "nickname", "value": 3}),
            "invalidValue",
        ),
        (
            json!({"op": "replace", "path": "favouriteColour", "value": "green"}),
            "invalidPath",
        ),
        (
            json!({"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName", "value": "x"}),
            "mutability",
        ),
        (
            json!({"op": "remove", "path": "emails[type eq \"work\"]"}),
            "noTarget",
        ),
    ] {
        let e = err(rt, &doc, json!([op]));
        assert_eq!(e.scim_type, want, "{op}: {e:?}");
    }
}

#[test]
fn served_user_schema_okta_pathless() {
    let rt = schema::users();
    let doc = ok(
        rt,
        &json!({"userName": "bjensen", "active": true}),
        json!([{"op": "replace", "value": {
            "id": "2819c223-7f76-453a-919d-413861904646",
            "active": false,
            "NickName": "Babs",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Sales"
        }}]),
    );
    assert_eq!(
        doc,
        json!({"userName": "bjensen", "active": false, "nickName": "Babs", ENTERPRISE_USER: {"department": "Sales"}})
    );
}

#[test]
fn served_group_schema_member_type_is_canonical() {
    let rt = schema::groups();
    let doc = json!({"displayName": "G", "members": [{"value": "u1"}]});
    let doc2 = ok(
        rt,
        &doc,
        json!([{"op": "add", "path": "members[value eq \"u1\"].type", "value": "user"}]),
    );
    assert_eq!(doc2["members"], json!([{"value": "u1", "type": "User"}]));
    let e = err(
        rt,
        &doc,
        json!([{"op": "add", "path": "members[value eq \"u1\"].type", "value": "robot"}]),
    );
    assert_eq!(e.scim_type, "invalidValue");
    let doc3 = ok(
        rt,
        &doc,
        json!([{"op": "replace", "value": {"displayName": "H", "externalId": "e"}}]),
    );
    assert_eq!(
        doc3,
        json!({"displayName": "H", "externalId": "e", "members": [{"value": "u1"}]})
    );
}

#[test]
fn unassigned_sub_attributes_in_a_complex_value_are_cleared() {
    let doc = ok(
        &user(),
        &barbara(),
        json!([{"op": "replace", "path": "name", "value": {"givenName": null, "formatted": "B J"}}]),
    );
    assert_eq!(
        doc["name"],
        json!({"familyName": "Jensen", "formatted": "B J"})
    );
    // Clearing the manager's value drops its derived displayName too: no manager left.
    let doc = ok(
        &user(),
        &barbara(),
        json!([{"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": {"value": ""}}]),
    );
    assert_eq!(
        doc[ENTERPRISE_USER],
        json!({"department": "Tour Operations"})
    );
    let doc = ok(
        &user(),
        &barbara(),
        json!([{"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"}]),
    );
    assert_eq!(
        doc[ENTERPRISE_USER],
        json!({"department": "Tour Operations"})
    );
}

#[test]
fn remove_with_empty_value_list_removes_nothing() {
    let doc = json!({"displayName": "G", "members": [{"value": "u1"}]});
    let doc2 = ok(
        &group(),
        &doc,
        json!([{"op": "remove", "path": "members", "value": []}]),
    );
    assert_eq!(doc2, doc);
}
