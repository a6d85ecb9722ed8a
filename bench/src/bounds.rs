//! Per-core bounds measured in the same run, on the load generator's core: argon2id hashes/s
//! with Plinto's default parameters and JWT signatures/s per algorithm (josekit, as Plinto
//! signs), for a payload like an access token's.

use std::time::Instant;

use josekit::jws::{ES256, JwsHeader, JwsSigner, RS256};
use josekit::jwt::JwtPayload;

use crate::load::Op;

pub struct Bounds {
    pub argon2: f64,
    pub rs256: f64,
    pub es256: f64,
}

impl Bounds {
    /// The most a server core can do of `op`, where one operation dominates its cost.
    pub fn for_op(&self, op: Op) -> Option<f64> {
        match op {
            Op::ClientCredentialsRs256 => Some(self.rs256),
            Op::ClientCredentialsEs256 => Some(self.es256),
            // One password verification per sign-in.
            Op::LoginFlow => Some(self.argon2),
            // Plinto signs an access token and an ID token (RS256 here) per refresh.
            Op::RefreshRotation => Some(self.rs256 / 2.0),
            _ => None,
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "argon2id (m=19456 KiB, t=2, p=1) {:.1} hashes/s; RS256 {:.0} signatures/s; \
             ES256 {:.0} signatures/s.",
            self.argon2, self.rs256, self.es256
        )
    }
}

fn rate(secs: f64, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < secs {
        f();
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn signing(signer: &dyn JwsSigner, secs: f64) -> f64 {
    let mut header = JwsHeader::new();
    header.set_token_type("at+jwt");
    header.set_key_id("0123456789abcdef");
    let mut p = JwtPayload::new();
    p.set_issuer("http://127.0.0.1:8080/t/default");
    p.set_subject("0123456789abcdefghij");
    let _ = p.set_claim("scope", Some("reports:read".into()));
    rate(secs, || {
        let _ = josekit::jwt::encode_with_signer(&p, &header, signer);
    })
}

pub fn measure(secs: f64) -> Bounds {
    let config = plinto::config::Config::default();
    let params = argon2::Params::new(
        config.argon2_m_cost,
        config.argon2_t_cost,
        config.argon2_p_cost,
        None,
    )
    .unwrap_or_default();
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = [0u8; 32];
    let argon2 = rate(secs, || {
        let _ = argon.hash_password_into(b"bench password 123", b"0123456789abcdef", &mut out);
    });
    let rs = RS256
        .generate_key_pair(2048)
        .and_then(|k| RS256.signer_from_der(k.to_der_private_key()));
    let es = ES256
        .generate_key_pair()
        .and_then(|k| ES256.signer_from_der(k.to_der_private_key()));
    Bounds {
        argon2,
        rs256: rs.map_or(0.0, |s| signing(&s, secs)),
        es256: es.map_or(0.0, |s| signing(&s, secs)),
    }
}
