//! End to end with an independent, certified-style RP library: the `openidconnect` crate does
//! discovery, the code flow with PKCE, ID token verification against the JWKS, UserInfo,
//! refresh and RP-initiated logout; a second client authenticates with `private_key_jwt`.

use josekit::jwk::Jwk;
use josekit::jws::{JwsHeader, RS256};
use josekit::jwt::JwtPayload;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthType, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    LogoutRequest, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PostLogoutRedirectUrl,
    ProviderMetadataWithLogout, RedirectUrl, Scope, TokenResponse,
};
use reqwest::StatusCode;

use crate::oidc::{LOGOUT_REDIRECT, REDIRECT, authorize, client, param, params_of};
use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, TestServer, location};

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct HttpError(String);

/// `openidconnect`'s HTTP client: reqwest, redirects not followed.
pub(crate) async fn http(
    req: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, HttpError> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| HttpError(e.to_string()))?;
    let req = reqwest::Request::try_from(req).map_err(|e| HttpError(e.to_string()))?;
    let res = client
        .execute(req)
        .await
        .map_err(|e| HttpError(e.to_string()))?;
    let mut out = openidconnect::http::Response::builder().status(res.status());
    for (k, v) in res.headers() {
        out = out.header(k, v);
    }
    let body = res.bytes().await.map_err(|e| HttpError(e.to_string()))?;
    out.body(body.to_vec())
        .map_err(|e| HttpError(e.to_string()))
}

pub(crate) async fn discover(s: &TestServer) -> ProviderMetadataWithLogout {
    ProviderMetadataWithLogout::discover_async(IssuerUrl::new(s.url("/t/default")).unwrap(), &http)
        .await
        .expect("discovery")
}

/// The path and query of an absolute URL on the test server.
pub(crate) fn local(s: &TestServer, url: &url::Url) -> String {
    url.as_str().strip_prefix(&s.base).unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openidconnect_rp_code_flow_userinfo_refresh_logout() {
    let s = TestServer::start().await;
    let rp = client(&s, |_| {}).await;
    let meta = discover(&s).await;
    let end_session = meta
        .additional_metadata()
        .end_session_endpoint
        .clone()
        .expect("end_session_endpoint");
    let oidc = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(rp.id.clone()),
        Some(ClientSecret::new(rp.secret.clone().unwrap())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = oidc
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let b = s.browser();
    let res = authorize(&b, &local(&s, &url), ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let p = params_of(&res);
    assert_eq!(param(&p, "state"), Some(csrf.secret().as_str()));
    let code = param(&p, "code").unwrap().to_string();

    let tokens = oidc
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("token exchange");
    let id_token = tokens.id_token().expect("an ID token").clone();
    let verifier = oidc.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &nonce)
        .expect("the ID token verifies");
    assert_eq!(claims.email().map(|e| e.as_str()), Some(ADMIN_EMAIL));
    let hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&hash));

    let info: CoreUserInfoClaims = oidc
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(info.subject(), claims.subject());
    assert_eq!(info.email().map(|e| e.as_str()), Some(ADMIN_EMAIL));

    let refreshed = oidc
        .exchange_refresh_token(tokens.refresh_token().expect("a refresh token"))
        .unwrap()
        .request_async(&http)
        .await
        .expect("refresh");
    assert_ne!(
        refreshed.refresh_token().unwrap().secret(),
        tokens.refresh_token().unwrap().secret()
    );
    let again = refreshed.id_token().unwrap();
    let c2 = again
        .claims(&verifier, |_: Option<&Nonce>| Ok(()))
        .expect("the refreshed ID token verifies");
    assert_eq!(c2.subject(), claims.subject());

    let logout = LogoutRequest::from(end_session)
        .set_id_token_hint::<_, CoreGenderClaim, _, _>(&id_token)
        .set_post_logout_redirect_uri(PostLogoutRedirectUrl::new(LOGOUT_REDIRECT.into()).unwrap())
        .set_state(CsrfToken::new("bye".into()))
        .http_get_url();
    let res = b.get(&local(&s, &logout)).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(location(&res), format!("{LOGOUT_REDIRECT}?state=bye"));
    s.stop().await;
}

fn rsa_key(kid: &str) -> (Jwk, serde_json::Value) {
    use josekit::jwk::KeyPair;
    let pair = RS256.generate_key_pair(2048).unwrap();
    let mut private = pair.to_jwk_key_pair();
    private.set_key_id(kid);
    let mut public = pair.to_jwk_public_key();
    public.set_key_id(kid);
    public.set_algorithm("RS256");
    let public: serde_json::Value = serde_json::from_str(&public.to_string()).unwrap();
    (private, serde_json::json!({ "keys": [public] }))
}

fn assertion(key: &Jwk, client_id: &str, aud: &str, jti: &str, now: i64) -> String {
    let mut header = JwsHeader::new();
    header.set_key_id(key.key_id().unwrap());
    let mut p = JwtPayload::new();
    p.set_issuer(client_id);
    p.set_subject(client_id);
    p.set_audience(vec![aud]);
    p.set_jwt_id(jti);
    p.set_claim("iat", Some(serde_json::json!(now))).unwrap();
    p.set_claim("exp", Some(serde_json::json!(now + 60)))
        .unwrap();
    let signer = RS256.signer_from_jwk(key).unwrap();
    josekit::jwt::encode_with_signer(&p, &header, &signer).unwrap()
}

/// A `jwks_uri` served over real HTTP.
async fn serve_jwks(jwks: serde_json::Value) -> (String, actix_web::dev::ServerHandle) {
    use actix_web::{App, HttpResponse, HttpServer, web};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let body = jwks.to_string();
    let server = HttpServer::new(move || {
        let body = body.clone();
        App::new().route(
            "/jwks.json",
            web::get().to(move || {
                let body = body.clone();
                async move {
                    HttpResponse::Ok()
                        .content_type("application/json")
                        .body(body)
                }
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    (url, handle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openidconnect_rp_with_private_key_jwt() {
    let s = TestServer::start().await;
    let (key, jwks) = rsa_key("rp-key-1");
    let (jwks_uri, jwks_server) = serve_jwks(jwks.clone()).await;
    for by_uri in [false, true] {
        let rp = client(&s, |c| {
            c.auth_method = Some("private_key_jwt".into());
            if by_uri {
                c.jwks_uri = Some(jwks_uri.clone());
            } else {
                c.jwks = Some(jwks.to_string());
            }
            c.skip_consent = true;
        })
        .await;
        assert!(rp.secret.is_none());
        let meta = discover(&s).await;
        let token_url = meta.token_endpoint().unwrap().url().to_string();
        let oidc = CoreClient::from_provider_metadata(meta, ClientId::new(rp.id.clone()), None)
            .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap())
            .set_auth_type(AuthType::RequestBody);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, _, nonce) = oidc
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge)
            .url();
        let b = s.browser();
        let res = authorize(&b, &local(&s, &url), ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let code = param(&params_of(&res), "code").unwrap().to_string();
        let now = s.state.now().timestamp();
        let jwt = assertion(&key, &rp.id, &token_url, &format!("jti-{by_uri}"), now);
        let tokens = oidc
            .exchange_code(AuthorizationCode::new(code))
            .unwrap()
            .set_pkce_verifier(verifier)
            .add_extra_param(
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            )
            .add_extra_param("client_assertion", jwt.clone())
            .request_async(&http)
            .await
            .expect("token exchange with private_key_jwt");
        tokens
            .id_token()
            .unwrap()
            .claims(&oidc.id_token_verifier(), &nonce)
            .expect("the ID token verifies");

        // The same assertion twice is a replay; a wrong audience or a foreign key fails too.
        let form = |jwt: &str| {
            format!(
                "grant_type=refresh_token&refresh_token={}&client_id={}&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={jwt}",
                tokens.refresh_token().unwrap().secret(),
                rp.id
            )
        };
        let (other_key, _) = rsa_key("rp-key-1");
        for bad in [
            jwt.clone(),
            assertion(&key, &rp.id, "https://elsewhere.example/token", "j2", now),
            assertion(&other_key, &rp.id, &token_url, "j3", now),
            assertion(&key, &rp.id, &token_url, "j4", now - 3600),
        ] {
            let res = reqwest::Client::new()
                .post(&token_url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form(&bad))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
            let body: serde_json::Value = res.json().await.unwrap();
            assert_eq!(body["error"], "invalid_client");
        }
        let res = reqwest::Client::new()
            .post(&token_url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&assertion(&key, &rp.id, &token_url, "j5", now)))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    jwks_server.stop(false).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openidconnect_rp_verifies_es256_and_eddsa_id_tokens() {
    use openidconnect::core::CoreJwsSigningAlgorithm;
    let s = TestServer::start().await;
    let b = s.browser();
    for (alg, core_alg) in [
        ("ES256", CoreJwsSigningAlgorithm::EcdsaP256Sha256),
        ("EdDSA", CoreJwsSigningAlgorithm::EdDsa),
    ] {
        let rp = client(&s, |c| {
            c.id_token_signed_response_alg = Some(alg.into());
            c.skip_consent = true;
        })
        .await;
        let oidc = CoreClient::from_provider_metadata(
            discover(&s).await,
            ClientId::new(rp.id.clone()),
            Some(ClientSecret::new(rp.secret.clone().unwrap())),
        )
        .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, _, nonce) = oidc
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge)
            .url();
        let res = authorize(&b, &local(&s, &url), ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let code = param(&params_of(&res), "code").unwrap().to_string();
        let tokens = oidc
            .exchange_code(AuthorizationCode::new(code))
            .unwrap()
            .set_pkce_verifier(verifier)
            .request_async(&http)
            .await
            .unwrap();
        let id_token = tokens.id_token().unwrap();
        let v = oidc.id_token_verifier().set_allowed_algs(vec![core_alg]);
        let claims = id_token.claims(&v, &nonce).expect(alg);
        let hash = AccessTokenHash::from_token(
            tokens.access_token(),
            id_token.signing_alg().unwrap(),
            id_token.signing_key(&v).unwrap(),
        )
        .unwrap();
        assert_eq!(claims.access_token_hash(), Some(&hash), "{alg} at_hash");
    }
    s.stop().await;
}
