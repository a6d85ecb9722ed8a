//! Per-core bounds measured in the same run, on the servers' core (a child process pinned
//! there, before and after the load, averaged: this machine's cores change speed): argon2id
//! hashes/s with Plinto's default parameters and JWT signatures/s per algorithm (josekit, as
//! Plinto signs), for a payload like an access token's.

use std::time::Instant;

use josekit::jws::{ES256, JwsHeader, JwsSigner, RS256};
use josekit::jwt::JwtPayload;

use crate::load::Op;

#[derive(Clone, Copy, Debug)]
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

    pub fn to_line(self) -> String {
        format!("{} {} {}", self.argon2, self.rs256, self.es256)
    }

    pub fn from_line(line: &str) -> Option<Self> {
        let mut it = line.split_whitespace().map(|v| v.parse::<f64>().ok());
        Some(Self {
            argon2: it.next()??,
            rs256: it.next()??,
            es256: it.next()??,
        })
    }

    pub fn mean(self, other: Self) -> Self {
        Self {
            argon2: (self.argon2 + other.argon2) / 2.0,
            rs256: (self.rs256 + other.rs256) / 2.0,
            es256: (self.es256 + other.es256) / 2.0,
        }
    }

    /// Measured on `cpu` by a child process (`plinto-bench --bounds`), else here.
    pub fn on_cpu(cpu: Option<usize>, secs: f64) -> Self {
        let measured = cpu.and_then(|cpu| {
            let exe = std::env::current_exe().ok()?;
            let out = std::process::Command::new("taskset")
                .arg("-c")
                .arg(cpu.to_string())
                .arg(exe)
                .arg("--bounds")
                .arg(secs.to_string())
                .output()
                .ok()?;
            Self::from_line(String::from_utf8_lossy(&out.stdout).trim())
        });
        measured.unwrap_or_else(|| measure(secs))
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
