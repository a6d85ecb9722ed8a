//! SAML 2.0 IdP end to end: a test SP (tests/it/saml_sp.rs) on the other side, signatures
//! checked by the `xmlsec1` CLI against the published metadata and by samael's SP.

use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;

use crate::saml_sp::*;
use crate::support::{Browser, TestServer, location};

const EMAIL: &str = "ann@example.com";
const PASSWORD: &str = "correct horse battery staple";

struct Idp {
    s: TestServer,
    issuer: String,
}

impl Idp {
    async fn start() -> Self {
        let s = TestServer::start_with(|c| c.rate_limits = "off".into()).await;
        s.create_tenant("acme", false).await;
        s.create_user("acme", EMAIL, PASSWORD).await;
        let issuer = s.url("/t/acme");
        Idp { s, issuer }
    }

    fn sso(&self) -> String {
        format!("{}/saml/sso", self.issuer)
    }

    fn slo(&self) -> String {
        format!("{}/saml/slo", self.issuer)
    }

    fn entity_id(&self) -> String {
        format!("{}/saml/metadata", self.issuer)
    }

    async fn metadata(&self) -> String {
        let res = reqwest::get(self.entity_id()).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            res.headers()[CONTENT_TYPE].to_str().unwrap(),
            "application/samlmetadata+xml"
        );
        res.text().await.unwrap()
    }

    /// A test SP registered from its metadata, with extra CLI flags.
    fn register(&self, name: &str, requests_signed: bool, flags: &[&str]) -> TestSp {
        let sp = TestSp::new(
            &format!("https://{name}.example/sp"),
            &format!("https://{name}.example/acs"),
            &format!("https://{name}.example/slo"),
        );
        self.register_xml(&sp.metadata_xml(requests_signed, true), flags);
        sp
    }

    fn register_xml(&self, xml: &str, flags: &[&str]) {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), xml).unwrap();
        let path = file.path().to_str().unwrap().to_string();
        let mut args = vec!["saml-sp", "create", "--tenant", "acme", "--metadata", &path];
        args.extend_from_slice(flags);
        let out = self.s.cli(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Follow the browser through redirects on the IdP, signing in when the login page comes.
async fn follow(b: &Browser, res: reqwest::Response) -> reqwest::Response {
    follow_as(b, res, EMAIL).await
}

/// [`follow`], signing in as `login` (an address or a userName).
async fn follow_as(b: &Browser, mut res: reqwest::Response, login: &str) -> reqwest::Response {
    for _ in 0..10 {
        if !res.status().is_redirection() {
            return res;
        }
        let to = location(&res);
        if to.starts_with("https://") {
            return res;
        }
        if to.starts_with("/t/acme/login") {
            let page = b.get(&to).await;
            let html = page.text().await.unwrap();
            let csrf = crate::support::csrf_of(&html);
            let return_to = url::Url::parse(&format!("http://x{to}"))
                .unwrap()
                .query_pairs()
                .find(|(k, _)| k == "return_to")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            res = b
                .post(
                    "/t/acme/login",
                    &[
                        ("email", login),
                        ("password", PASSWORD),
                        ("return_to", &return_to),
                        ("csrf_token", &csrf),
                    ],
                )
                .await;
        } else {
            res = b.get(&to).await;
        }
    }
    panic!("too many redirects");
}

/// The SAMLResponse (XML) and RelayState of an auto-submitting form page posted to `acs`.
async fn posted(res: reqwest::Response, acs: &str) -> (String, Option<String>) {
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    let (action, fields) = auto_post_form(&html);
    assert_eq!(action, acs, "the form goes to the registered ACS URL");
    let b64 = form_field(&fields, "SAMLResponse").expect("a SAMLResponse");
    let xml = String::from_utf8(
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64).unwrap(),
    )
    .unwrap();
    (xml, form_field(&fields, "RelayState").map(str::to_string))
}

async fn sso_redirect(
    idp: &Idp,
    b: &Browser,
    sp: &TestSp,
    opts: AuthnOpts,
    sign: bool,
) -> (String, reqwest::Response) {
    let (id, xml) = sp.authn_request(&AuthnOpts {
        destination: Some(idp.sso()),
        ..opts
    });
    let q = sp.redirect_query(&xml, Some("relay/state?x=1&y"), sign);
    let res = b.get(&format!("/t/acme/saml/sso?{q}")).await;
    (id, follow(b, res).await)
}

async fn sso_post(
    idp: &Idp,
    b: &Browser,
    sp: &TestSp,
    opts: AuthnOpts,
    sign: bool,
) -> (String, reqwest::Response) {
    let (id, xml) = sp.authn_request(&AuthnOpts {
        destination: Some(idp.sso()),
        ..opts
    });
    let field = sp.post_field(&xml, sign);
    let res = b
        .post(
            "/t/acme/saml/sso",
            &[("SAMLRequest", &field), ("RelayState", "rs-post")],
        )
        .await;
    (id, follow(b, res).await)
}

/// Sign in at `sp` (SP-initiated, signed Redirect request) and return the SessionIndex of the
/// assertion samael accepted.
async fn session_index_at(idp: &Idp, b: &Browser, sp: &TestSp, md: &str) -> String {
    let (id, res) = sso_redirect(idp, b, sp, AuthnOpts::default(), true).await;
    let (xml, _) = posted(res, &sp.acs_url).await;
    let a = sp
        .samael_sp(md, false)
        .parse_xml_response(&xml, Some(&[id.as_str()]))
        .unwrap();
    a.authn_statements.unwrap()[0]
        .session_index
        .clone()
        .unwrap()
}

fn status_of(xml: &str) -> Vec<String> {
    xml.match_indices("StatusCode Value=\"")
        .map(|(i, m)| {
            let rest = &xml[i + m.len()..];
            rest[..rest.find('"').unwrap()]
                .rsplit(':')
                .next()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn metadata_is_signed_and_rotation_keeps_the_old_certificate() {
    let idp = Idp::start().await;
    let md = idp.metadata().await;
    let certs = idp_signing_certs(&md);
    assert_eq!(certs.len(), 1);
    xmlsec_verify(&md, "EntityDescriptor", &certs).expect("metadata signature");
    assert!(md.contains(&format!("entityID=\"{}\"", idp.entity_id())));
    for binding in [HTTP_REDIRECT, HTTP_POST] {
        assert!(md.contains(&format!(
            "<md:SingleSignOnService Binding=\"{binding}\" Location=\"{}\"/>",
            idp.sso()
        )));
        assert!(md.contains(&format!(
            "<md:SingleLogoutService Binding=\"{binding}\" Location=\"{}\"/>",
            idp.slo()
        )));
    }
    for f in [
        NAMEID_EMAIL,
        NAMEID_PERSISTENT,
        NAMEID_TRANSIENT,
        NAMEID_UNSPECIFIED,
    ] {
        assert!(md.contains(&format!("<md:NameIDFormat>{f}</md:NameIDFormat>")));
    }
    let mut tampered = md.replace("acme/saml/sso", "evil/saml/sso");
    assert!(xmlsec_verify(&tampered, "EntityDescriptor", &certs).is_err());
    tampered.clear();

    let out = idp.s.cli(&["saml-cert", "rotate", "--tenant", "acme"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rotated: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rotated["retired"].as_array().unwrap().len(), 1);
    let md2 = idp.metadata().await;
    let certs2 = idp_signing_certs(&md2);
    assert_eq!(
        certs2.len(),
        2,
        "old and new certificate during the overlap"
    );
    assert!(certs2.contains(&certs[0]));
    let new_cert = certs2.iter().find(|c| **c != certs[0]).unwrap().clone();
    let listed: serde_json::Value =
        serde_json::from_slice(&idp.s.cli(&["saml-cert", "list", "--tenant", "acme"]).stdout)
            .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    assert!(listed[0]["retired_at"].is_null() && !listed[1]["retired_at"].is_null());
    assert_eq!(
        listed[0]["sha256_fingerprint"],
        rotated["active"]["sha256_fingerprint"]
    );
    // Signed with the new certificate now.
    xmlsec_verify(&md2, "EntityDescriptor", &[new_cert.as_str()]).unwrap();
    assert!(xmlsec_verify(&md2, "EntityDescriptor", &[certs[0].as_str()]).is_err());

    // Past the overlap, the old one is gone.
    idp.s.clock.advance(chrono::Duration::days(2));
    let md3 = idp.metadata().await;
    assert_eq!(idp_signing_certs(&md3), vec![new_cert]);
    assert!(
        idp.s
            .audit_actions()
            .await
            .iter()
            .any(|(a, _, _)| a == "saml.cert.rotate")
    );
}

#[tokio::test]
async fn sp_initiated_sign_in_over_both_bindings() {
    let idp = Idp::start().await;
    // Requests must be signed (AuthnRequestsSigned in the metadata); both signatures.
    let sp = idp.register("app", true, &["--sign-response", "true"]);
    let b = idp.s.browser();

    let (id, res) = sso_redirect(&idp, &b, &sp, AuthnOpts::default(), true).await;
    let (xml, relay) = posted(res, &sp.acs_url).await;
    assert_eq!(relay.as_deref(), Some("relay/state?x=1&y"));
    let md = idp.metadata().await;
    let certs = idp_signing_certs(&md);
    xmlsec_verify(&xml, "Response", &certs).expect("Response signature");
    xmlsec_verify(&xml, "Assertion", &certs).expect("Assertion signature");
    assert!(
        xml.contains("xml-exc-c14n#")
            && xml.contains("rsa-sha256")
            && xml.contains("xmlenc#sha256")
    );
    let assertion = sp
        .samael_sp(&md, false)
        .parse_xml_response(&xml, Some(&[id.as_str()]))
        .expect("samael accepts the response");
    let subject = assertion.subject.unwrap();
    assert_eq!(subject.name_id.unwrap().value, EMAIL);
    assert!(xml.contains(&format!("InResponseTo=\"{id}\"")));
    assert!(xml.contains("<saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:Password</saml:AuthnContextClassRef>"));
    assert!(xml.contains("Name=\"urn:oid:0.9.2342.19200300.100.1.3\""));
    assert!(xml.contains(&format!(
        "<saml:AttributeValue>{EMAIL}</saml:AttributeValue>"
    )));
    assert!(xml.contains(&format!("<saml:Audience>{}</saml:Audience>", sp.entity_id)));

    // POST binding, already signed in: no login page; persistent NameID asked for.
    let (id2, res) = sso_post(
        &idp,
        &b,
        &sp,
        AuthnOpts {
            name_id_policy: Some((NAMEID_PERSISTENT.into(), true)),
            ..Default::default()
        },
        true,
    )
    .await;
    let (xml2, relay) = posted(res, &sp.acs_url).await;
    assert_eq!(relay.as_deref(), Some("rs-post"));
    xmlsec_verify(&xml2, "Assertion", &certs).unwrap();
    let a2 = sp
        .samael_sp(&md, false)
        .parse_xml_response(&xml2, Some(&[id2.as_str()]))
        .unwrap();
    let nid = a2.subject.unwrap().name_id.unwrap();
    assert_eq!(nid.format.as_deref(), Some(NAMEID_PERSISTENT));
    assert_ne!(nid.value, EMAIL);
    // Persistent is stable for the user at this SP.
    let (id3, res) = sso_post(
        &idp,
        &b,
        &sp,
        AuthnOpts {
            name_id_policy: Some((NAMEID_PERSISTENT.into(), false)),
            ..Default::default()
        },
        true,
    )
    .await;
    let (xml3, _) = posted(res, &sp.acs_url).await;
    let a3 = sp
        .samael_sp(&md, false)
        .parse_xml_response(&xml3, Some(&[id3.as_str()]))
        .unwrap();
    assert_eq!(a3.subject.unwrap().name_id.unwrap().value, nid.value);

    // A tampered response fails both verifiers.
    let tampered = xml.replace(EMAIL, "eve@example.com");
    assert!(xmlsec_verify(&tampered, "Assertion", &certs).is_err());
    assert!(
        sp.samael_sp(&md, false)
            .parse_xml_response(&tampered, Some(&[id.as_str()]))
            .is_err()
    );
    let logins = idp
        .s
        .audit_actions()
        .await
        .into_iter()
        .filter(|(a, _, _)| a == "saml.login")
        .count();
    assert_eq!(logins, 3);
}

#[tokio::test]
async fn encrypted_assertions_and_idp_initiated_sign_in() {
    let idp = Idp::start().await;
    let sp = idp.register("secure", false, &["--encrypt-assertion", "true"]);
    let b = idp.s.browser();
    let (id, res) = sso_redirect(&idp, &b, &sp, AuthnOpts::default(), false).await;
    let (xml, _) = posted(res, &sp.acs_url).await;
    assert!(xml.contains("EncryptedAssertion"));
    assert!(xml.contains("http://www.w3.org/2009/xmlenc11#aes256-gcm"));
    assert!(xml.contains("http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"));
    assert!(!xml.contains(EMAIL), "nothing of the user in clear text");
    let md = idp.metadata().await;
    let certs = idp_signing_certs(&md);
    let clear = xmlsec_decrypt_response(&xml, &sp.key_pem()).expect("decrypts");
    xmlsec_verify(&clear, "Assertion", &certs).expect("signed before encryption");
    let a = sp
        .samael_sp(&md, false)
        .parse_xml_response(&clear, Some(&[id.as_str()]))
        .unwrap();
    assert_eq!(a.subject.unwrap().name_id.unwrap().value, EMAIL);
    // Another SP's key cannot read it.
    let other = TestSp::new(
        "https://o.example",
        "https://o.example/acs",
        "https://o.example/slo",
    );
    assert!(xmlsec_decrypt_response(&xml, &other.key_pem()).is_err());

    // An SP whose metadata offers only AES-256-CBC gets CBC.
    let cbc = TestSp::new(
        "https://cbc.example/sp",
        "https://cbc.example/acs",
        "https://cbc.example/slo",
    );
    idp.register_xml(
        &cbc.metadata_xml(false, true).replace(
            "http://www.w3.org/2009/xmlenc11#aes256-gcm",
            "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
        ),
        &["--encrypt-assertion", "true"],
    );
    let (id, res) = sso_post(&idp, &b, &cbc, AuthnOpts::default(), false).await;
    let (xml, _) = posted(res, &cbc.acs_url).await;
    assert!(xml.contains("Algorithm=\"http://www.w3.org/2001/04/xmlenc#aes256-cbc\""));
    assert!(!xml.contains(EMAIL));
    let clear = xmlsec_decrypt_response(&xml, &cbc.key_pem()).expect("decrypts");
    xmlsec_verify(&clear, "Assertion", &certs).unwrap();
    cbc.samael_sp(&md, false)
        .parse_xml_response(&clear, Some(&[id.as_str()]))
        .unwrap();

    // IdP-initiated: an unsolicited Response, no InResponseTo.
    let plain = idp.register("portal", false, &[]);
    let res = b
        .get(&format!(
            "/t/acme/saml/sso/init?sp={}&RelayState=%2Fhome",
            pct(&plain.entity_id)
        ))
        .await;
    let (xml, relay) = posted(follow(&b, res).await, &plain.acs_url).await;
    assert_eq!(relay.as_deref(), Some("/home"));
    assert!(!xml.contains("InResponseTo"));
    xmlsec_verify(&xml, "Assertion", &certs).unwrap();
    let a = plain
        .samael_sp(&md, true)
        .parse_xml_response(&xml, None)
        .unwrap();
    assert_eq!(a.subject.unwrap().name_id.unwrap().value, EMAIL);

    // IdP-initiated without a session goes through the sign-in page first.
    let fresh = idp.s.browser();
    let res = fresh
        .get(&format!(
            "/t/acme/saml/sso/init?sp={}",
            pct(&plain.entity_id)
        ))
        .await;
    assert!(location(&res).starts_with("/t/acme/login?"));
    let (xml, relay) = posted(follow(&fresh, res).await, &plain.acs_url).await;
    assert!(relay.is_none());
    xmlsec_verify(&xml, "Assertion", &certs).unwrap();
    // An unknown SP gets a page, never a form.
    let res = fresh
        .get("/t/acme/saml/sso/init?sp=https%3A%2F%2Fnope")
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn single_logout_in_both_directions() {
    let idp = Idp::start().await;
    // SP-initiated over Redirect, answered over Redirect.
    let sp = idp.register("one", true, &[]);
    // An SP whose only SLO endpoint is HTTP-POST: answered with a POSTed, signed response.
    let sp2 = TestSp::new(
        "https://two.example/sp",
        "https://two.example/acs",
        "https://two.example/slo",
    );
    let md2 = sp2.metadata_xml(true, true).replace(
        &format!("<md:SingleLogoutService Binding=\"{HTTP_REDIRECT}\" Location=\"https://two.example/slo\"/>"),
        "",
    );
    idp.register_xml(&md2, &[]);
    let md = idp.metadata().await;
    let certs = idp_signing_certs(&md);
    let b = idp.s.browser();

    let session_index = session_index_at(&idp, &b, &sp, &md).await;
    let session_index2 = session_index_at(&idp, &b, &sp2, &md).await;

    // An unsigned LogoutRequest from an SP with a certificate is refused.
    let (_, lr) = sp.logout_request(&idp.slo(), EMAIL, NAMEID_EMAIL, Some(&session_index));
    let res = b
        .get(&format!(
            "/t/acme/saml/slo?{}",
            sp.redirect_query(&lr, None, false)
        ))
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        b.get("/t/acme/account").await.status(),
        StatusCode::OK,
        "still signed in"
    );

    // Signed over Redirect: the session ends, a signed LogoutResponse goes back.
    let (lr_id, lr) = sp.logout_request(&idp.slo(), EMAIL, NAMEID_EMAIL, Some(&session_index));
    let res = b
        .get(&format!(
            "/t/acme/saml/slo?{}",
            sp.redirect_query(&lr, Some("bye"), true)
        ))
        .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let to = location(&res);
    assert!(to.starts_with("https://one.example/slo?SAMLResponse="));
    let answer = verify_redirect(&to, &certs).expect("LogoutResponse signed by the IdP");
    assert!(answer.contains(&format!("InResponseTo=\"{lr_id}\"")));
    // sp2 was not told: PartialLogout under Success.
    assert_eq!(status_of(&answer), vec!["Success", "PartialLogout"]);
    assert!(to.contains("RelayState=bye"));
    let res = b.get("/t/acme/account").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "signed out at the IdP");

    // SP-initiated over POST to the POST-only SP, for a session of a second browser.
    let b2 = idp.s.browser();
    let si3 = session_index_at(&idp, &b2, &sp2, &md).await;
    assert_ne!(si3, session_index2);
    let (lr_id, lr) = sp2.logout_request(&idp.slo(), EMAIL, NAMEID_EMAIL, Some(&si3));
    let res = b2
        .post(
            "/t/acme/saml/slo",
            &[("SAMLRequest", &sp2.post_field(&lr, true))],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    let (action, fields) = auto_post_form(&html);
    assert_eq!(action, "https://two.example/slo");
    let resp = String::from_utf8(
        base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            form_field(&fields, "SAMLResponse").unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    xmlsec_verify(&resp, "LogoutResponse", &certs).expect("signed LogoutResponse");
    assert!(resp.contains(&format!("InResponseTo=\"{lr_id}\"")));
    assert_eq!(status_of(&resp), vec!["Success"]);
    assert_eq!(
        b2.get("/t/acme/account").await.status(),
        StatusCode::SEE_OTHER
    );

    // IdP-initiated: signing out at Plinto sends each SP of the session a signed
    // LogoutRequest (front-channel frames).
    let b3 = idp.s.browser();
    let (id4, res) = sso_post(&idp, &b3, &sp, AuthnOpts::default(), true).await;
    let (xml4, _) = posted(res, &sp.acs_url).await;
    let a4 = sp
        .samael_sp(&md, false)
        .parse_xml_response(&xml4, Some(&[id4.as_str()]))
        .unwrap();
    let si4 = a4.authn_statements.unwrap()[0]
        .session_index
        .clone()
        .unwrap();
    let res = b3.submit("/t/acme/logout", "/t/acme/logout", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("frame-src https://one.example"), "{csp}");
    let html = res.text().await.unwrap();
    let start = html
        .find("class=\"saml-logout\" hidden src=\"")
        .expect("a logout frame")
        + "class=\"saml-logout\" hidden src=\"".len();
    let src = html_unescape(&html[start..start + html[start..].find('"').unwrap()]);
    assert!(src.starts_with("https://one.example/slo?SAMLRequest="));
    let lr = verify_redirect(&src, &certs).expect("LogoutRequest signed by the IdP");
    assert!(lr.contains(&format!("<samlp:SessionIndex>{si4}</samlp:SessionIndex>")));
    assert!(lr.contains(&format!(">{EMAIL}</saml:NameID>")));
    // The SP answers into the frame.
    let (_, lresp) = sp.logout_response(&idp.slo(), "_x", STATUS_SUCCESS);
    let res = b3
        .get(&format!(
            "/t/acme/saml/slo?{}",
            sp.redirect_query(&lresp, None, true)
        ))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        idp.s
            .audit_actions()
            .await
            .iter()
            .filter(|(a, _, _)| a == "saml.logout")
            .count()
            >= 2
    );
}

/// Every refusal: a page before the SP and its ACS URL are verified, a signed status
/// Response after; never a 500.
#[tokio::test]
async fn bad_requests_get_a_page_or_a_signed_status() {
    let idp = Idp::start().await;
    let strict = idp.register("strict", true, &[]);
    let open = idp.register("open", false, &[]);
    let md = idp.metadata().await;
    let certs = idp_signing_certs(&md);
    let b = idp.s.browser();

    async fn page(b: &Browser, path: &str) -> String {
        let res = b.get(path).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{path}");
        let html = res.text().await.unwrap();
        assert!(
            !html.contains("SAMLResponse"),
            "no form to an unverified ACS"
        );
        html
    }
    let sso = |q: String| format!("/t/acme/saml/sso?{q}");
    let request = |sp: &TestSp, opts: AuthnOpts| {
        sp.authn_request(&AuthnOpts {
            destination: Some(idp.sso()),
            ..opts
        })
    };

    // Unsigned request from an SP that signs its requests.
    let (_, xml) = request(&strict, AuthnOpts::default());
    assert!(
        page(&b, &sso(strict.redirect_query(&xml, None, false)))
            .await
            .contains("must sign")
    );
    // Tampered Redirect signature: the RelayState changed after signing.
    let q = strict
        .redirect_query(&xml, Some("a"), true)
        .replace("RelayState=a", "RelayState=b");
    let html = page(&b, &sso(q.clone())).await;
    assert!(
        html.contains("signature could not be verified"),
        "{q}\n{html}"
    );
    // Signed by another key.
    let imposter = TestSp::new(&strict.entity_id, &strict.acs_url, &strict.slo_url);
    let q = imposter.redirect_query(&xml, None, true);
    page(&b, &sso(q)).await;
    // Tampered POST signature: content changed after signing.
    let signed = String::from_utf8(
        base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            strict.post_field(&xml, true),
        )
        .unwrap(),
    )
    .unwrap();
    let tampered = signed.replace("Version=\"2.0\"", "Version=\"2.0\" IsPassive=\"true\"");
    assert_ne!(tampered, signed);
    let res = b
        .post(
            "/t/acme/saml/sso",
            &[("SAMLRequest", &b64(tampered.as_bytes()))],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // ACS URL not registered, by URL and by index.
    let (_, xml) = request(
        &open,
        AuthnOpts {
            acs: Acs::Url("https://evil.example/acs".into()),
            ..Default::default()
        },
    );
    assert!(
        page(&b, &sso(open.redirect_query(&xml, None, false)))
            .await
            .contains("not")
    );
    let (_, xml) = request(
        &open,
        AuthnOpts {
            acs: Acs::Index(7),
            ..Default::default()
        },
    );
    page(&b, &sso(open.redirect_query(&xml, None, false))).await;
    // Unknown issuer, and no issuer.
    let (_, xml) = request(
        &open,
        AuthnOpts {
            issuer: Some("https://unknown.example".into()),
            ..Default::default()
        },
    );
    assert!(
        page(&b, &sso(open.redirect_query(&xml, None, false)))
            .await
            .contains("not registered")
    );
    let (_, xml) = request(
        &open,
        AuthnOpts {
            issuer: Some(String::new()),
            ..Default::default()
        },
    );
    page(&b, &sso(open.redirect_query(&xml, None, false))).await;
    // Malformed base64, DEFLATE, XML; a DTD with an external entity; oversize messages.
    page(&b, "/t/acme/saml/sso?SAMLRequest=%25%25%25not-base64").await;
    page(
        &b,
        &format!(
            "/t/acme/saml/sso?SAMLRequest={}",
            pct(&b64(b"plain, not deflated"))
        ),
    )
    .await;
    page(
        &b,
        &format!(
            "/t/acme/saml/sso?SAMLRequest={}",
            pct(&deflate_b64(b"<samlp:AuthnRequest"))
        ),
    )
    .await;
    page(
        &b,
        &format!(
            "/t/acme/saml/sso?SAMLRequest={}",
            pct(&deflate_b64(b"<a>not saml</a>"))
        ),
    )
    .await;
    // Well-formed but not what the SAML schema allows.
    let (_, xml) = request(&open, AuthnOpts::default());
    let invalid = xml.replace(
        "</samlp:AuthnRequest>",
        "<samlp:Bogus/></samlp:AuthnRequest>",
    );
    assert!(
        page(&b, &sso(open.redirect_query(&invalid, None, false)))
            .await
            .contains("schema")
    );
    let xxe = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>{}",
        xml.replace(
            "</samlp:AuthnRequest>",
            "<saml:Issuer>&x;</saml:Issuer></samlp:AuthnRequest>"
        )
    );
    assert!(
        page(&b, &sso(open.redirect_query(&xxe, None, false)))
            .await
            .contains("DTD")
    );
    let res = b
        .post("/t/acme/saml/sso", &[("SAMLRequest", &b64(xxe.as_bytes()))])
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(!res.text().await.unwrap().contains("root:"));
    let big = xml.replace(
        "</samlp:AuthnRequest>",
        &format!("<!-- {} --></samlp:AuthnRequest>", "x".repeat(200_000)),
    );
    page(&b, &sso(open.redirect_query(&big, None, false))).await;
    let res = b
        .post("/t/acme/saml/sso", &[("SAMLRequest", &b64(big.as_bytes()))])
        .await;
    assert!(
        matches!(
            res.status(),
            StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE
        ),
        "{}",
        res.status()
    );
    page(&b, "/t/acme/saml/sso").await;
    page(
        &b,
        "/t/acme/saml/sso/continue?id=00000000-0000-4000-8000-000000000000",
    )
    .await;
    assert_eq!(
        b.get("/t/nope/saml/sso").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        b.get("/t/nope/saml/metadata").await.status(),
        StatusCode::NOT_FOUND
    );

    // From here on the SP and its ACS URL are verified: signed status Responses.
    async fn status(b: &Browser, sp: &TestSp, q: String, certs: &[String]) -> Vec<String> {
        let res = follow(b, b.get(&format!("/t/acme/saml/sso?{q}")).await).await;
        let (xml, _) = posted(res, &sp.acs_url).await;
        xmlsec_verify(&xml, "Response", certs).expect("signed status response");
        assert!(!xml.contains("Assertion"));
        status_of(&xml)
    }
    // IsPassive without a session.
    let (_, xml) = request(
        &open,
        AuthnOpts {
            is_passive: true,
            ..Default::default()
        },
    );
    assert_eq!(
        status(&b, &open, open.redirect_query(&xml, None, false), &certs).await,
        ["Responder", "NoPassive"]
    );
    // Expired and future IssueInstant.
    for when in [
        chrono::Duration::minutes(-30),
        chrono::Duration::minutes(30),
    ] {
        let (_, xml) = request(
            &open,
            AuthnOpts {
                issue_instant: Some(chrono::Utc::now() + when),
                ..Default::default()
            },
        );
        assert_eq!(
            status(&b, &open, open.redirect_query(&xml, None, false), &certs).await,
            ["Requester", "RequestDenied"]
        );
    }
    // Wrong Destination.
    let (_, xml) = open.authn_request(&AuthnOpts {
        destination: Some("https://elsewhere.example/sso".into()),
        ..Default::default()
    });
    assert_eq!(
        status(&b, &open, open.redirect_query(&xml, None, false), &certs).await,
        ["Requester", "RequestDenied"]
    );
    // A signed request without its Destination (bindings §3.4.5.2).
    let (_, xml) = strict.authn_request(&AuthnOpts::default());
    assert_eq!(
        status(&b, &strict, strict.redirect_query(&xml, None, true), &certs).await,
        ["Requester", "RequestDenied"]
    );
    // A NameID format Plinto does not issue.
    let (_, xml) = request(
        &open,
        AuthnOpts {
            name_id_policy: Some((
                "urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName".into(),
                true,
            )),
            ..Default::default()
        },
    );
    assert_eq!(
        status(&b, &open, open.redirect_query(&xml, None, false), &certs).await,
        ["Requester", "InvalidNameIDPolicy"]
    );
    // An authentication context that cannot be met.
    let (_, xml) = request(
        &open,
        AuthnOpts {
            requested_authn_context: Some((
                "exact".into(),
                vec!["urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard".into()],
            )),
            ..Default::default()
        },
    );
    assert_eq!(
        status(&b, &open, open.redirect_query(&xml, None, false), &certs).await,
        ["Responder", "NoAuthnContext"]
    );

    // A replayed request ID: answered once, refused after.
    let (id, xml) = request(&open, AuthnOpts::default());
    let q = open.redirect_query(&xml, None, false);
    let (first, _) = posted(
        follow(&b, b.get(&sso(q.clone())).await).await,
        &open.acs_url,
    )
    .await;
    assert!(first.contains(&format!("InResponseTo=\"{id}\"")) && status_of(&first) == ["Success"]);
    assert_eq!(
        status(&b, &open, q, &certs).await,
        ["Requester", "RequestDenied"]
    );
    // The continue link of an answered request is spent.
    // ForceAuthn with a session: the sign-in page again (the test clock stands still: move
    // it, so that the session is older than the request).
    idp.s.clock.advance(chrono::Duration::seconds(5));
    let (_, xml) = request(
        &open,
        AuthnOpts {
            force_authn: true,
            ..Default::default()
        },
    );
    let res = b.get(&sso(open.redirect_query(&xml, None, false))).await;
    let cont = location(&res);
    let res = b.get(&cont).await;
    let login = location(&res);
    assert!(
        login.starts_with("/t/acme/login?") && login.contains("prompt=login"),
        "{login}"
    );
    let (resp, _) = posted(follow(&b, res).await, &open.acs_url).await;
    assert_eq!(status_of(&resp), ["Success"]);
    page(&b, &cont).await;
    // RequestedAuthnContext that Plinto meets (a password sign-in over plain HTTP).
    let (id, xml) = request(
        &open,
        AuthnOpts {
            requested_authn_context: Some((
                "minimum".into(),
                vec!["urn:oasis:names:tc:SAML:2.0:ac:classes:Password".into()],
            )),
            ..Default::default()
        },
    );
    let (resp, _) = posted(
        follow(
            &b,
            b.get(&sso(open.redirect_query(&xml, None, false))).await,
        )
        .await,
        &open.acs_url,
    )
    .await;
    open.samael_sp(&md, false)
        .parse_xml_response(&resp, Some(&[id.as_str()]))
        .unwrap();
    // No ACS URL or index in the request: the SP's default ACS.
    let (id, xml) = request(
        &open,
        AuthnOpts {
            acs: Acs::Omitted,
            ..Default::default()
        },
    );
    assert!(!xml.contains("AssertionConsumerService"));
    let (resp, _) = posted(
        follow(
            &b,
            b.get(&sso(open.redirect_query(&xml, None, false))).await,
        )
        .await,
        &open.acs_url,
    )
    .await;
    open.samael_sp(&md, false)
        .parse_xml_response(&resp, Some(&[id.as_str()]))
        .unwrap();
    let fails = idp
        .s
        .audit_actions()
        .await
        .into_iter()
        .filter(|(a, _, o)| a == "saml.login_failure" && o == "failure")
        .count();
    assert!(fails >= 6, "{fails}");
}

#[tokio::test]
async fn service_providers_from_the_command_line() {
    let idp = Idp::start().await;
    let sp = TestSp::new(
        "https://cli.example/sp",
        "https://cli.example/acs",
        "https://cli.example/slo",
    );
    let cert = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(cert.path(), sp.cert_pem()).unwrap();
    let out = idp.s.cli(&[
        "saml-sp",
        "create",
        "--tenant",
        "acme",
        "--entity-id",
        &sp.entity_id,
        "--acs-url",
        &sp.acs_url,
        "--slo-url",
        &sp.slo_url,
        "--cert",
        cert.path().to_str().unwrap(),
        "--nameid-format",
        "transient",
        "--sign-assertion",
        "false",
        "--sign-response",
        "true",
        "--want-authn-requests-signed",
        "--attribute",
        "email=http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
        "--attribute",
        "groups=",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(created, serde_json::json!({ "entity_id": sp.entity_id }));
    // Twice: a conflict, not a crash.
    let again = idp.s.cli(&[
        "saml-sp",
        "create",
        "--tenant",
        "acme",
        "--entity-id",
        &sp.entity_id,
        "--acs-url",
        &sp.acs_url,
    ]);
    assert!(!again.status.success());
    // Bad input.
    for args in [
        vec!["--entity-id", "x", "--acs-url", "not a url"],
        vec![
            "--entity-id",
            "y",
            "--acs-url",
            "https://y/acs",
            "--encrypt-assertion",
            "true",
        ],
        vec![
            "--entity-id",
            "z",
            "--acs-url",
            "https://z/acs",
            "--nameid-format",
            "kerberos",
        ],
        vec![
            "--entity-id",
            "w",
            "--acs-url",
            "https://w/acs",
            "--attribute",
            "shoe_size=urn:x",
        ],
        vec![
            "--entity-id",
            "v",
            "--acs-url",
            "https://v/acs",
            "--encryption-method",
            "des",
        ],
    ] {
        let mut all = vec!["saml-sp", "create", "--tenant", "acme"];
        all.extend(args);
        let out = idp.s.cli(&all);
        assert!(!out.status.success());
        assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    }
    let garbage = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(garbage.path(), "<!DOCTYPE x><x/>").unwrap();
    let out = idp.s.cli(&[
        "saml-sp",
        "create",
        "--tenant",
        "acme",
        "--metadata",
        garbage.path().to_str().unwrap(),
    ]);
    assert!(!out.status.success());

    let list: serde_json::Value =
        serde_json::from_slice(&idp.s.cli(&["saml-sp", "list", "--tenant", "acme"]).stdout)
            .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["name_id_format"], NAMEID_TRANSIENT);
    assert_eq!(list[0]["want_authn_requests_signed"], true);

    // The registration is what the IdP does: signed requests only, transient NameID, the
    // Response signed (not the assertion), renamed email attribute, no groups.
    let b = idp.s.browser();
    let (id, res) = sso_redirect(&idp, &b, &sp, AuthnOpts::default(), true).await;
    let (xml, _) = posted(res, &sp.acs_url).await;
    let md = idp.metadata().await;
    let certs = idp_signing_certs(&md);
    xmlsec_verify(&xml, "Response", &certs).unwrap();
    assert_eq!(xml.matches("<ds:Signature xmlns").count(), 1);
    let a = sp
        .samael_sp(&md, false)
        .parse_xml_response(&xml, Some(&[id.as_str()]))
        .unwrap();
    let nid = a.subject.unwrap().name_id.unwrap();
    assert_eq!(nid.format.as_deref(), Some(NAMEID_TRANSIENT));
    assert!(
        xml.contains("Name=\"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress\"")
    );
    assert!(!xml.contains("urn:oid:1.3.6.1.4.1.5923.1.5.1.1"));

    let out = idp
        .s
        .cli(&["saml-sp", "delete", "--tenant", "acme", &sp.entity_id]);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap(),
        serde_json::json!({ "deleted": sp.entity_id })
    );
    assert!(
        !idp.s
            .cli(&["saml-sp", "delete", "--tenant", "acme", &sp.entity_id])
            .status
            .success()
    );
    let (_, res) = sso_redirect(&idp, &b, &sp, AuthnOpts::default(), true).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

/// The default attributes carry the account and what SCIM provisioned: name parts and groups.
#[tokio::test]
async fn attributes_come_from_the_account_and_scim() {
    use crate::scim_client::{GROUP, Scim, USER};
    use serde_json::json;
    let idp = Idp::start().await;
    let scim = Scim::new(&idp.s, "acme").await;
    let found = scim
        .filter("Users", &format!("userName eq \"{EMAIL}\""))
        .await;
    let id = found.body["Resources"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let put = scim
        .put(
            &format!("/Users/{id}"),
            &json!({
                "schemas": [USER],
                "userName": EMAIL,
                "displayName": "Ann Example",
                "name": { "givenName": "Ann", "familyName": "Example" },
                "emails": [{ "value": EMAIL, "primary": true }],
            }),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text);
    for g in ["Engineering", "R&D <core>"] {
        let res = scim
            .post(
                "/Groups",
                &json!({ "schemas": [GROUP], "displayName": g, "members": [{ "value": id }] }),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.text);
    }
    let sp = idp.register("attrs", false, &[]);
    let b = idp.s.browser();
    let (rid, res) = sso_redirect(&idp, &b, &sp, AuthnOpts::default(), false).await;
    let (xml, _) = posted(res, &sp.acs_url).await;
    let md = idp.metadata().await;
    let a = sp
        .samael_sp(&md, false)
        .parse_xml_response(&xml, Some(&[rid.as_str()]))
        .unwrap();
    let attrs: std::collections::HashMap<String, Vec<String>> = a.attribute_statements.unwrap()[0]
        .attributes
        .iter()
        .map(|at| {
            (
                at.name.clone().unwrap(),
                at.values.iter().filter_map(|v| v.value.clone()).collect(),
            )
        })
        .collect();
    let get = |n: &str| attrs.get(n).cloned().unwrap_or_default();
    assert_eq!(get("urn:oid:0.9.2342.19200300.100.1.3"), [EMAIL]);
    assert_eq!(get("urn:oid:2.16.840.1.113730.3.1.241"), ["Ann Example"]);
    assert_eq!(get("urn:oid:2.5.4.42"), ["Ann"]);
    assert_eq!(get("urn:oid:2.5.4.4"), ["Example"]);
    assert_eq!(
        get("urn:oid:1.3.6.1.4.1.5923.1.5.1.1"),
        ["Engineering", "R&D <core>"]
    );
    assert!(xml.contains("FriendlyName=\"isMemberOf\""));
    assert!(xml.contains("NameFormat=\"urn:oasis:names:tc:SAML:2.0:attrname-format:uri\""));
}

/// The environment of a run of the pysaml2 SP (tests/outside/py/pysaml2_slo.py).
fn pysaml2_env<'a>(
    idp: &'a Idp,
    work: &'a std::path::Path,
    md: &'a str,
    phase: &'a str,
) -> Vec<(&'static str, String)> {
    vec![
        ("PHASE", phase.to_string()),
        ("WORKDIR", work.display().to_string()),
        ("SP_ENTITY_ID", "https://py.example/sp".to_string()),
        ("SP_BASE", "https://py.example".to_string()),
        ("IDP_METADATA", md.to_string()),
        ("IDP_ENTITY_ID", idp.entity_id()),
    ]
}

async fn pysaml2(env: Vec<(&'static str, String)>) -> serde_json::Value {
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    crate::outside::python("pysaml2_slo.py", &pairs).await
}

/// Issue 16 §4: pysaml2 in its defaults signs HTTP-Redirect LogoutRequests with RSA-SHA1.
/// Refused by default, with a message that says why and what to do; accepted (and audited)
/// once the SP is registered with `--allow-sha1`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pysaml2_sha1_logout_is_refused_with_the_reason_until_the_sp_allows_sha1() {
    let idp = Idp::start().await;
    let work = tempfile::tempdir().unwrap();
    let md_file = work.path().join("idp-metadata.xml");
    std::fs::write(&md_file, idp.metadata().await).unwrap();
    let md_path = md_file.display().to_string();
    let env = |phase: &'static str| pysaml2_env(&idp, work.path(), &md_path, phase);

    // The SP registers from the metadata pysaml2 writes for itself; pysaml2 wants the
    // Response signed by default, so the operator says so.
    let sp_md = pysaml2(env("metadata")).await;
    idp.register_xml(
        sp_md["metadata"].as_str().unwrap(),
        &["--sign-response", "true"],
    );

    // pysaml2 signs in (its AuthnRequest over Redirect) and reads the assertion.
    let b = idp.s.browser();
    let authn = pysaml2(env("authn")).await;
    let url = authn["url"].as_str().unwrap();
    let res = b.get(url.strip_prefix(&idp.s.base).unwrap()).await;
    let (xml, _) = posted(follow(&b, res).await, "https://py.example/acs").await;
    let mut acs = env("acs");
    acs.push((
        "SAML_RESPONSE",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, xml),
    ));
    let who = pysaml2(acs).await;
    assert_eq!(who["name_id"], EMAIL);

    // Its LogoutRequest, RSA-SHA1 by default: refused, saying so; still signed in.
    let logout = pysaml2(env("logout")).await;
    let url = logout["url"].as_str().unwrap();
    assert!(
        url.contains("SigAlg=http%3A%2F%2Fwww.w3.org%2F2000%2F09%2Fxmldsig%23rsa-sha1"),
        "{url}"
    );
    let res = b.get(url.strip_prefix(&idp.s.base).unwrap()).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = res.text().await.unwrap();
    assert!(
        page.contains(
            "signed with RSA-SHA1, which this IdP does not accept; sign with RSA-SHA256 or \
             allow SHA-1 for this SP"
        ),
        "{page}"
    );
    assert_eq!(b.get("/t/acme/account").await.status(), StatusCode::OK);
    assert!(
        !idp.s
            .audit_actions()
            .await
            .iter()
            .any(|(a, _, _)| a == "saml.sha1_accepted")
    );

    // The operator allows SHA-1 for this legacy SP: the same default request now works.
    let out = idp.s.cli(&[
        "saml-sp",
        "update",
        "--tenant",
        "acme",
        "https://py.example/sp",
        "--allow-sha1",
        "true",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["allow_sha1"], true);
    let logout = pysaml2(env("logout")).await;
    let url = logout["url"].as_str().unwrap();
    let res = b.get(url.strip_prefix(&idp.s.base).unwrap()).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let to = location(&res);
    assert!(
        to.starts_with("https://py.example/slo?SAMLResponse="),
        "{to}"
    );
    let md = idp.metadata().await;
    let answer = verify_redirect(&to, &idp_signing_certs(&md)).unwrap();
    assert_eq!(status_of(&answer), vec!["Success"]);
    assert_eq!(
        b.get("/t/acme/account").await.status(),
        StatusCode::SEE_OTHER,
        "signed out at the IdP"
    );
    let audit = idp.s.audit_actions().await;
    let sha1: Vec<_> = audit
        .iter()
        .filter(|(a, _, _)| a == "saml.sha1_accepted")
        .collect();
    assert_eq!(sha1.len(), 1, "{audit:?}");
    assert_eq!(sha1[0].1, "saml_sp:https://py.example/sp");
    assert!(audit.iter().any(|(a, _, _)| a == "saml.sp.update"));
    idp.s.stop().await;
}

/// The same rule over HTTP-POST: an enveloped RSA-SHA1 signature on a LogoutRequest is refused
/// with its reason, and verified (and audited) once the SP may use SHA-1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sha1_enveloped_logout_over_post_is_refused_until_allowed() {
    let idp = Idp::start().await;
    let sp = idp.register("legacy", true, &[]);
    let md = idp.metadata().await;
    let b = idp.s.browser();
    let session_index = session_index_at(&idp, &b, &sp, &md).await;
    let sha1_field = |xml: &str| {
        b64(sign_enveloped_with(
            xml,
            &sp.key,
            Some(&sp.cert_der),
            "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
            "http://www.w3.org/2000/09/xmldsig#sha1",
        )
        .as_bytes())
    };
    let (_, lr) = sp.logout_request(&idp.slo(), EMAIL, NAMEID_EMAIL, Some(&session_index));
    let res = b
        .post("/t/acme/saml/slo", &[("SAMLRequest", &sha1_field(&lr))])
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("signed with RSA-SHA1"));
    assert_eq!(b.get("/t/acme/account").await.status(), StatusCode::OK);

    let out = idp.s.cli(&[
        "saml-sp",
        "update",
        "--tenant",
        "acme",
        &sp.entity_id,
        "--allow-sha1",
        "true",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A tampered SHA-1 request is still refused: the signature is checked, not waved through.
    let (_, lr) = sp.logout_request(&idp.slo(), EMAIL, NAMEID_EMAIL, Some(&session_index));
    let signed = sign_enveloped_with(
        &lr,
        &sp.key,
        Some(&sp.cert_der),
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
        "http://www.w3.org/2000/09/xmldsig#sha1",
    );
    let tampered = b64(signed.replace(&session_index, "_other").as_bytes());
    let res = b
        .post("/t/acme/saml/slo", &[("SAMLRequest", &tampered)])
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let (lr_id, lr) = sp.logout_request(&idp.slo(), EMAIL, NAMEID_EMAIL, Some(&session_index));
    let res = b
        .post("/t/acme/saml/slo", &[("SAMLRequest", &sha1_field(&lr))])
        .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let answer = verify_redirect(&location(&res), &idp_signing_certs(&md)).unwrap();
    assert!(answer.contains(&format!("InResponseTo=\"{lr_id}\"")));
    assert_eq!(status_of(&answer), vec!["Success"]);
    assert_eq!(
        b.get("/t/acme/account").await.status(),
        StatusCode::SEE_OTHER
    );
    assert!(
        idp.s
            .audit_actions()
            .await
            .iter()
            .any(|(a, _, _)| a == "saml.sha1_accepted")
    );
    idp.s.stop().await;
}

/// Issue 17 §11 (SAML core §3.4.1.4): an AuthnRequest naming a `<Subject>` is answered about
/// that subject or with an error, never with a Success for whoever is signed in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authn_request_for_another_subject_is_denied() {
    let idp = Idp::start().await;
    idp.s
        .create_user("acme", "bob@example.com", "bob's own long password")
        .await;
    let sp = idp.register("subj", false, &[]);
    let md = idp.metadata().await;
    let b = idp.s.browser();
    // Ann is signed in at the IdP (a while ago).
    session_index_at(&idp, &b, &sp, &md).await;
    idp.s.clock.advance(chrono::Duration::seconds(5));

    let with_subject = |name_id: &str| {
        let (id, xml) = sp.authn_request(&AuthnOpts {
            destination: Some(idp.sso()),
            ..AuthnOpts::default()
        });
        let subject = format!(
            "</saml:Issuer><saml:Subject><saml:NameID Format=\"{NAMEID_EMAIL}\">{}</saml:NameID></saml:Subject>",
            esc(name_id)
        );
        (id, xml.replacen("</saml:Issuer>", &subject, 1))
    };

    // Bob's Subject while Ann's session exists: the sign-in page is shown again (the session
    // predates the request), and Ann signing in again still gets no assertion for herself.
    let (id, xml) = with_subject("bob@example.com");
    let q = sp.redirect_query(&xml, None, true);
    let res = b.get(&format!("/t/acme/saml/sso?{q}")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = b.get(&location(&res)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&res).starts_with("/t/acme/login"),
        "asks for a sign-in"
    );
    let (resp, _) = posted(follow(&b, res).await, &sp.acs_url).await;
    assert!(resp.contains(&format!("InResponseTo=\"{id}\"")));
    assert_eq!(status_of(&resp), vec!["Requester", "RequestDenied"]);
    assert!(!resp.contains(":Assertion"), "no assertion: {resp}");

    // Ann's own Subject: Success about Ann, without asking again.
    let (id, xml) = with_subject(EMAIL);
    let q = sp.redirect_query(&xml, None, true);
    let res = follow(&b, b.get(&format!("/t/acme/saml/sso?{q}")).await).await;
    let (resp, _) = posted(res, &sp.acs_url).await;
    assert_eq!(status_of(&resp), vec!["Success"]);
    let a = sp
        .samael_sp(&md, false)
        .parse_xml_response(&resp, Some(&[id.as_str()]))
        .unwrap();
    let subject = a.subject.unwrap().name_id.unwrap().value;
    assert_eq!(subject, EMAIL);
    idp.s.stop().await;
}

/// An account without an address (a SCIM userName) has no emailAddress NameID: the SP gets a
/// signed `InvalidNameIDPolicy` status, not a 500; persistent and unspecified still work. The
/// profile's phone number and the userName are attributes.
#[tokio::test]
async fn user_name_only_accounts_and_profile_attributes() {
    use crate::scim_client::{Scim, USER};
    use serde_json::json;
    let idp = Idp::start().await;
    let out = idp.s.cli(&[
        "tenant",
        "update",
        "acme",
        "--sign-in-with-username",
        "true",
    ]);
    assert!(out.status.success());
    idp.s.clock.advance(chrono::Duration::seconds(11)); // past the read cache
    let scim = Scim::new(&idp.s, "acme").await;
    let r = scim
        .post(
            "/Users",
            &json!({ "schemas": [USER], "userName": "E-7", "password": PASSWORD }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let found = scim
        .filter("Users", &format!("userName eq \"{EMAIL}\""))
        .await;
    let ann = found.body["Resources"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let put = scim
        .put(
            &format!("/Users/{ann}"),
            &json!({ "schemas": [USER], "userName": EMAIL,
                     "emails": [{ "value": EMAIL, "primary": true }],
                     "phoneNumbers": [{ "value": "+1 425 555 0100", "type": "work" }] }),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text);
    let sp = idp.register("mail", false, &[]);
    let md = idp.metadata().await;

    // emailAddress (the SP's format) for an account without an address: a status.
    let b = idp.s.browser();
    let (id, xml) = sp.authn_request(&AuthnOpts {
        destination: Some(idp.sso()),
        ..Default::default()
    });
    let q = sp.redirect_query(&xml, None, false);
    let res = follow_as(&b, b.get(&format!("/t/acme/saml/sso?{q}")).await, "E-7").await;
    let (xml, _) = posted(res, &sp.acs_url).await;
    assert_eq!(
        status_of(&xml),
        ["Responder", "InvalidNameIDPolicy"],
        "{xml}"
    );
    assert!(xml.contains(&format!("InResponseTo=\"{id}\"")));
    assert!(!xml.contains("<saml:Assertion"), "{xml}");

    // The same user, asking this SP for a persistent NameID, or at an SP registered with
    // unspecified (then the NameID is the userName): signed in.
    let plain = idp.register("plain", false, &["--nameid-format", "unspecified"]);
    for (sp, format, policy, expect) in [
        (
            &sp,
            NAMEID_PERSISTENT,
            Some((NAMEID_PERSISTENT.into(), true)),
            None,
        ),
        (&plain, NAMEID_UNSPECIFIED, None, Some("E-7")),
    ] {
        let (id, res) = sso_redirect_as(
            &idp,
            &b,
            sp,
            AuthnOpts {
                name_id_policy: policy,
                ..Default::default()
            },
            "E-7",
        )
        .await;
        let (xml, _) = posted(res, &sp.acs_url).await;
        assert_eq!(status_of(&xml), ["Success"], "{format}");
        let a = sp
            .samael_sp(&md, false)
            .parse_xml_response(&xml, Some(&[id.as_str()]))
            .unwrap();
        let name_id = a.subject.unwrap().name_id.unwrap();
        assert_eq!(name_id.format.as_deref(), Some(format));
        if let Some(v) = expect {
            assert_eq!(name_id.value, v);
        }
        let attrs: Vec<String> = a.attribute_statements.unwrap()[0]
            .attributes
            .iter()
            .map(|at| at.name.clone().unwrap())
            .collect();
        assert!(
            !attrs
                .iter()
                .any(|n| n == "urn:oid:0.9.2342.19200300.100.1.3")
        );
    }

    // An account with an address: emailAddress NameID, and the profile in the attributes.
    let b = idp.s.browser();
    let (rid, res) = sso_redirect(&idp, &b, &sp, AuthnOpts::default(), false).await;
    let (xml, _) = posted(res, &sp.acs_url).await;
    let a = sp
        .samael_sp(&md, false)
        .parse_xml_response(&xml, Some(&[rid.as_str()]))
        .unwrap();
    assert_eq!(a.subject.unwrap().name_id.unwrap().value, EMAIL);
    let attrs: std::collections::HashMap<String, Vec<String>> = a.attribute_statements.unwrap()[0]
        .attributes
        .iter()
        .map(|at| {
            (
                at.name.clone().unwrap(),
                at.values.iter().filter_map(|v| v.value.clone()).collect(),
            )
        })
        .collect();
    assert_eq!(attrs["urn:oid:2.5.4.20"], ["+1 425 555 0100"]);
    assert_eq!(attrs["urn:oid:0.9.2342.19200300.100.1.1"], [EMAIL]);
    assert!(xml.contains("FriendlyName=\"telephoneNumber\""));
}

async fn sso_redirect_as(
    idp: &Idp,
    b: &Browser,
    sp: &TestSp,
    opts: AuthnOpts,
    login: &str,
) -> (String, reqwest::Response) {
    let (id, xml) = sp.authn_request(&AuthnOpts {
        destination: Some(idp.sso()),
        ..opts
    });
    let q = sp.redirect_query(&xml, None, false);
    let res = b.get(&format!("/t/acme/saml/sso?{q}")).await;
    (id, follow_as(b, res, login).await)
}
