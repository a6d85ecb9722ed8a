//! The SCIM endpoints under `{issuer}/scim/v2`. Handlers are thin: authenticate the bearer
//! token, read the body, call one service function, answer in `application/scim+json`.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::error::{CONTENT_TYPE, ScimError, ScimResult};
use super::list::{self, ListQuery, Projection};
use super::{Ctx, LIMITS, bulk, etag, etag_matches, groups, schema, sql, tokens, users};
use crate::http::routes;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    let not_allowed = || web::to(method_not_allowed);
    cfg.service(
        web::scope(routes::SCIM)
            .service(
                web::resource(routes::SCIM_USERS)
                    .route(web::get().to(users_list))
                    .route(web::post().to(users_create))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource(routes::SCIM_USERS_SEARCH)
                    .route(web::post().to(users_search))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource(routes::SCIM_USER)
                    .route(web::get().to(user_get))
                    .route(web::put().to(user_put))
                    .route(web::patch().to(user_patch))
                    .route(web::delete().to(user_delete))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource(routes::SCIM_GROUPS)
                    .route(web::get().to(groups_list))
                    .route(web::post().to(groups_create))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource(routes::SCIM_GROUPS_SEARCH)
                    .route(web::post().to(groups_search))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource(routes::SCIM_GROUP)
                    .route(web::get().to(group_get))
                    .route(web::put().to(group_put))
                    .route(web::patch().to(group_patch))
                    .route(web::delete().to(group_delete))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource(routes::SCIM_SEARCH)
                    .route(web::post().to(root_search))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource(routes::SCIM_BULK)
                    .route(web::post().to(bulk_post))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource(routes::SCIM_SERVICE_PROVIDER_CONFIG)
                    .route(web::get().to(service_provider_config))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource(routes::SCIM_SCHEMAS)
                    .route(web::get().to(schemas))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource(routes::SCIM_SCHEMA)
                    .route(web::get().to(schema_get))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource(routes::SCIM_RESOURCE_TYPES)
                    .route(web::get().to(resource_types))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource(routes::SCIM_RESOURCE_TYPE)
                    .route(web::get().to(resource_type_get))
                    .default_service(not_allowed()),
            )
            .service(web::resource(routes::SCIM_ME).to(me))
            .default_service(web::to(unknown_path)),
    )
    .service(web::scope(routes::SCIM_ANY_VERSION).default_service(web::to(other_version)));
}

/// The tenant and the token of a request, or the one 401.
async fn open<'a>(req: &HttpRequest, state: &'a AppState, slug: &str) -> ScimResult<Ctx<'a>> {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_string());
    let Some(tenant) = state.tenant(slug).await? else {
        return Err(ScimError::unauthorized());
    };
    let ip = crate::http::request_meta(req, state.config.trust_forwarded_headers).ip;
    state
        .may_try_credentials(&tenant, ip.as_deref())
        .await
        .map_err(|r| {
            let mut e = ScimError::from(r);
            if e.status == actix_web::http::StatusCode::TOO_MANY_REQUESTS {
                e.detail = crate::ratelimit::AUTH_FAILURES.into();
            }
            e
        })?;
    let token = match presented {
        Some(p) => tokens::authenticate(&state.db, &state.keys.scim_tokens, tenant.id, &p).await?,
        None => None,
    };
    let Some(token) = token else {
        state.credentials_failed(&tenant, ip.as_deref()).await;
        return Err(ScimError::unauthorized());
    };
    state
        .limit(
            Some(&tenant),
            crate::ratelimit::Kind::Scim,
            &token.id.to_string(),
        )
        .await?;
    let base = format!("{}{}", state.config.issuer(&tenant.slug), routes::SCIM);
    Ok(Ctx {
        db: &state.db,
        now: state.now(),
        hasher: &state.hasher,
        tenant,
        actor: tokens::actor(&token),
        meta: crate::http::request_meta(req, state.config.trust_forwarded_headers),
        base,
        prehashed: Default::default(),
    })
}

/// Read a JSON body: `application/scim+json` or `application/json` (or no type), at most
/// `maxPayloadSize` bytes.
async fn read_json(req: &HttpRequest, payload: web::Payload) -> ScimResult<Value> {
    if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
        let essence = ct.split(';').next().unwrap_or("").trim();
        if essence != CONTENT_TYPE && essence != "application/json" {
            return Err(ScimError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                None,
                "send application/scim+json (or application/json)",
            ));
        }
    }
    let limit = LIMITS.max_payload_size;
    let body = payload
        .to_bytes_limited(limit)
        .await
        .map_err(|_| ScimError::payload_too_large(limit))?
        .map_err(|_| ScimError::invalid_syntax("the request body could not be read"))?;
    serde_json::from_slice(&body)
        .map_err(|e| ScimError::invalid_syntax(format!("the body is not valid JSON: {e}")))
}

fn header_str(req: &HttpRequest, name: header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn json_response(status: StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, CONTENT_TYPE))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body.to_string())
}

/// A single resource, with its `ETag` (and `Location` on 201).
fn resource_response(
    status: StatusCode,
    doc: serde_json::Map<String, Value>,
    version: i64,
) -> HttpResponse {
    let location = doc
        .get("meta")
        .and_then(|m| m.get("location"))
        .and_then(Value::as_str)
        .and_then(|l| HeaderValue::from_str(l).ok());
    let mut res = json_response(status, &Value::Object(doc));
    if let Ok(v) = HeaderValue::from_str(&etag(version)) {
        res.headers_mut().insert(header::ETAG, v);
    }
    if status == StatusCode::CREATED
        && let Some(l) = location
    {
        res.headers_mut().insert(header::LOCATION, l);
    }
    res
}

fn not_modified(version: i64) -> HttpResponse {
    let mut res = HttpResponse::NotModified().finish();
    if let Ok(v) = HeaderValue::from_str(&etag(version)) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res
}

async fn method_not_allowed() -> HttpResponse {
    actix_web::ResponseError::error_response(&ScimError::method_not_allowed())
}

async fn unknown_path(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ScimResult<HttpResponse> {
    open(&req, &state, &path).await?;
    Err(ScimError::not_found(
        "there is no SCIM endpoint at this path",
    ))
}

async fn other_version() -> HttpResponse {
    actix_web::ResponseError::error_response(&ScimError::bad(
        "invalidVers",
        "this service speaks SCIM 2.0, at /scim/v2",
    ))
}

async fn me(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ScimResult<HttpResponse> {
    open(&req, &state, &path).await?;
    Err(ScimError::new(
        StatusCode::NOT_IMPLEMENTED,
        None,
        "/Me is not supported: SCIM tokens belong to provisioning clients, not users",
    ))
}

// --- Users ---

async fn users_list(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ScimResult<HttpResponse> {
    let ctx = open(&req, &state, &path).await?;
    let q = ListQuery::from_query(req.query_string())?;
    let (total, page) = users::list(&ctx, &q).await?;
    Ok(json_response(
        StatusCode::OK,
        &list::response(total, q.start_index, page),
    ))
}

async fn users_search(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    payload: web::Payload,
) -> ScimResult<HttpResponse> {
    let ctx = open(&req, &state, &path).await?;
    let q = ListQuery::from_search(&read_json(&req, payload).await?)?;
    let (total, page) = users::list(&ctx, &q).await?;
    Ok(json_response(
        StatusCode::OK,
        &list::response(total, q.start_index, page),
    ))
}

async fn users_create(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    payload: web::Payload,
) -> ScimResult<HttpResponse> {
    let ctx = open(&req, &state, &path).await?;
    let body = read_json(&req, payload).await?;
    let u = users::create(&ctx, &body).await?;
    let p = Projection::from_query(req.query_string())?;
    Ok(resource_response(
        StatusCode::CREATED,
        users::projected(&ctx, &u, &[], &p),
        u.version,
    ))
}

async fn user_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ScimResult<HttpResponse> {
    let (slug, id) = path.into_inner();
    let ctx = open(&req, &state, &slug).await?;
    let (u, g) = users::get(&ctx, &id).await?;
    if header_str(&req, header::IF_NONE_MATCH).is_some_and(|h| etag_matches(h, u.version)) {
        return Ok(not_modified(u.version));
    }
    let p = Projection::from_query(req.query_string())?;
    Ok(resource_response(
        StatusCode::OK,
        users::projected(&ctx, &u, &g, &p),
        u.version,
    ))
}

async fn user_write(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> ScimResult<HttpResponse> {
    let (slug, id) = path.into_inner();
    let ctx = open(&req, &state, &slug).await?;
    let body = read_json(&req, payload).await?;
    let if_match = header_str(&req, header::IF_MATCH);
    let u = if req.method() == Method::PUT {
        users::replace(&ctx, &id, &body, if_match).await?
    } else {
        users::patch(&ctx, &id, &body, if_match).await?
    };
    // The write returned the stored user; only its groups are left to read.
    let g = users::groups_of(ctx.db, &[u.id])
        .await?
        .remove(&u.id)
        .unwrap_or_default();
    let p = Projection::from_query(req.query_string())?;
    Ok(resource_response(
        StatusCode::OK,
        users::projected(&ctx, &u, &g, &p),
        u.version,
    ))
}

async fn user_put(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> ScimResult<HttpResponse> {
    user_write(req, state, path, payload).await
}

async fn user_patch(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> ScimResult<HttpResponse> {
    user_write(req, state, path, payload).await
}

async fn user_delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ScimResult<HttpResponse> {
    let (slug, id) = path.into_inner();
    let ctx = open(&req, &state, &slug).await?;
    users::delete(&ctx, &id, header_str(&req, header::IF_MATCH)).await?;
    Ok(HttpResponse::NoContent().finish())
}

// --- Groups ---

async fn groups_list(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ScimResult<HttpResponse> {
    let ctx = open(&req, &state, &path).await?;
    let q = ListQuery::from_query(req.query_string())?;
    let (total, page) = groups::list(&ctx, &q).await?;
    Ok(json_response(
        StatusCode::OK,
        &list::response(total, q.start_index, page),
    ))
}

async fn groups_search(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    payload: web::Payload,
) -> ScimResult<HttpResponse> {
    let ctx = open(&req, &state, &path).await?;
    let q = ListQuery::from_search(&read_json(&req, payload).await?)?;
    let (total, page) = groups::list(&ctx, &q).await?;
    Ok(json_response(
        StatusCode::OK,
        &list::response(total, q.start_index, page),
    ))
}

async fn groups_create(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    payload: web::Payload,
) -> ScimResult<HttpResponse> {
    let ctx = open(&req, &state, &path).await?;
    let body = read_json(&req, payload).await?;
    let g = groups::create(&ctx, &body).await?;
    let p = Projection::from_query(req.query_string())?;
    let members = groups::members_as_asked(&ctx, &g, &p).await?;
    Ok(resource_response(
        StatusCode::CREATED,
        groups::projected(&ctx, &g, members.as_deref(), &p),
        g.version,
    ))
}

async fn group_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ScimResult<HttpResponse> {
    let (slug, id) = path.into_inner();
    let ctx = open(&req, &state, &slug).await?;
    let p = Projection::from_query(req.query_string())?;
    if let Some(h) = header_str(&req, header::IF_NONE_MATCH) {
        let g = groups::find(&ctx, &id).await?;
        if etag_matches(h, g.version) {
            return Ok(not_modified(g.version));
        }
    }
    let (g, members) = groups::get(&ctx, &id, &p).await?;
    Ok(resource_response(
        StatusCode::OK,
        groups::projected(&ctx, &g, members.as_deref(), &p),
        g.version,
    ))
}

async fn group_put(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> ScimResult<HttpResponse> {
    let (slug, id) = path.into_inner();
    let ctx = open(&req, &state, &slug).await?;
    let body = read_json(&req, payload).await?;
    let g = groups::replace(&ctx, &id, &body, header_str(&req, header::IF_MATCH)).await?;
    let p = Projection::from_query(req.query_string())?;
    let members = groups::members_as_asked(&ctx, &g, &p).await?;
    Ok(resource_response(
        StatusCode::OK,
        groups::projected(&ctx, &g, members.as_deref(), &p),
        g.version,
    ))
}

/// PATCH on a group answers 204 (RFC 7644 §3.5.2 allows it), so that changing one member of
/// a large group does not send the whole membership back; with `attributes` or
/// `excludedAttributes`, the group as asked for.
async fn group_patch(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> ScimResult<HttpResponse> {
    let (slug, id) = path.into_inner();
    let ctx = open(&req, &state, &slug).await?;
    let body = read_json(&req, payload).await?;
    let g = groups::patch(&ctx, &id, &body, header_str(&req, header::IF_MATCH)).await?;
    let p = Projection::from_query(req.query_string())?;
    if p.is_empty() {
        let mut res = HttpResponse::NoContent().finish();
        if let Ok(v) = HeaderValue::from_str(&etag(g.version)) {
            res.headers_mut().insert(header::ETAG, v);
        }
        return Ok(res);
    }
    let members = groups::members_as_asked(&ctx, &g, &p).await?;
    Ok(resource_response(
        StatusCode::OK,
        groups::projected(&ctx, &g, members.as_deref(), &p),
        g.version,
    ))
}

async fn group_delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ScimResult<HttpResponse> {
    let (slug, id) = path.into_inner();
    let ctx = open(&req, &state, &slug).await?;
    groups::delete(&ctx, &id, header_str(&req, header::IF_MATCH)).await?;
    Ok(HttpResponse::NoContent().finish())
}

// --- Root search, Bulk ---

/// POST `/.search` at the root: Users then Groups, paged as one list (a filter is optional,
/// RFC 7644 §3.4.3, as on `/Users`: the page bounds the answer).
async fn root_search(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    payload: web::Payload,
) -> ScimResult<HttpResponse> {
    let ctx = open(&req, &state, &path).await?;
    let q = ListQuery::from_search(&read_json(&req, payload).await?)?;
    // Each type answers for the attributes it has; a filter or sortBy neither type knows is
    // an error, one that only one type knows sorts that type only.
    let (uq, gq) = match &q.sort_by {
        Some(by) => {
            let backend = ctx.db.get_database_backend();
            let u = sql::sort_expr(backend, sql::Table::Users, by);
            let g = sql::sort_expr(backend, sql::Table::Groups, by);
            if let (Err(e), Err(_)) = (&u, &g) {
                return Err(e.clone());
            }
            let unsorted = |ok: bool| ListQuery {
                sort_by: if ok { q.sort_by.clone() } else { None },
                ..q.clone()
            };
            (unsorted(u.is_ok()), unsorted(g.is_ok()))
        }
        None => (q.clone(), q.clone()),
    };
    // Users first, then Groups after them: one list query per type (each counts its total).
    // A filter that only the other type understands makes a type empty; one that neither
    // understands, or a server error, is the answer.
    let (user_total, mut page, user_err) = match users::list(&ctx, &uq).await {
        Ok((total, page)) => (total, page, None),
        Err(e) if e.status.is_client_error() => (0, Vec::new(), Some(e)),
        Err(e) => return Err(e),
    };
    let gq = ListQuery {
        start_index: q.start_index.saturating_sub(user_total).max(1),
        count: q.count.saturating_sub(page.len() as u64),
        ..gq
    };
    let group_total = match (groups::list(&ctx, &gq).await, user_err) {
        (Ok((total, groups)), _) => {
            page.extend(groups);
            total
        }
        (Err(e), Some(_)) => return Err(e),
        (Err(e), None) if !e.status.is_client_error() => return Err(e),
        (Err(_), None) => 0,
    };
    Ok(json_response(
        StatusCode::OK,
        &list::response(user_total + group_total, q.start_index, page),
    ))
}

async fn bulk_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    payload: web::Payload,
) -> ScimResult<HttpResponse> {
    let ctx = open(&req, &state, &path).await?;
    let body = read_json(&req, payload).await?;
    let out = bulk::run(&ctx, &body).await?;
    Ok(json_response(StatusCode::OK, &out))
}

// --- Discovery ---

async fn service_provider_config(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ScimResult<HttpResponse> {
    let ctx = open(&req, &state, &path).await?;
    Ok(json_response(
        StatusCode::OK,
        &schema::service_provider_config(&ctx.base, &LIMITS),
    ))
}

async fn schemas(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ScimResult<HttpResponse> {
    let ctx = open(&req, &state, &path).await?;
    let all: Vec<serde_json::Map<String, Value>> = schema::all_schemas()
        .into_iter()
        .filter_map(|s| match schema::schema_document(s, &ctx.base) {
            Value::Object(o) => Some(o),
            _ => None,
        })
        .collect();
    let total = all.len() as u64;
    Ok(json_response(
        StatusCode::OK,
        &list::response(total, 1, all),
    ))
}

async fn schema_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ScimResult<HttpResponse> {
    let (slug, id) = path.into_inner();
    let ctx = open(&req, &state, &slug).await?;
    let s =
        schema::schema_by_id(&id).ok_or_else(|| ScimError::not_found(format!("no schema {id}")))?;
    Ok(json_response(
        StatusCode::OK,
        &schema::schema_document(s, &ctx.base),
    ))
}

async fn resource_types(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ScimResult<HttpResponse> {
    let ctx = open(&req, &state, &path).await?;
    let all: Vec<serde_json::Map<String, Value>> = schema::resource_types()
        .into_iter()
        .filter_map(|rt| match schema::resource_type_document(rt, &ctx.base) {
            Value::Object(o) => Some(o),
            _ => None,
        })
        .collect();
    let total = all.len() as u64;
    Ok(json_response(
        StatusCode::OK,
        &list::response(total, 1, all),
    ))
}

async fn resource_type_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ScimResult<HttpResponse> {
    let (slug, id) = path.into_inner();
    let ctx = open(&req, &state, &slug).await?;
    let rt = schema::resource_type(&id)
        .ok_or_else(|| ScimError::not_found(format!("no resource type {id}")))?;
    Ok(json_response(
        StatusCode::OK,
        &schema::resource_type_document(rt, &ctx.base),
    ))
}
