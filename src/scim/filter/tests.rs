//! Unit tests of the filter and path parser and of [`matches`](super::matches).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use serde_json::json;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

fn p(attr: &str) -> AttrPath {
    AttrPath {
        schema: None,
        attr: attr.to_owned(),
        sub: None,
    }
}

fn ps(attr: &str, sub: &str) -> AttrPath {
    AttrPath {
        schema: None,
        attr: attr.to_owned(),
        sub: Some(sub.to_owned()),
    }
}

fn cmp(path: AttrPath, op: CompareOp, value: Literal) -> Filter {
    Filter::Compare { path, op, value }
}

fn s(v: &str) -> Literal {
    Literal::String(v.to_owned())
}

fn n(v: i64) -> Literal {
    Literal::Number(Number::from(v))
}

fn and(a: Filter, b: Filter) -> Filter {
    Filter::And(Box::new(a), Box::new(b))
}

fn or(a: Filter, b: Filter) -> Filter {
    Filter::Or(Box::new(a), Box::new(b))
}

fn not(a: Filter) -> Filter {
    Filter::Not(Box::new(a))
}

fn parse(input: &str) -> Filter {
    parse_filter(input).unwrap_or_else(|e| panic!("{input:?} should parse: {e}"))
}

fn parse_err(input: &str) -> String {
    match parse_filter(input) {
        Ok(f) => panic!("{input:?} should not parse, got {f:?}"),
        Err(e) => e.0,
    }
}

fn insensitive(_: &AttrPath) -> bool {
    false
}

fn exact(_: &AttrPath) -> bool {
    true
}

/// Parses `filter` and evaluates it against `value`, case-insensitively.
fn m(filter: &str, value: &Value) -> bool {
    matches(&parse(filter), value, &insensitive)
}

fn user() -> Value {
    json!({
        "schemas": [CORE_USER, ENTERPRISE],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "userName": "Bjensen",
        "name": {"familyName": "Jensen", "givenName": "Barbara"},
        "displayName": "Babs Jensen",
        "nickName": "",
        "title": null,
        "active": true,
        "loginCount": 42,
        "score": 2.5,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "phoneNumbers": [],
        "x509Certificates": {},
        "roles": ["admin", "Auditor"],
        "meta": {"lastModified": "2011-05-13T04:42:34Z", "resourceType": "User"},
        ENTERPRISE: {
            "employeeNumber": "701984",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
        }
    })
}

// ---- parsing: operators ------------------------------------------------------------------

#[test]
fn parses_every_comparison_operator() {
    for (word, op) in [
        ("eq", CompareOp::Eq),
        ("ne", CompareOp::Ne),
        ("co", CompareOp::Co),
        ("sw", CompareOp::Sw),
        ("ew", CompareOp::Ew),
        ("gt", CompareOp::Gt),
        ("ge", CompareOp::Ge),
        ("lt", CompareOp::Lt),
        ("le", CompareOp::Le),
    ] {
        let expected = cmp(p("userName"), op, s("x"));
        assert_eq!(parse(&format!("userName {word} \"x\"")), expected);
        assert_eq!(
            parse(&format!("userName {} \"x\"", word.to_uppercase())),
            expected
        );
        let mixed: String = word
            .chars()
            .enumerate()
            .map(|(i, c)| if i == 0 { c.to_ascii_uppercase() } else { c })
            .collect();
        assert_eq!(parse(&format!("userName {mixed} \"x\"")), expected);
    }
}

#[test]
fn parses_present() {
    assert_eq!(parse("title pr"), Filter::Present(p("title")));
    assert_eq!(parse("title PR"), Filter::Present(p("title")));
    assert_eq!(
        parse("name.familyName Pr"),
        Filter::Present(ps("name", "familyName"))
    );
}

#[test]
fn parses_literals() {
    assert_eq!(
        parse("active eq true"),
        cmp(p("active"), CompareOp::Eq, Literal::Bool(true))
    );
    assert_eq!(
        parse("active eq FALSE"),
        cmp(p("active"), CompareOp::Eq, Literal::Bool(false))
    );
    assert_eq!(
        parse("title eq null"),
        cmp(p("title"), CompareOp::Eq, Literal::Null)
    );
    assert_eq!(
        parse("title ne Null"),
        cmp(p("title"), CompareOp::Ne, Literal::Null)
    );
    assert_eq!(parse("count gt 5"), cmp(p("count"), CompareOp::Gt, n(5)));
    assert_eq!(parse("count gt -5"), cmp(p("count"), CompareOp::Gt, n(-5)));
    assert_eq!(
        parse("count le 2.5"),
        cmp(
            p("count"),
            CompareOp::Le,
            Literal::Number(Number::from_f64(2.5).unwrap())
        )
    );
    assert_eq!(
        parse("count le 1e3"),
        cmp(
            p("count"),
            CompareOp::Le,
            Literal::Number(Number::from_f64(1000.0).unwrap())
        )
    );
    assert_eq!(
        parse("count eq 18446744073709551615"),
        cmp(
            p("count"),
            CompareOp::Eq,
            Literal::Number(Number::from(u64::MAX))
        )
    );
    assert_eq!(parse("count ne 0"), cmp(p("count"), CompareOp::Ne, n(0)));
}

#[test]
fn parses_string_escapes() {
    assert_eq!(
        parse(r#"displayName eq "a \"quoted\" \\ name\/\b\f\n\r\t""#),
        cmp(
            p("displayName"),
            CompareOp::Eq,
            s("a \"quoted\" \\ name/\u{8}\u{c}\n\r\t")
        )
    );
    assert_eq!(
        parse(r#"displayName eq "caf\u00e9 \ud83d\ude00""#),
        cmp(p("displayName"), CompareOp::Eq, s("café 😀"))
    );
    assert_eq!(
        parse("displayName eq \"Zoë 日本 (x) [y] and or\""),
        cmp(
            p("displayName"),
            CompareOp::Eq,
            s("Zoë 日本 (x) [y] and or")
        )
    );
    assert_eq!(
        parse(r#"displayName eq """#),
        cmp(p("displayName"), CompareOp::Eq, s(""))
    );
}

#[test]
fn rejects_bad_strings_and_numbers() {
    for bad in [
        r#"userName eq "\x""#,
        r#"userName eq "\u12""#,
        r#"userName eq "\ud800""#,
        "userName eq \"tab\there\"",
        "userName eq \"x\\\"",
        "count eq 01",
        "count eq 1.",
        "count eq -",
        "count eq 1e999",
        "count eq 12abc",
        "count eq +1",
        "count eq .5",
        "count eq NaN",
    ] {
        parse_err(bad);
    }
}

// ---- parsing: logic ----------------------------------------------------------------------

#[test]
fn precedence_and_binds_tighter_than_or() {
    let a = cmp(p("a"), CompareOp::Eq, n(1));
    let b = cmp(p("b"), CompareOp::Eq, n(2));
    let c = cmp(p("c"), CompareOp::Eq, n(3));
    assert_eq!(
        parse("a eq 1 or b eq 2 and c eq 3"),
        or(a.clone(), and(b.clone(), c.clone()))
    );
    assert_eq!(
        parse("a eq 1 and b eq 2 or c eq 3"),
        or(and(a.clone(), b.clone()), c.clone())
    );
    assert_eq!(
        parse("(a eq 1 or b eq 2) and c eq 3"),
        and(or(a.clone(), b.clone()), c.clone())
    );
    // Left-associative chains.
    assert_eq!(
        parse("a eq 1 or b eq 2 or c eq 3"),
        or(or(a.clone(), b.clone()), c.clone())
    );
    assert_eq!(
        parse("a eq 1 AND b eq 2 And c eq 3"),
        and(and(a.clone(), b.clone()), c.clone())
    );
    // `not` binds tighter than `and`.
    assert_eq!(
        parse("not (a eq 1) and b eq 2"),
        and(not(a.clone()), b.clone())
    );
    assert_eq!(parse("a eq 1 OR NOT (b eq 2)"), or(a, not(b)));
}

#[test]
fn parses_parentheses_and_not() {
    let a = cmp(p("a"), CompareOp::Eq, n(1));
    assert_eq!(parse("(a eq 1)"), a);
    assert_eq!(parse("((((a eq 1))))"), a);
    assert_eq!(parse("not (a eq 1)"), not(a.clone()));
    assert_eq!(parse("not(a eq 1)"), not(a.clone()));
    assert_eq!(parse("NOT   (  a eq 1  )"), not(a.clone()));
    assert_eq!(parse("not (not (a eq 1))"), not(not(a.clone())));
    assert_eq!(
        parse(
            "userType eq \"Employee\" and (emails co \"example.com\" or emails.value co \"example.org\")"
        ),
        and(
            cmp(p("userType"), CompareOp::Eq, s("Employee")),
            or(
                cmp(p("emails"), CompareOp::Co, s("example.com")),
                cmp(ps("emails", "value"), CompareOp::Co, s("example.org"))
            )
        )
    );
}

#[test]
fn tolerates_extra_whitespace() {
    let expected = and(
        cmp(p("userName"), CompareOp::Eq, s("x")),
        Filter::Present(p("title")),
    );
    assert_eq!(parse("userName eq \"x\" and title pr"), expected);
    assert_eq!(
        parse("  userName   eq    \"x\"   and\ttitle  pr  "),
        expected
    );
    assert_eq!(parse("userName eq\"x\"and title pr"), expected);
}

// ---- parsing: attribute paths ------------------------------------------------------------

#[test]
fn parses_attribute_names() {
    assert_eq!(parse("user-name_2 pr"), Filter::Present(p("user-name_2")));
    assert_eq!(
        parse("members.$ref pr"),
        Filter::Present(ps("members", "$ref"))
    );
    assert_eq!(parse("$ref pr"), Filter::Present(p("$ref")));
    parse_err("2fa pr");
    parse_err("_x pr");
    parse_err("a.b.c pr");
    parse_err("a. pr");
    parse_err(".a pr");
    parse_err("na$me pr");
    parse_err("nàme pr");
}

#[test]
fn parses_urn_paths() {
    assert_eq!(
        parse(&format!("{ENTERPRISE}:employeeNumber eq \"701984\"")),
        cmp(
            AttrPath {
                schema: Some(ENTERPRISE.to_owned()),
                attr: "employeeNumber".to_owned(),
                sub: None
            },
            CompareOp::Eq,
            s("701984")
        )
    );
    assert_eq!(
        parse(&format!("{CORE_USER}:name.givenName sw \"B\"")),
        cmp(
            AttrPath {
                schema: Some(CORE_USER.to_owned()),
                attr: "name".to_owned(),
                sub: Some("givenName".to_owned())
            },
            CompareOp::Sw,
            s("B")
        )
    );
    assert_eq!(
        parse(&format!("{ENTERPRISE}:manager.value pr")),
        Filter::Present(AttrPath {
            schema: Some(ENTERPRISE.to_owned()),
            attr: "manager".to_owned(),
            sub: Some("value".to_owned())
        })
    );
    parse_err(":userName pr");
    parse_err("urn:x: pr");
    parse_err("1urn:x:userName pr");
}

// ---- parsing: value paths ----------------------------------------------------------------

#[test]
fn parses_value_paths() {
    assert_eq!(
        parse("emails[type eq \"work\"]"),
        Filter::ValuePath {
            attr: p("emails"),
            filter: Box::new(cmp(p("type"), CompareOp::Eq, s("work")))
        }
    );
    assert_eq!(
        parse(
            "emails[type eq \"work\" and value co \"@example.com\"] or ims[type eq \"xmpp\" and value co \"@foo.com\"]"
        ),
        or(
            Filter::ValuePath {
                attr: p("emails"),
                filter: Box::new(and(
                    cmp(p("type"), CompareOp::Eq, s("work")),
                    cmp(p("value"), CompareOp::Co, s("@example.com"))
                ))
            },
            Filter::ValuePath {
                attr: p("ims"),
                filter: Box::new(and(
                    cmp(p("type"), CompareOp::Eq, s("xmpp")),
                    cmp(p("value"), CompareOp::Co, s("@foo.com"))
                ))
            }
        )
    );
    assert_eq!(
        parse("addresses[not (primary eq true) or (type eq \"home\")]"),
        Filter::ValuePath {
            attr: p("addresses"),
            filter: Box::new(or(
                not(cmp(p("primary"), CompareOp::Eq, Literal::Bool(true))),
                cmp(p("type"), CompareOp::Eq, s("home"))
            ))
        }
    );
    assert_eq!(
        parse(&format!("{CORE_USER}:emails[primary eq true]")),
        Filter::ValuePath {
            attr: AttrPath {
                schema: Some(CORE_USER.to_owned()),
                attr: "emails".to_owned(),
                sub: None
            },
            filter: Box::new(cmp(p("primary"), CompareOp::Eq, Literal::Bool(true)))
        }
    );
}

#[test]
fn desugars_value_path_with_sub_attribute() {
    assert_eq!(
        parse("emails[type eq \"work\"].value eq \"x\""),
        Filter::ValuePath {
            attr: p("emails"),
            filter: Box::new(and(
                cmp(p("type"), CompareOp::Eq, s("work")),
                cmp(p("value"), CompareOp::Eq, s("x"))
            ))
        }
    );
    assert_eq!(
        parse("emails[type eq \"work\"].value pr and userName pr"),
        and(
            Filter::ValuePath {
                attr: p("emails"),
                filter: Box::new(and(
                    cmp(p("type"), CompareOp::Eq, s("work")),
                    Filter::Present(p("value"))
                ))
            },
            Filter::Present(p("userName"))
        )
    );
    parse_err("emails[type eq \"work\"].value");
    parse_err("emails[type eq \"work\"].value.x eq \"y\"");
    parse_err("emails[type eq \"work\"].9 eq \"y\"");
    parse_err("emails[type eq \"work\"]. eq \"y\"");
}

// ---- parsing: errors ---------------------------------------------------------------------

#[test]
fn rejects_bad_filters() {
    let deep_parens = format!("{}userName pr{}", "(".repeat(100), ")".repeat(100));
    let deep_not = format!("{}userName pr{}", "not (".repeat(100), ")".repeat(100));
    let long = format!("userName eq \"{}\"", "x".repeat(5000));
    for bad in [
        "",
        "   ",
        "userName",
        "userName eq",
        "userName eq \"x",
        "userName eq x",
        "userName eq bjensen",
        "(userName eq \"x\"",
        "userName eq \"x\")",
        "emails[type eq \"work\"",
        "emails[type eq \"work\")",
        "emails(type eq \"work\"]",
        "emails[type[value eq \"x\"] eq \"y\"]",
        "emails[emails[type eq \"x\"]]",
        "emails[]",
        "name.familyName[value eq \"x\"]",
        "not userName eq \"x\"",
        "not",
        "not ()",
        "()",
        "userName gt true",
        "userName ge false",
        "userName lt null",
        "userName le null",
        "userName co 3",
        "userName sw true",
        "userName ew null",
        "userNameeq \"x\"",
        "userName eq \"x\" and",
        "userName eq \"x\" or",
        "and userName eq \"x\"",
        "userName eq \"x\" userName eq \"y\"",
        "userName eq \"x\" \"y\"",
        "userName pr \"x\"",
        "userName xx \"x\"",
        "userName eq \"x\" an title pr",
        "\"userName\" eq \"x\"",
        "userName eq (\"x\")",
        "userName eq ]",
        "]",
        ")",
        "[",
        "userName eq \"x\"]",
        "userName  eq \"x\" ) (",
        "eq \"x\"",
        &deep_parens,
        &deep_not,
        &long,
    ] {
        parse_err(bad);
    }
}

#[test]
fn error_messages_are_helpful() {
    assert_eq!(
        parse_err("userName"),
        "expected an operator after 'userName' at position 9"
    );
    assert_eq!(
        parse_err("userNameeq \"x\""),
        "expected an operator after 'userNameeq' at position 12"
    );
    assert!(parse_err("userName eq").contains("expected a value after 'eq'"));
    assert!(parse_err("userName eq \"x").contains("unterminated string"));
    assert!(parse_err("not userName eq \"x\"").contains("expected '(' after 'not'"));
    assert!(parse_err("userName gt true").contains("'gt' cannot be used with true"));
    assert!(parse_err("userName co 3").contains("'co' cannot be used with a number"));
    assert!(parse_err("emails[type[value eq \"x\"] eq \"y\"]").contains("nested"));
    assert!(parse_err("userName eq \"x\")").contains("unexpected ')'"));
    assert!(parse_err("(userName eq \"x\"").contains("expected ')'"));
    let deep = format!("{}a pr{}", "(".repeat(40), ")".repeat(40));
    assert!(parse_err(&deep).contains("nested too deeply"));
    assert!(parse_err(&"x".repeat(5000)).contains("too long"));
    // Long or odd input is quoted back short and escaped.
    let message = parse_err(&format!("{}\u{7} eq", "a".repeat(100)));
    assert!(message.len() < 150, "{message}");
    let message = parse_err("us\u{1b}er eq \"x\"");
    assert!(!message.contains('\u{1b}'), "{message}");
    // Positions count characters, not bytes.
    assert_eq!(
        parse_err("title eq \"é\" é"),
        "expected 'and' or 'or' at position 14, found 'é'"
    );
}

#[test]
fn nesting_up_to_the_limit_is_accepted() {
    let ok = format!("{}a pr{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert_eq!(parse(&ok), Filter::Present(p("a")));
    let too_deep = format!(
        "{}a pr{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    parse_err(&too_deep);
    // Sequential groups do not add up.
    let wide = vec!["((a pr))"; 100].join(" or ");
    parse(&wide);
    // Input right at the length limit is accepted.
    let at_limit = format!("a eq \"{}\"", "x".repeat(MAX_INPUT_LEN - 7));
    assert_eq!(at_limit.len(), MAX_INPUT_LEN);
    parse(&at_limit);
}

/// A tiny deterministic generator, so the fuzz-style tests need no extra crate.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next()).unwrap() % n
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Lcg(0x5c1f_f117);
    for _ in 0..3000 {
        let len = rng.below(64);
        let bytes: Vec<u8> = (0..len).map(|_| (rng.next() & 0xff) as u8).collect();
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse_filter(&text);
        let _ = parse_path(&text);
    }
}

#[test]
fn random_token_soup_never_panics() {
    const PIECES: [&str; 30] = [
        " ",
        "  ",
        "(",
        ")",
        "[",
        "]",
        "\"",
        "\"x\"",
        "\"\\u00e9\"",
        "\\",
        ".",
        ":",
        "eq",
        "pr",
        "and",
        "or",
        "not",
        "gt",
        "co",
        "true",
        "null",
        "12",
        "-1.5e3",
        "userName",
        "emails",
        "urn:a:b:",
        "é",
        "日本",
        "\u{0}",
        ".value",
    ];
    let mut rng = Lcg(42);
    let value = user();
    for _ in 0..5000 {
        let len = rng.below(14);
        let text: String = (0..len).map(|_| PIECES[rng.below(PIECES.len())]).collect();
        if let Ok(f) = parse_filter(&text) {
            let _ = matches(&f, &value, &insensitive);
        }
        let _ = parse_path(&text);
    }
}

#[test]
fn every_prefix_and_suffix_of_valid_filters_is_handled() {
    let valid = [
        "userName eq \"bjensen\"",
        "name.familyName co \"O'Malley\" and not (active eq false)",
        "emails[type eq \"work\" and value co \"@example.com\"].value pr or ims[type eq \"xmpp\"]",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber ge 7.5e1",
        "displayName eq \"Zoë \\u00e9 日本\" OR (meta.lastModified gt \"2011-05-13T04:42:34Z\")",
    ];
    let paths = [
        "emails[type eq \"work\"].value",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
        "members[value eq \"Zoë 日本\"]",
    ];
    for text in valid.iter().chain(paths.iter()) {
        for (i, _) in text.char_indices().chain([(text.len(), ' ')]) {
            let _ = parse_filter(&text[..i]);
            let _ = parse_filter(&text[i..]);
            let _ = parse_path(&text[..i]);
            let _ = parse_path(&text[i..]);
        }
    }
    for text in valid {
        parse(text);
    }
    for text in paths {
        parse_path(text).unwrap();
    }
}

// ---- PATCH paths -------------------------------------------------------------------------

#[test]
fn parses_patch_paths() {
    assert_eq!(
        parse_path("members[value eq \"2819c223\"]").unwrap(),
        PatchPath {
            attr: p("members"),
            filter: Some(cmp(p("value"), CompareOp::Eq, s("2819c223"))),
            sub: None
        }
    );
    assert_eq!(
        parse_path("emails[type eq \"work\"].value").unwrap(),
        PatchPath {
            attr: p("emails"),
            filter: Some(cmp(p("type"), CompareOp::Eq, s("work"))),
            sub: Some("value".to_owned())
        }
    );
    assert_eq!(
        parse_path("name.familyName").unwrap(),
        PatchPath {
            attr: ps("name", "familyName"),
            filter: None,
            sub: None
        }
    );
    assert_eq!(
        parse_path("userName").unwrap(),
        PatchPath {
            attr: p("userName"),
            filter: None,
            sub: None
        }
    );
    assert_eq!(
        parse_path(&format!("{ENTERPRISE}:manager")).unwrap(),
        PatchPath {
            attr: AttrPath {
                schema: Some(ENTERPRISE.to_owned()),
                attr: "manager".to_owned(),
                sub: None
            },
            filter: None,
            sub: None
        }
    );
    assert_eq!(
        parse_path(&format!("{ENTERPRISE}:manager.value")).unwrap(),
        PatchPath {
            attr: AttrPath {
                schema: Some(ENTERPRISE.to_owned()),
                attr: "manager".to_owned(),
                sub: Some("value".to_owned())
            },
            filter: None,
            sub: None
        }
    );
    // A bare extension URN: the schema layer resolves it.
    assert_eq!(
        parse_path(ENTERPRISE).unwrap(),
        PatchPath {
            attr: AttrPath {
                schema: Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0".to_owned()),
                attr: "User".to_owned(),
                sub: None
            },
            filter: None,
            sub: None
        }
    );
    assert_eq!(
        parse_path(&format!(
            "{CORE_USER}:addresses[type eq \"work\" and primary eq true].streetAddress"
        ))
        .unwrap(),
        PatchPath {
            attr: AttrPath {
                schema: Some(CORE_USER.to_owned()),
                attr: "addresses".to_owned(),
                sub: None
            },
            filter: Some(and(
                cmp(p("type"), CompareOp::Eq, s("work")),
                cmp(p("primary"), CompareOp::Eq, Literal::Bool(true))
            )),
            sub: Some("streetAddress".to_owned())
        }
    );
    assert_eq!(
        parse_path("  members[ value EQ \"x\" ]  ").unwrap().filter,
        Some(cmp(p("value"), CompareOp::Eq, s("x")))
    );
}

#[test]
fn rejects_bad_patch_paths() {
    let long = "a".repeat(5000);
    for bad in [
        "",
        "  ",
        "\"userName\"",
        "[type eq \"work\"]",
        "userName eq \"x\"",
        "userName pr",
        "emails[type eq \"work\"",
        "emails[type eq \"work\"]]",
        "emails[type eq \"work\"].value.display",
        "emails[type eq \"work\"].",
        "emails[type eq \"work\"].9",
        "emails[type eq \"work\"] value",
        "emails[type eq \"work\"][value eq \"x\"]",
        "emails[type[value eq \"x\"] eq \"y\"]",
        "emails[]",
        "name.familyName[value eq \"x\"]",
        "name.familyName.x",
        "name .familyName",
        "1abc",
        "urn:x:",
        ":attr",
        "nàme",
        &long,
    ] {
        if let Ok(path) = parse_path(bad) {
            panic!("{bad:?} should not parse as a path, got {path:?}");
        }
    }
}

// ---- matching ----------------------------------------------------------------------------

#[test]
fn matches_eq_and_ne() {
    let u = user();
    assert!(m("userName eq \"bjensen\"", &u));
    assert!(m("userName eq \"BJENSEN\"", &u));
    assert!(!m("userName eq \"bjense\"", &u));
    assert!(m("userName ne \"someone\"", &u));
    assert!(!m("userName ne \"bJensen\"", &u));
    assert!(m("loginCount eq 42", &u));
    assert!(m("loginCount eq 42.0", &u));
    assert!(m("loginCount ne 41", &u));
    assert!(m("score eq 2.5", &u));
    assert!(m("active eq true", &u));
    assert!(!m("active eq false", &u));
    assert!(m("active ne false", &u));
    // Types never mix.
    assert!(!m("loginCount eq \"42\"", &u));
    assert!(m("loginCount ne \"42\"", &u));
    assert!(!m("active eq \"true\"", &u));
    assert!(!m("userName eq 1", &u));
}

#[test]
fn matches_substring_operators() {
    let u = user();
    assert!(m("displayName co \"s jen\"", &u));
    assert!(m("displayName co \"S JEN\"", &u));
    assert!(m("displayName co \"\"", &u));
    assert!(!m("displayName co \"xyz\"", &u));
    assert!(m("displayName sw \"babs\"", &u));
    assert!(!m("displayName sw \"jensen\"", &u));
    assert!(m("displayName ew \"JENSEN\"", &u));
    assert!(!m("displayName ew \"babs\"", &u));
    // Substring operators on a non-string value never match.
    assert!(!m("loginCount co \"4\"", &u));
}

#[test]
fn matches_ordering_operators() {
    let u = user();
    assert!(m("loginCount gt 41", &u));
    assert!(!m("loginCount gt 42", &u));
    assert!(m("loginCount ge 42", &u));
    assert!(m("loginCount lt 42.5", &u));
    assert!(!m("loginCount lt 42", &u));
    assert!(m("loginCount le 42", &u));
    assert!(m("loginCount gt -1e3", &u));
    assert!(m("score gt 2", &u));
    assert!(m("score lt 3", &u));
    assert!(m("loginCount lt 18446744073709551615", &u));
    assert!(m("userName gt \"a\"", &u));
    assert!(m("userName lt \"C\"", &u));
    assert!(m("userName ge \"BJENSEN\"", &u));
    assert!(m("userName le \"bjensen\"", &u));
    // ISO date-times compare lexicographically.
    assert!(m("meta.lastModified gt \"2011-05-13T04:42:33Z\"", &u));
    assert!(m("meta.lastModified ge \"2011-05-13T04:42:34Z\"", &u));
    assert!(!m("meta.lastModified gt \"2011-05-13T04:42:34Z\"", &u));
    assert!(m("meta.lastModified lt \"2012-01-01T00:00:00Z\"", &u));
    // Different types never order.
    assert!(!m("userName gt 1", &u));
    assert!(!m("loginCount gt \"1\"", &u));
}

#[test]
fn matches_present() {
    let u = user();
    assert!(m("userName pr", &u));
    assert!(m("active pr", &u));
    assert!(m("loginCount pr", &u));
    assert!(m("emails pr", &u));
    assert!(m("name pr", &u));
    assert!(m("name.givenName pr", &u));
    assert!(m("emails.type pr", &u));
    assert!(!m("title pr", &u), "null");
    assert!(!m("nickName pr", &u), "empty string");
    assert!(!m("phoneNumbers pr", &u), "empty array");
    assert!(!m("x509Certificates pr", &u), "empty object");
    assert!(!m("missing pr", &u));
    assert!(!m("name.middleName pr", &u));
    assert!(!m("emails.display pr", &u));
    assert!(!m("userName.sub pr", &u));
    assert!(!m("a pr", &json!({"a": [null, ""]})));
    assert!(m("a pr", &json!({"a": [null, "x"]})));
    assert!(m("a pr", &json!({"a": false})));
    assert!(m("a pr", &json!({"a": 0})));
}

#[test]
fn matches_missing_and_null_attributes() {
    let u = user();
    for op in ["eq", "co", "sw", "ew", "gt", "ge", "lt", "le"] {
        assert!(!m(&format!("missing {op} \"x\""), &u), "{op}");
        assert!(!m(&format!("title {op} \"x\""), &u), "{op} on null");
    }
    assert!(m("missing ne \"x\"", &u));
    assert!(m("title ne \"x\"", &u));
    assert!(m("missing eq null", &u));
    assert!(m("title eq null", &u));
    assert!(!m("missing ne null", &u));
    assert!(!m("title ne null", &u));
    assert!(m("missing ne 3", &u));
    assert!(m("missing ne true", &u));
    assert!(!m("userName eq null", &u));
    assert!(m("userName ne null", &u));
    assert!(m("phoneNumbers eq null", &u));
    assert!(!m("emails eq null", &u));
    // A non-object element has no attributes.
    assert!(!matches(&parse("a pr"), &json!("a"), &insensitive));
    assert!(matches(&parse("a eq null"), &json!(3), &insensitive));
}

#[test]
fn matches_logic() {
    let u = user();
    assert!(m("userName eq \"bjensen\" and active eq true", &u));
    assert!(!m("userName eq \"bjensen\" and active eq false", &u));
    assert!(m("userName eq \"x\" or active eq true", &u));
    assert!(!m("userName eq \"x\" or active eq false", &u));
    assert!(m("not (userName eq \"x\")", &u));
    assert!(!m("not (userName eq \"bjensen\")", &u));
    // Precedence: true or (false and false) = true; (true or false) and false = false.
    assert!(m(
        "active eq true or userName eq \"x\" and userName eq \"y\"",
        &u
    ));
    assert!(!m(
        "(active eq true or userName eq \"x\") and userName eq \"y\"",
        &u
    ));
}

#[test]
fn matches_attribute_names_case_insensitively() {
    let u = user();
    assert!(m("USERNAME eq \"bjensen\"", &u));
    assert!(m("Name.FamilyName eq \"jensen\"", &u));
    assert!(m("EMAILS[TYPE eq \"work\"]", &u));
    assert!(m("meta.LASTMODIFIED pr", &u));
    assert!(m(
        &format!("{}:EMPLOYEENUMBER eq \"701984\"", ENTERPRISE.to_uppercase()),
        &u
    ));
}

#[test]
fn matches_case_exact_attributes() {
    let u = user();
    let only_id = |path: &AttrPath| path.attr.eq_ignore_ascii_case("id");
    let id = parse("id eq \"2819C223-7F76-453A-919D-413861904646\"");
    assert!(!matches(&id, &u, &only_id));
    assert!(matches(&id, &u, &insensitive));
    let name = parse("userName eq \"BJENSEN\"");
    assert!(matches(&name, &u, &only_id));
    assert!(!matches(&name, &u, &exact));
    assert!(matches(&parse("userName eq \"Bjensen\""), &u, &exact));
    assert!(!matches(&parse("userName sw \"bj\""), &u, &exact));
    assert!(!matches(&parse("userName co \"JEN\""), &u, &exact));
    assert!(!matches(&parse("userName ew \"SEN\""), &u, &exact));
    // "B" < "b" when case-exact, "B" == "b" otherwise.
    assert!(matches(&parse("userName lt \"b\""), &u, &exact));
    assert!(!matches(&parse("userName lt \"b\""), &u, &insensitive));
    // Unicode lowercasing.
    let v = json!({"city": "ÅRHUS"});
    assert!(m("city eq \"århus\"", &v));
    assert!(!matches(&parse("city eq \"århus\""), &v, &exact));
}

#[test]
fn case_exact_is_asked_about_joined_paths_in_value_filters() {
    let u = user();
    let asked = std::cell::RefCell::new(Vec::new());
    let record = |path: &AttrPath| {
        asked.borrow_mut().push(path.clone());
        false
    };
    assert!(matches(
        &parse("emails[type eq \"WORK\"] and name.givenName eq \"barbara\""),
        &u,
        &record
    ));
    let asked = asked.into_inner();
    assert!(asked.contains(&ps("emails", "type")), "{asked:?}");
    assert!(asked.contains(&ps("name", "givenName")), "{asked:?}");
}

#[test]
fn matches_multi_valued_attributes() {
    let u = user();
    // Arrays of objects compare their `value`.
    assert!(m("emails eq \"babs@jensen.org\"", &u));
    assert!(m("emails co \"example.com\"", &u));
    assert!(!m("emails co \"example.net\"", &u));
    assert!(m("emails ew \".ORG\"", &u));
    // Sub-attributes across all elements.
    assert!(m("emails.type eq \"home\"", &u));
    assert!(m("emails.value sw \"babs\"", &u));
    assert!(m("emails.primary eq true", &u));
    assert!(!m("emails.type eq \"other\"", &u));
    // Arrays of simple values.
    assert!(m("roles eq \"auditor\"", &u));
    assert!(m("roles eq \"ADMIN\"", &u));
    assert!(!m("roles eq \"root\"", &u));
    // `ne` holds when some element differs.
    assert!(m("roles ne \"admin\"", &u));
    assert!(!m("roles ne \"admin\"", &json!({"roles": ["admin"]})));
    assert!(m("scores gt 5", &json!({"scores": [1, 7]})));
    assert!(!m("scores gt 7", &json!({"scores": [1, 7]})));
    // An empty array counts as missing.
    assert!(!m("phoneNumbers eq \"x\"", &u));
    assert!(m("phoneNumbers ne \"x\"", &u));
}

#[test]
fn matches_value_paths() {
    let u = user();
    assert!(m("emails[type eq \"work\"]", &u));
    assert!(m(
        "emails[type eq \"WORK\" and value co \"example.com\"]",
        &u
    ));
    assert!(!m(
        "emails[type eq \"work\" and value co \"jensen.org\"]",
        &u
    ));
    assert!(m(
        "emails[type eq \"home\" and value co \"jensen.org\"]",
        &u
    ));
    assert!(m("emails[primary eq true]", &u));
    assert!(m("emails[not (primary eq true)]", &u));
    assert!(m("emails[primary ne true]", &u));
    assert!(!m("emails[type eq \"other\"]", &u));
    assert!(!m("phoneNumbers[type eq \"work\"]", &u));
    assert!(!m("missing[type eq \"work\"]", &u));
    assert!(!m("missing[not (type eq \"work\")]", &u));
    // Desugared `.value` form.
    assert!(m(
        "emails[type eq \"work\"].value eq \"bjensen@example.com\"",
        &u
    ));
    assert!(!m(
        "emails[type eq \"work\"].value eq \"babs@jensen.org\"",
        &u
    ));
    assert!(m("emails[type eq \"work\"].value pr", &u));
    assert!(!m("emails[type eq \"work\"].display pr", &u));
    // A singular complex attribute acts as a single element.
    assert!(m(
        &format!("{ENTERPRISE}:manager[value sw \"26118915\"]"),
        &u
    ));
    assert!(m("name[givenName eq \"barbara\"]", &u));
    // Simple multi-valued attributes: elements are `value`.
    assert!(m("roles[value eq \"auditor\"]", &u));
    assert!(!m("roles[value eq \"root\"]", &u));
    // Combined with other clauses.
    assert!(m(
        "userName sw \"b\" and emails[type eq \"home\"] and not (emails[type eq \"other\"])",
        &u
    ));
}

#[test]
fn matches_schema_prefixed_paths() {
    let u = user();
    assert!(m(&format!("{ENTERPRISE}:employeeNumber eq \"701984\""), &u));
    assert!(m(&format!("{ENTERPRISE}:manager.value pr"), &u));
    assert!(m(&format!("{ENTERPRISE}:manager pr"), &u));
    // A singular complex attribute is not compared through its `value` (only elements of
    // multi-valued ones are); `manager.value` says it.
    assert!(!m(
        &format!("{ENTERPRISE}:manager eq \"26118915-6090-4610-87e4-49d8ca9f808d\""),
        &u
    ));
    assert!(m(
        &format!("{ENTERPRISE}:manager.value eq \"26118915-6090-4610-87e4-49d8ca9f808d\""),
        &u
    ));
    assert!(!m(&format!("{ENTERPRISE}:costCenter pr"), &u));
    // Core attributes written with the core URN are stored without it.
    assert!(m(&format!("{CORE_USER}:userName eq \"bjensen\""), &u));
    assert!(m(&format!("{CORE_USER}:name.familyName eq \"jensen\""), &u));
    assert!(m(&format!("{CORE_USER}:emails[type eq \"work\"]"), &u));
    // A bare extension URN names the whole extension object.
    assert!(m(&format!("{ENTERPRISE} pr"), &u));
    // Without the prefix, extension attributes are not found.
    assert!(!m("employeeNumber pr", &u));
}

#[test]
fn matches_an_element_directly() {
    // As used for PATCH value-filtered paths: the filter runs against one element.
    let member =
        json!({"value": "2819c223", "display": "Babs", "$ref": "https://x/Users/2819c223"});
    let f = parse_path("members[value eq \"2819C223\"]")
        .unwrap()
        .filter
        .unwrap();
    assert!(matches(&f, &member, &insensitive));
    assert!(!matches(&f, &member, &exact));
    assert!(m("$ref ew \"/2819c223\"", &member));
    assert!(m("display eq \"babs\" and value sw \"2819\"", &member));
}

#[test]
fn number_comparison_is_exact_for_large_integers() {
    let v = json!({"n": 9007199254740993_u64, "neg": -9007199254740993_i64});
    assert!(m("n gt 9007199254740992", &v));
    assert!(m("n eq 9007199254740993", &v));
    assert!(m("neg lt -9007199254740992", &v));
    assert!(m("n gt -1", &v));
    assert!(m("n lt 1e20", &v));
}
