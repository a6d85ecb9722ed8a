//! Query parameters (RFC 7644 §3.4.2): `filter`, `sortBy`, `sortOrder`, `startIndex`, `count`,
//! `attributes`, `excludedAttributes`, from a query string or a `SearchRequest` body, and the
//! `ListResponse`.

use serde_json::{Map, Value, json};

use super::error::{ScimError, ScimResult};
use super::filter::{self, AttrPath, Filter};
use super::{LIMITS, LIST_RESPONSE, SEARCH_REQUEST};

pub const DEFAULT_COUNT: u64 = 100;

#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    pub sort_by: Option<AttrPath>,
    pub descending: bool,
    /// 1-based.
    pub start_index: u64,
    pub count: u64,
    pub attributes: Vec<String>,
    pub excluded: Vec<String>,
}

/// `attributes` / `excludedAttributes` alone (GET and write responses).
#[derive(Debug, Clone, Default)]
pub struct Projection {
    pub attributes: Vec<String>,
    pub excluded: Vec<String>,
}

impl Projection {
    pub fn from_query(query: &str) -> ScimResult<Self> {
        let mut p = Self::default();
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            match k.as_ref() {
                "attributes" => p.attributes = split_list(&v),
                "excludedAttributes" => p.excluded = split_list(&v),
                _ => {}
            }
        }
        Ok(p)
    }

    pub fn is_empty(&self) -> bool {
        self.attributes.is_empty() && self.excluded.is_empty()
    }

    /// Whether the response leaves out `name` (as `excludedAttributes=members`, or an
    /// `attributes` list without it).
    pub fn leaves_out(&self, name: &str) -> bool {
        let named = |list: &[String]| {
            list.iter().any(|a| {
                let a = a.rsplit(':').next().unwrap_or(a);
                let top = a.split('.').next().unwrap_or(a);
                top.eq_ignore_ascii_case(name)
            })
        };
        named(&self.excluded) || (!self.attributes.is_empty() && !named(&self.attributes))
    }
}

fn split_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn parse_filter(s: &str) -> ScimResult<Filter> {
    filter::parse_filter(s).map_err(|e| ScimError::invalid_filter(e.0))
}

fn parse_sort(s: &str) -> ScimResult<AttrPath> {
    match filter::parse_path(s) {
        Ok(p) if p.filter.is_none() && p.sub.is_none() => Ok(p.attr),
        _ => Err(ScimError::invalid_value(format!(
            "sortBy {s:?} is not an attribute"
        ))),
    }
}

fn parse_order(s: &str) -> ScimResult<bool> {
    match s.to_ascii_lowercase().as_str() {
        "ascending" => Ok(false),
        "descending" => Ok(true),
        _ => Err(ScimError::invalid_value(
            "sortOrder is ascending or descending",
        )),
    }
}

/// RFC 7644 §3.4.2.4: a negative or zero `count` means none; above the maximum, the maximum.
fn clamp_count(n: i64) -> u64 {
    n.clamp(0, LIMITS.max_results as i64) as u64
}

/// `startIndex` below 1 means 1.
fn clamp_start(n: i64) -> u64 {
    n.max(1) as u64
}

fn parse_int(name: &str, v: &str) -> ScimResult<i64> {
    v.trim()
        .parse::<i64>()
        .map_err(|_| ScimError::invalid_value(format!("{name} is an integer")))
}

impl ListQuery {
    pub fn from_query(query: &str) -> ScimResult<Self> {
        let mut q = Self {
            start_index: 1,
            count: DEFAULT_COUNT,
            ..Self::default()
        };
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            match k.as_ref() {
                // Which of two would apply? Refused, as the OAuth endpoints refuse repeats.
                "filter" if q.filter.is_some() => {
                    return Err(ScimError::invalid_filter("give filter once"));
                }
                "filter" => q.filter = Some(parse_filter(&v)?),
                "sortBy" => q.sort_by = Some(parse_sort(&v)?),
                "sortOrder" => q.descending = parse_order(&v)?,
                "startIndex" => q.start_index = clamp_start(parse_int("startIndex", &v)?),
                "count" => q.count = clamp_count(parse_int("count", &v)?),
                "attributes" => q.attributes = split_list(&v),
                "excludedAttributes" => q.excluded = split_list(&v),
                _ => {}
            }
        }
        Ok(q)
    }

    /// A `SearchRequest` body (POST `.search`).
    pub fn from_search(body: &Value) -> ScimResult<Self> {
        let obj = body
            .as_object()
            .ok_or_else(|| ScimError::invalid_syntax("a SearchRequest is a JSON object"))?;
        let schemas_ok = obj
            .get("schemas")
            .and_then(Value::as_array)
            .is_some_and(|s| s.iter().any(|v| v.as_str() == Some(SEARCH_REQUEST)));
        if !schemas_ok {
            return Err(ScimError::invalid_syntax(format!(
                "schemas must contain {SEARCH_REQUEST}"
            )));
        }
        let mut q = Self {
            start_index: 1,
            count: DEFAULT_COUNT,
            ..Self::default()
        };
        let string = |k: &str, v: &Value| {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| ScimError::invalid_syntax(format!("{k} is a string")))
        };
        let list = |k: &str, v: &Value| -> ScimResult<Vec<String>> {
            match v {
                Value::Array(items) => items.iter().map(|i| string(k, i)).collect(),
                Value::String(s) => Ok(split_list(s)),
                _ => Err(ScimError::invalid_syntax(format!(
                    "{k} is an array of strings"
                ))),
            }
        };
        let int = |k: &str, v: &Value| {
            v.as_i64()
                .ok_or_else(|| ScimError::invalid_syntax(format!("{k} is an integer")))
        };
        for (k, v) in obj {
            match k.as_str() {
                "filter" => q.filter = Some(parse_filter(&string(k, v)?)?),
                "sortBy" => q.sort_by = Some(parse_sort(&string(k, v)?)?),
                "sortOrder" => q.descending = parse_order(&string(k, v)?)?,
                "startIndex" => q.start_index = clamp_start(int(k, v)?),
                "count" => q.count = clamp_count(int(k, v)?),
                "attributes" => q.attributes = list(k, v)?,
                "excludedAttributes" => q.excluded = list(k, v)?,
                _ => {}
            }
        }
        Ok(q)
    }

    pub fn projection(&self) -> Projection {
        Projection {
            attributes: self.attributes.clone(),
            excluded: self.excluded.clone(),
        }
    }
}

/// A `ListResponse` page.
pub fn response(total: u64, start_index: u64, resources: Vec<Map<String, Value>>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}
