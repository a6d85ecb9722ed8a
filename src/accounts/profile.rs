//! The user's profile: the OpenID Connect standard claims (Core §5.1) that Plinto stores, by
//! their claim names, in `users.profile`. SCIM writes it from the attributes that have an OIDC
//! equivalent ([`from_scim`]), the account page edits it ([`update`]), and OIDC claims and SAML
//! attributes read it ([`of`]). `name` stays the account's column, `preferred_username` is the
//! userName, `email` the account's address: they are not repeated here.
//!
//! Every value is checked the same way wherever it comes from: at most so many characters, no
//! control characters, `picture` / `website` / `profile` absolute http(s) URLs, `birthdate`
//! `YYYY-MM-DD`, `YYYY` or `0000-MM-DD` (§5.1). `locale` (a language tag), `zoneinfo` (a tz
//! database name) and `phone_number` must look like one: the account page refuses other values;
//! from SCIM, which has no such rule (RFC 7643 §4.1.1 only says what a value should be), they
//! stay in the SCIM representation and are not released as claims.

use chrono::{DateTime, NaiveDate, Utc};
use entity::user;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, IntoActiveModel, Set, TransactionSession, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::users;
use crate::audit::{self, RequestMeta, actions};
use crate::error::{DomainError, DomainResult};

pub const MAX_TEXT_CHARS: usize = 200;
pub const MAX_URL_CHARS: usize = 2048;
pub const MAX_FORMATTED_ADDRESS_CHARS: usize = 1000;
const MAX_GENDER_CHARS: usize = 64;
const MAX_PHONE_CHARS: usize = 64;
const MAX_LOCALE_CHARS: usize = 35;
const MAX_ZONEINFO_CHARS: usize = 64;

/// The postal address claim (OIDC Core §5.1.1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

impl Address {
    fn is_empty(&self) -> bool {
        *self == Address::default()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    /// The URL of the user's profile page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthdate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zoneinfo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// Nothing in Plinto verifies a phone number: true only when a provisioning client says so
    /// (SCIM cannot), so today always false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub phone_number_verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
}

/// The stored profile of a user (an unreadable one reads as empty: it was checked when
/// written). An account provisioned before profiles were stored has an empty one: its SCIM
/// representation (which every write keeps in step with the profile) stands for it.
pub fn of(user: &user::Model) -> Profile {
    let stored: Profile = serde_json::from_value(user.profile.clone()).unwrap_or_default();
    if stored != Profile::default() {
        return stored;
    }
    user.scim
        .as_object()
        .and_then(|doc| from_scim(doc).ok())
        .unwrap_or_default()
}

impl Profile {
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_else(|_| json!({}))
    }

    /// The claims it holds, by name (`address` as its JSON object).
    pub fn claims(&self) -> Map<String, Value> {
        let mut m = match self.to_json() {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        if self.phone_number.is_some() {
            m.insert(
                "phone_number_verified".into(),
                self.phone_number_verified.into(),
            );
        } else {
            m.remove("phone_number_verified");
        }
        m
    }
}

/// How strictly to check values whose format only a convention fixes (locale, zoneinfo,
/// phone): refuse them (a form) or leave them out (SCIM).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Formats {
    Refuse,
    Drop,
}

fn text(field: &'static str, value: Option<String>, max: usize) -> DomainResult<Option<String>> {
    text_lines(field, value, max, false)
}

/// [`text`], where `lines` allows line breaks (the formatted address, OIDC Core §5.1.1).
fn text_lines(
    field: &'static str,
    value: Option<String>,
    max: usize,
    lines: bool,
) -> DomainResult<Option<String>> {
    let Some(v) = value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    if v.chars().count() > max {
        return Err(DomainError::invalid(
            field,
            format!("use at most {max} characters"),
        ));
    }
    if v.chars()
        .any(|c| c.is_control() && !(lines && (c == '\n' || c == '\r')))
    {
        return Err(DomainError::invalid(
            field,
            "control characters are not allowed",
        ));
    }
    Ok(Some(v))
}

fn url(field: &'static str, value: Option<String>) -> DomainResult<Option<String>> {
    let Some(v) = text(field, value, MAX_URL_CHARS)? else {
        return Ok(None);
    };
    match url::Url::parse(&v) {
        Ok(u) if matches!(u.scheme(), "https" | "http") && u.host().is_some() => Ok(Some(v)),
        _ => Err(DomainError::invalid(
            field,
            "enter an absolute http or https URL, like https://example.com/",
        )),
    }
}

/// `YYYY-MM-DD`, `YYYY`, or `0000-MM-DD` when the year is withheld (OIDC Core §5.1).
pub fn valid_birthdate(v: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match v.len() {
        4 => digits(v),
        10 => match v.split_once('-') {
            Some(("0000", md)) => NaiveDate::parse_from_str(&format!("2000-{md}"), "%Y-%m-%d")
                .is_ok_and(|d| d.format("%m-%d").to_string() == md),
            Some((y, _)) if digits(y) => NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .is_ok_and(|d| d.format("%Y-%m-%d").to_string() == v),
            _ => false,
        },
        _ => false,
    }
}

/// A BCP 47 language tag's shape (`en`, `en-US`, `zh-Hant-TW`; `en_US` as OIDC Core §5.1
/// notes some use).
pub fn valid_locale(v: &str) -> bool {
    let mut parts = v.split(['-', '_']);
    let first_ok = parts
        .next()
        .is_some_and(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()));
    first_ok
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// A tz database name's shape (`Europe/Paris`, `America/Argentina/Buenos_Aires`, `UTC`).
pub fn valid_zoneinfo(v: &str) -> bool {
    v.split('/').all(|p| {
        p.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_+-".contains(&b))
    })
}

/// A telephone number as people write one (`+1 (425) 555-1212`, `tel:+1-201-555-0123`,
/// `+33 1 23 45 67 89;ext=12`).
pub fn valid_phone(v: &str) -> bool {
    v.bytes().any(|b| b.is_ascii_digit())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b" +-().;=/:".contains(&b))
}

fn formatted(
    field: &'static str,
    value: Option<String>,
    max: usize,
    ok: fn(&str) -> bool,
    formats: Formats,
    message: &str,
) -> DomainResult<Option<String>> {
    let v = match (text(field, value, max), formats) {
        // Too long is one more way not to be a language tag, a zone or a number.
        (Err(DomainError::Invalid { .. }), Formats::Drop) => return Ok(None),
        (v, _) => v?,
    };
    match v {
        Some(v) if !ok(&v) => match formats {
            Formats::Refuse => Err(DomainError::invalid(field, message.to_string())),
            Formats::Drop => Ok(None),
        },
        v => Ok(v),
    }
}

fn check(p: Profile, formats: Formats) -> DomainResult<Profile> {
    let address = match p.address {
        None => None,
        Some(a) => Some(Address {
            formatted: text_lines(
                "address.formatted",
                a.formatted,
                MAX_FORMATTED_ADDRESS_CHARS,
                true,
            )?,
            street_address: text("address.street_address", a.street_address, MAX_TEXT_CHARS)?,
            locality: text("address.locality", a.locality, MAX_TEXT_CHARS)?,
            region: text("address.region", a.region, MAX_TEXT_CHARS)?,
            postal_code: text("address.postal_code", a.postal_code, MAX_TEXT_CHARS)?,
            country: text("address.country", a.country, MAX_TEXT_CHARS)?,
        })
        .filter(|a| !a.is_empty()),
    };
    let birthdate = text("birthdate", p.birthdate, 10)?;
    if birthdate.as_deref().is_some_and(|b| !valid_birthdate(b)) {
        return Err(DomainError::invalid(
            "birthdate",
            "use YYYY-MM-DD (or YYYY, or 0000-MM-DD without the year)",
        ));
    }
    let phone_number = formatted(
        "phone_number",
        p.phone_number,
        MAX_PHONE_CHARS,
        valid_phone,
        formats,
        "enter a telephone number, like +1 425 555 1212",
    )?;
    Ok(Profile {
        given_name: text("given_name", p.given_name, MAX_TEXT_CHARS)?,
        family_name: text("family_name", p.family_name, MAX_TEXT_CHARS)?,
        middle_name: text("middle_name", p.middle_name, MAX_TEXT_CHARS)?,
        nickname: text("nickname", p.nickname, MAX_TEXT_CHARS)?,
        profile: url("profile", p.profile)?,
        picture: url("picture", p.picture)?,
        website: url("website", p.website)?,
        gender: text("gender", p.gender, MAX_GENDER_CHARS)?,
        birthdate,
        zoneinfo: formatted(
            "zoneinfo",
            p.zoneinfo,
            MAX_ZONEINFO_CHARS,
            valid_zoneinfo,
            formats,
            "enter a time zone name, like Europe/Paris",
        )?,
        locale: formatted(
            "locale",
            p.locale,
            MAX_LOCALE_CHARS,
            valid_locale,
            formats,
            "enter a language tag, like en-US",
        )?,
        phone_number_verified: p.phone_number_verified && phone_number.is_some(),
        phone_number,
        address,
    })
}

fn scim_str(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::to_string)
}

/// The element of a SCIM multi-valued attribute that stands for the user: the primary one,
/// else the first.
fn scim_primary<'a>(doc: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    let list = doc.get(key)?.as_array()?;
    list.iter()
        .find(|e| e.get("primary") == Some(&Value::Bool(true)))
        .or_else(|| list.first())
}

/// The profile a SCIM User representation (RFC 7643 §4.1) carries: `name.givenName`,
/// `name.familyName`, `name.middleName`, `nickName`, `profileUrl`, the primary (else first)
/// of `photos`, `phoneNumbers` and `addresses`, `locale`, `timezone`. Attributes without an
/// OIDC equivalent (title, userType, preferredLanguage, …) stay SCIM's alone.
pub fn from_scim(doc: &Map<String, Value>) -> DomainResult<Profile> {
    let name = doc.get("name");
    let address = scim_primary(doc, "addresses").map(|a| Address {
        formatted: scim_str(a.get("formatted")),
        street_address: scim_str(a.get("streetAddress")),
        locality: scim_str(a.get("locality")),
        region: scim_str(a.get("region")),
        postal_code: scim_str(a.get("postalCode")),
        country: scim_str(a.get("country")),
    });
    let p = Profile {
        given_name: scim_str(name.and_then(|n| n.get("givenName"))),
        family_name: scim_str(name.and_then(|n| n.get("familyName"))),
        middle_name: scim_str(name.and_then(|n| n.get("middleName"))),
        nickname: scim_str(doc.get("nickName")),
        profile: scim_str(doc.get("profileUrl")),
        picture: scim_primary(doc, "photos").and_then(|p| scim_str(p.get("value"))),
        website: None,
        gender: None,
        birthdate: None,
        zoneinfo: scim_str(doc.get("timezone")),
        locale: scim_str(doc.get("locale")),
        phone_number: scim_primary(doc, "phoneNumbers").and_then(|p| scim_str(p.get("value"))),
        phone_number_verified: false,
        address,
    };
    // SCIM's names for the fields in error messages.
    check(p, Formats::Drop).map_err(|e| match e {
        DomainError::Invalid { field, message } => DomainError::invalid(scim_name(field), message),
        e => e,
    })
}

fn scim_name(field: &'static str) -> &'static str {
    match field {
        "given_name" => "name.givenName",
        "family_name" => "name.familyName",
        "middle_name" => "name.middleName",
        "nickname" => "nickName",
        "profile" => "profileUrl",
        "picture" => "photos.value",
        "phone_number" => "phoneNumbers.value",
        "address.formatted" => "addresses.formatted",
        "address.street_address" => "addresses.streetAddress",
        "address.locality" => "addresses.locality",
        "address.region" => "addresses.region",
        "address.postal_code" => "addresses.postalCode",
        "address.country" => "addresses.country",
        other => other,
    }
}

/// Keep the SCIM representation in step with a profile edited elsewhere (the account page):
/// each attribute that maps to a claim gets the claim's value, or goes when the claim did.
fn write_scim(doc: &mut Value, old: &Profile, p: &Profile) {
    let Some(doc) = doc.as_object_mut() else {
        return;
    };
    let set = |m: &mut Map<String, Value>, k: &str, v: &Option<String>| match v {
        Some(v) => {
            m.insert(k.into(), v.clone().into());
        }
        None => {
            m.remove(k);
        }
    };
    let name = doc
        .entry("name")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(name) = name.as_object_mut() {
        set(name, "givenName", &p.given_name);
        set(name, "familyName", &p.family_name);
        set(name, "middleName", &p.middle_name);
    }
    if doc
        .get("name")
        .and_then(Value::as_object)
        .is_some_and(Map::is_empty)
    {
        doc.remove("name");
    }
    set(doc, "nickName", &p.nickname);
    set(doc, "profileUrl", &p.profile);
    set(doc, "locale", &p.locale);
    set(doc, "timezone", &p.zoneinfo);
    if p.phone_number != old.phone_number {
        set_primary(
            doc,
            "phoneNumbers",
            p.phone_number.as_ref().map(|v| json!({ "value": v })),
        );
    }
    if p.picture != old.picture {
        set_primary(
            doc,
            "photos",
            p.picture.as_ref().map(|v| json!({ "value": v })),
        );
    }
    if p.address != old.address {
        let a = p.address.as_ref().map(|a| {
            let mut m = Map::new();
            for (k, v) in [
                ("formatted", &a.formatted),
                ("streetAddress", &a.street_address),
                ("locality", &a.locality),
                ("region", &a.region),
                ("postalCode", &a.postal_code),
                ("country", &a.country),
            ] {
                set(&mut m, k, v);
            }
            Value::Object(m)
        });
        set_primary(doc, "addresses", a);
    }
}

/// Replace the primary (else first) element of a multi-valued attribute, keeping its `type`;
/// `None` removes it.
fn set_primary(doc: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    let list = doc.entry(key).or_insert_with(|| Value::Array(Vec::new()));
    if !list.is_array() {
        *list = Value::Array(Vec::new());
    }
    let Some(list) = list.as_array_mut() else {
        return;
    };
    let at = list
        .iter()
        .position(|e| e.get("primary") == Some(&Value::Bool(true)))
        .or(if list.is_empty() { None } else { Some(0) });
    match (at, value) {
        (Some(i), Some(Value::Object(mut new))) => {
            if let Some(t) = list.get(i).and_then(|e| e.get("type")).cloned() {
                new.insert("type".into(), t);
            }
            new.insert("primary".into(), true.into());
            if let Some(e) = list.get_mut(i) {
                *e = Value::Object(new);
            }
        }
        (None, Some(Value::Object(mut new))) => {
            new.insert("primary".into(), true.into());
            list.insert(0, Value::Object(new));
        }
        (Some(i), None) => {
            list.remove(i);
        }
        _ => {}
    }
    if list.is_empty() {
        doc.remove(key);
    }
}

/// What a form calls a field of the profile.
pub fn label(field: &str) -> &'static str {
    match field {
        "given_name" => "Given name",
        "family_name" => "Family name",
        "middle_name" => "Middle name",
        "nickname" => "Nickname",
        "profile" => "Profile page",
        "picture" => "Picture",
        "website" => "Website",
        "gender" => "Gender",
        "birthdate" => "Birthdate",
        "zoneinfo" => "Time zone",
        "locale" => "Language",
        "phone_number" => "Phone number",
        "address.formatted" => "Address as written on mail",
        "address.street_address" => "Street address",
        "address.locality" => "City",
        "address.region" => "Region",
        "address.postal_code" => "Postal code",
        "address.country" => "Country",
        _ => "Name",
    }
}

/// The form fields of the account page (`address.*` as `address_*`), each with its value.
pub fn form_fields(p: &Profile) -> Vec<(&'static str, &'static str, String)> {
    let a = p.address.clone().unwrap_or_default();
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    [
        ("given_name", v(&p.given_name)),
        ("middle_name", v(&p.middle_name)),
        ("family_name", v(&p.family_name)),
        ("nickname", v(&p.nickname)),
        ("birthdate", v(&p.birthdate)),
        ("gender", v(&p.gender)),
        ("locale", v(&p.locale)),
        ("zoneinfo", v(&p.zoneinfo)),
        ("phone_number", v(&p.phone_number)),
        ("picture", v(&p.picture)),
        ("website", v(&p.website)),
        ("profile", v(&p.profile)),
        ("address_street_address", v(&a.street_address)),
        ("address_locality", v(&a.locality)),
        ("address_region", v(&a.region)),
        ("address_postal_code", v(&a.postal_code)),
        ("address_country", v(&a.country)),
        ("address_formatted", v(&a.formatted)),
    ]
    .into_iter()
    .map(|(name, value)| {
        (
            name,
            label(&name.replacen("address_", "address.", 1)),
            value,
        )
    })
    .collect()
}

/// The profile after a form's fields: a field the form has replaces the value (empty clears
/// it), one it lacks leaves it.
pub fn with_form_fields<'a>(old: &Profile, get: impl Fn(&str) -> Option<&'a str>) -> Profile {
    let mut p = old.clone();
    let mut a = p.address.clone().unwrap_or_default();
    let set = |slot: &mut Option<String>, key: &str| {
        if let Some(v) = get(key) {
            *slot = Some(v.to_string());
        }
    };
    set(&mut p.given_name, "given_name");
    set(&mut p.middle_name, "middle_name");
    set(&mut p.family_name, "family_name");
    set(&mut p.nickname, "nickname");
    set(&mut p.birthdate, "birthdate");
    set(&mut p.gender, "gender");
    set(&mut p.locale, "locale");
    set(&mut p.zoneinfo, "zoneinfo");
    set(&mut p.phone_number, "phone_number");
    set(&mut p.picture, "picture");
    set(&mut p.website, "website");
    set(&mut p.profile, "profile");
    set(&mut a.street_address, "address_street_address");
    set(&mut a.locality, "address_locality");
    set(&mut a.region, "address_region");
    set(&mut a.postal_code, "address_postal_code");
    set(&mut a.country, "address_country");
    set(&mut a.formatted, "address_formatted");
    p.address = Some(a);
    p
}

/// Check a profile that the user typed (every field refused with its own message).
pub fn parse(p: Profile) -> DomainResult<Profile> {
    check(p, Formats::Refuse)
}

/// The account page's edit: the name and the profile, with the SCIM representation kept in
/// step (the ETag moves), in one transaction with its audit event. `phone_number_verified`
/// stays as it was while the number does.
pub async fn update<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
    user: user::Model,
    name: Option<&str>,
    profile: Profile,
    meta: &RequestMeta,
) -> DomainResult<user::Model> {
    let name = super::validation::parse_name(name)?;
    let old = of(&user);
    let mut profile = parse(profile)?;
    profile.phone_number_verified =
        old.phone_number_verified && profile.phone_number == old.phone_number;
    let (tenant_id, id) = (user.tenant_id, user.id);
    let mut doc = user.scim.clone();
    users::set_display_name(&mut doc, name.as_deref());
    write_scim(&mut doc, &old, &profile);
    let txn = crate::db::begin(db).await?;
    let mut active = user.into_active_model();
    active.name = Set(name);
    active.profile = Set(profile.to_json());
    active.scim_search = Set(users::search_copy(&doc));
    active.scim = Set(doc);
    active.updated_at = Set(now);
    let user = active.update(&txn).await?;
    users::bump_version(&txn, user.id).await?;
    audit::record(
        &txn,
        now,
        audit::Event::new(actions::PROFILE_UPDATE, audit::user_actor(id), meta)
            .tenant(tenant_id)
            .target(audit::user_actor(id)),
    )
    .await?;
    txn.commit().await?;
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn birthdates() {
        for ok in [
            "1990-04-01",
            "1990",
            "0000-04-01",
            "2000-02-29",
            "0000-02-29",
        ] {
            assert!(valid_birthdate(ok), "{ok}");
        }
        for bad in [
            "1990-4-1",
            "01/04/1990",
            "1990-02-30",
            "1999-02-29",
            "90",
            "1990-13-01",
            "abcd",
            "1990-04-01T00:00:00Z",
            "",
        ] {
            assert!(!valid_birthdate(bad), "{bad}");
        }
    }

    #[test]
    fn formats() {
        assert!(valid_locale("en-US") && valid_locale("fr") && valid_locale("en_US"));
        assert!(!valid_locale("e") && !valid_locale("en US") && !valid_locale("1234-abcd"));
        assert!(valid_zoneinfo("Europe/Paris") && valid_zoneinfo("UTC"));
        assert!(!valid_zoneinfo("Europe//Paris") && !valid_zoneinfo("../etc/passwd"));
        assert!(valid_phone("+1 (425) 555-1212") && valid_phone("tel:+1-201-555-0123"));
        assert!(!valid_phone("call me") && !valid_phone("+1 <script>"));
    }

    #[test]
    fn a_form_refuses_what_scim_leaves_out() {
        let p = Profile {
            locale: Some("not a locale".into()),
            ..Profile::default()
        };
        assert!(parse(p.clone()).is_err());
        assert_eq!(check(p, Formats::Drop).unwrap().locale, None);
        let bad_url = Profile {
            website: Some("javascript:alert(1)".into()),
            ..Profile::default()
        };
        assert!(check(bad_url, Formats::Drop).is_err());
    }

    #[test]
    fn scim_maps_to_claims() {
        let doc = json!({
            "name": { "givenName": "Ada", "familyName": "Lovelace", "middleName": "King" },
            "nickName": "ada",
            "photos": [{ "value": "https://img.example/a.png", "type": "photo" }],
            "phoneNumbers": [
                { "value": "+44 20 7946 0000", "type": "home" },
                { "value": "+44 20 7946 0001", "type": "work", "primary": true }
            ],
            "addresses": [{ "streetAddress": "12 St James's Sq", "locality": "London",
                            "postalCode": "SW1Y 4LB", "country": "GB", "type": "work" }],
            "locale": "en-GB",
            "timezone": "Europe/London"
        });
        let p = from_scim(doc.as_object().unwrap()).unwrap();
        assert_eq!(p.given_name.as_deref(), Some("Ada"));
        assert_eq!(p.phone_number.as_deref(), Some("+44 20 7946 0001"));
        assert_eq!(p.picture.as_deref(), Some("https://img.example/a.png"));
        assert_eq!(
            p.address.as_ref().unwrap().locality.as_deref(),
            Some("London")
        );
        let claims = p.claims();
        assert_eq!(claims["phone_number_verified"], false);
        assert_eq!(claims["address"]["postal_code"], "SW1Y 4LB");
        assert_eq!(claims["zoneinfo"], "Europe/London");
    }

    #[test]
    fn edits_go_back_to_scim() {
        let mut doc = json!({
            "name": { "givenName": "Ada", "formatted": "Ada L" },
            "phoneNumbers": [{ "value": "1", "type": "work", "primary": true }, { "value": "2" }]
        });
        let old = from_scim(doc.as_object().unwrap()).unwrap();
        let new = Profile {
            family_name: Some("Lovelace".into()),
            phone_number: Some("+44 1".into()),
            locale: Some("en-GB".into()),
            ..Profile::default()
        };
        write_scim(&mut doc, &old, &new);
        assert_eq!(
            doc["name"],
            json!({ "familyName": "Lovelace", "formatted": "Ada L" })
        );
        assert_eq!(
            doc["phoneNumbers"],
            json!([{ "value": "+44 1", "type": "work", "primary": true }, { "value": "2" }])
        );
        assert_eq!(doc["locale"], "en-GB");
        assert_eq!(from_scim(doc.as_object().unwrap()).unwrap(), new);
    }
}
