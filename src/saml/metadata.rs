//! `GET {issuer}/saml/metadata`: the IdP's signed EntityDescriptor (SAML metadata §2.4.3).

use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError, web};
use askama::Template;

use super::{NameIdFormat, certs, response};
use crate::error::DomainResult;
use crate::http::routes;
use crate::state::AppState;
use crate::ui;

/// How long a copy of the metadata is valid (validUntil) and may be cached.
const VALID_DAYS: i64 = 7;

#[derive(Template)]
#[template(path = "saml/metadata.xml", escape = "html")]
struct MetadataXml<'a> {
    id: &'a str,
    entity_id: &'a str,
    valid_until: String,
    signature: String,
    certs: Vec<String>,
    slo: String,
    sso: String,
    formats: Vec<&'static str>,
}

/// The signed metadata document of a tenant.
pub async fn document(state: &AppState, tenant: &entity::tenant::Model) -> DomainResult<String> {
    let now = state.now();
    let enc = &state.keys.signing;
    let active = certs::active(&state.db, now, enc, tenant.id, &tenant.slug).await?;
    let published = certs::published(&state.db, now, tenant.id, state.key_retention()).await?;
    let signer = certs::signer(enc, &active)?;
    let issuer = state.config.issuer(&tenant.slug);
    let id = super::new_id()?;
    let xml = response::render(&MetadataXml {
        id: &id,
        entity_id: &super::entity_id(&issuer),
        valid_until: super::instant(now + chrono::Duration::days(VALID_DAYS)),
        signature: response::template_if(true, &id, &signer),
        certs: published
            .iter()
            .map(|c| certs::x509_b64(&c.cert_pem))
            .collect::<DomainResult<_>>()?,
        slo: format!("{issuer}{}", routes::SAML_SLO),
        sso: format!("{issuer}{}", routes::SAML_SSO),
        formats: NameIdFormat::ALL.iter().map(|f| f.urn()).collect(),
    })?;
    response::sign(&xml, &signer)
}

pub async fn get(state: web::Data<AppState>, path: web::Path<String>) -> HttpResponse {
    let tenant = match ui::load_tenant(&state, &path).await {
        Ok(t) => t,
        Err(e) => return e.error_response(),
    };
    match document(&state, &tenant).await {
        Ok(xml) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "application/samlmetadata+xml"))
            .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
            .body(xml),
        Err(e) => ui::UiError::from(e).error_response(),
    }
}
