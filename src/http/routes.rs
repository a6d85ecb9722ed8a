//! Route paths: one constant each, used by the router and by every link or document that
//! names them.

pub const HEALTH: &str = "/health";
pub const READY: &str = "/ready";
pub const STYLESHEET: &str = "/static/plinto.css";

/// Every tenant endpoint hangs below its issuer, `{public_url}/t/{tenant}`.
pub const TENANT_SCOPE: &str = "/t/{tenant}";

pub const LOGIN: &str = "/login";
pub const SIGNUP: &str = "/signup";
pub const LOGOUT: &str = "/logout";
pub const ACCOUNT: &str = "/account";
pub const ACCOUNT_PROFILE: &str = "/account/profile";
pub const ACCOUNT_PASSWORD: &str = "/account/password";
pub const ACCOUNT_SESSION_REVOKE: &str = "/account/sessions/{session}/revoke";
/// Change the account's address (a verification link goes to the new one).
pub const ACCOUNT_EMAIL: &str = "/account/email";
/// Prove who you are again before a sensitive change ("sudo mode"); `?return_to=`.
pub const ACCOUNT_REAUTH: &str = "/account/reauth";
/// The link in the message to the old address after an address change: undo it.
pub const EMAIL_UNDO: &str = "/email/undo";
/// Send the verification link again.
pub const ACCOUNT_EMAIL_VERIFY: &str = "/account/email/verify";
/// The link in verification emails: GET shows a button, POST verifies.
pub const VERIFY_EMAIL: &str = "/verify-email";
pub const PASSWORD_FORGOT: &str = "/password/forgot";
/// The link in password reset emails.
pub const PASSWORD_RESET: &str = "/password/reset";

pub const DISCOVERY: &str = "/.well-known/openid-configuration";
/// RFC 8414 metadata below the issuer (also served at the RFC 8414 §3 location,
/// [`OAUTH_METADATA_ROOT`]).
pub const OAUTH_METADATA: &str = "/.well-known/oauth-authorization-server";
/// RFC 8414 §3: the well-known segment goes between the host and the issuer's path.
pub const OAUTH_METADATA_ROOT: &str = "/.well-known/oauth-authorization-server/t/{tenant}";
pub const AUTHORIZE: &str = "/oauth2/authorize";
pub const CONSENT: &str = "/oauth2/consent";
pub const TOKEN: &str = "/oauth2/token";
pub const USERINFO: &str = "/oauth2/userinfo";
pub const JWKS: &str = "/oauth2/jwks";
pub const INTROSPECT: &str = "/oauth2/introspect";
pub const REVOKE: &str = "/oauth2/revoke";
pub const END_SESSION: &str = "/oauth2/logout";

/// SCIM 2.0 (RFC 7644): the service's base, below the issuer; resource paths below it.
pub const SCIM: &str = "/scim/v2";
/// Any other protocol version: `invalidVers`.
pub const SCIM_ANY_VERSION: &str = "/scim/{version}";
pub const SCIM_USERS: &str = "/Users";
pub const SCIM_USERS_SEARCH: &str = "/Users/.search";
pub const SCIM_USER: &str = "/Users/{id}";
pub const SCIM_GROUPS: &str = "/Groups";
pub const SCIM_GROUPS_SEARCH: &str = "/Groups/.search";
pub const SCIM_GROUP: &str = "/Groups/{id}";
pub const SCIM_SEARCH: &str = "/.search";
pub const SCIM_BULK: &str = "/Bulk";
pub const SCIM_SERVICE_PROVIDER_CONFIG: &str = "/ServiceProviderConfig";
pub const SCIM_SCHEMAS: &str = "/Schemas";
pub const SCIM_SCHEMA: &str = "/Schemas/{id}";
pub const SCIM_RESOURCE_TYPES: &str = "/ResourceTypes";
pub const SCIM_RESOURCE_TYPE: &str = "/ResourceTypes/{id}";
pub const SCIM_ME: &str = "/Me";

/// The path of a tenant route, e.g. `tenant_path("acme", LOGIN)` = `/t/acme/login`.
pub fn tenant_path(slug: &str, route: &str) -> String {
    format!("/t/{slug}{route}")
}

/// A tenant route that sends the browser on to `return_to` afterwards, e.g.
/// `/t/acme/login?return_to=%2Ft%2Facme%2Faccount`.
pub fn tenant_path_returning(slug: &str, route: &str, return_to: &str) -> String {
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("return_to", return_to)
        .finish();
    format!("{}?{q}", tenant_path(slug, route))
}

/// The path to revoke one session.
pub fn session_revoke_path(slug: &str, session: &uuid::Uuid) -> String {
    tenant_path(
        slug,
        &ACCOUNT_SESSION_REVOKE.replace("{session}", &session.to_string()),
    )
}

/// SAML 2.0 IdP: the metadata URL is also the IdP's entityID.
pub const SAML_METADATA: &str = "/saml/metadata";
/// SingleSignOnService, HTTP-Redirect (GET) and HTTP-POST.
pub const SAML_SSO: &str = "/saml/sso";
/// Where an AuthnRequest goes on once the user has signed in (`?id=`).
pub const SAML_SSO_CONTINUE: &str = "/saml/sso/continue";
/// IdP-initiated SSO: `?sp=<entityID>[&RelayState=…]`.
pub const SAML_SSO_INIT: &str = "/saml/sso/init";
/// SingleLogoutService, HTTP-Redirect (GET) and HTTP-POST.
pub const SAML_SLO: &str = "/saml/slo";

/// The second step of sign-in (TOTP or recovery code), and step-up of a session.
pub const LOGIN_MFA: &str = "/login/mfa";
/// Set up an authenticator app: GET shows the QR code, POST confirms the first code.
pub const ACCOUNT_TOTP: &str = "/account/mfa/totp";
pub const ACCOUNT_TOTP_REMOVE: &str = "/account/mfa/totp/remove";
/// New recovery codes (the old ones stop working).
pub const ACCOUNT_RECOVERY: &str = "/account/mfa/recovery";

/// The script of the WebAuthn ceremonies (the only JavaScript of the hosted pages).
pub const WEBAUTHN_SCRIPT: &str = "/static/webauthn.js";
/// Passkeys (JSON, called by the script): registration on the account page.
pub const PASSKEY_REGISTER_BEGIN: &str = "/account/passkeys/register/begin";
pub const PASSKEY_REGISTER_FINISH: &str = "/account/passkeys/register/finish";
/// Rename or remove one passkey (forms).
pub const PASSKEY_RENAME: &str = "/account/passkeys/{id}/rename";
pub const PASSKEY_REMOVE: &str = "/account/passkeys/{id}/remove";
/// Passwordless sign-in with a discoverable passkey.
pub const PASSKEY_LOGIN_BEGIN: &str = "/login/passkey/begin";
pub const PASSKEY_LOGIN_FINISH: &str = "/login/passkey/finish";
/// A passkey as the second factor (or step-up).
pub const PASSKEY_MFA_BEGIN: &str = "/login/mfa/passkey/begin";
pub const PASSKEY_MFA_FINISH: &str = "/login/mfa/passkey/finish";

/// The admin REST API: its base below the public URL; resource paths below it.
pub const ADMIN_API: &str = "/api/v1";
/// The OpenAPI 3.1 document of the admin API (no token needed).
pub const ADMIN_OPENAPI: &str = "/openapi.json";
/// The human-readable reference, rendered from that document.
pub const ADMIN_DOCS: &str = "/docs";
pub const ADMIN_TENANTS: &str = "/tenants";
pub const ADMIN_TENANT: &str = "/tenants/{tenant}";
pub const ADMIN_USERS: &str = "/tenants/{tenant}/users";
pub const ADMIN_USER: &str = "/tenants/{tenant}/users/{user}";
pub const ADMIN_USER_DISABLE: &str = "/tenants/{tenant}/users/{user}/disable";
pub const ADMIN_USER_ENABLE: &str = "/tenants/{tenant}/users/{user}/enable";
/// POST: remove the user's second factors (a lost device).
pub const ADMIN_USER_RESET_MFA: &str = "/tenants/{tenant}/users/{user}/reset-mfa";
pub const ADMIN_USER_SESSIONS: &str = "/tenants/{tenant}/users/{user}/sessions";
pub const ADMIN_USER_SESSION: &str = "/tenants/{tenant}/users/{user}/sessions/{session}";
pub const ADMIN_CLIENTS: &str = "/tenants/{tenant}/clients";
pub const ADMIN_CLIENT: &str = "/tenants/{tenant}/clients/{client}";
/// POST: a new secret (shown once).
pub const ADMIN_CLIENT_SECRET: &str = "/tenants/{tenant}/clients/{client}/secret";
pub const ADMIN_SCIM_TOKENS: &str = "/tenants/{tenant}/scim-tokens";
pub const ADMIN_SCIM_TOKEN: &str = "/tenants/{tenant}/scim-tokens/{token}";
pub const ADMIN_KEYS: &str = "/tenants/{tenant}/keys";
/// POST: retire the active signing keys and make new ones.
pub const ADMIN_KEYS_ROTATE: &str = "/tenants/{tenant}/keys/rotate";
pub const ADMIN_AUDIT_EVENTS: &str = "/tenants/{tenant}/audit-events";
