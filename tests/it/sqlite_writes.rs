//! Concurrent writers on the embedded default (issue 16 §6): SCIM Bulk requests beside
//! single-user writes all succeed — writers wait their turn instead of failing with "database
//! is locked" — and every user they wrote is there. The same load runs on PostgreSQL when the
//! suite does.

use serde_json::{Value, json};

use crate::scim_client::{Scim, entra_user};
use crate::support::TestServer;

const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

fn bulk_of(writer: usize, round: usize, n: usize) -> Value {
    let ops: Vec<Value> = (0..n)
        .map(|i| {
            let name = format!("bulk{writer}-{round}-{i}@example.com");
            json!({ "method": "POST", "path": "/Users", "bulkId": format!("u{i}"),
                    "data": entra_user(&name, &format!("b{writer}-{round}-{i}")) })
        })
        .collect();
    json!({ "schemas": [BULK], "Operations": ops })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_bulk_and_single_writers_all_succeed() {
    let s = TestServer::start().await;
    let scim = Scim::new(&s, "default").await;
    let (bulk_writers, single_writers, rounds, per_bulk) = (4, 4, 5, 20);
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..bulk_writers {
        let scim = scim.clone();
        tasks.spawn(async move {
            let mut failures = Vec::new();
            for r in 0..rounds {
                let res = scim.post("/Bulk", &bulk_of(w, r, per_bulk)).await;
                if res.status != 200 {
                    failures.push(format!("bulk {w}/{r}: {} {}", res.status, res.text));
                    continue;
                }
                for op in res.body["Operations"].as_array().unwrap() {
                    if op["status"] != "201" {
                        failures.push(format!("bulk {w}/{r} op: {op}"));
                    }
                }
            }
            failures
        });
    }
    for w in 0..single_writers {
        let scim = scim.clone();
        tasks.spawn(async move {
            let mut failures = Vec::new();
            for i in 0..rounds * 5 {
                let name = format!("single{w}-{i}@example.com");
                let res = scim
                    .post("/Users", &entra_user(&name, &format!("s{w}-{i}")))
                    .await;
                if res.status != 201 {
                    failures.push(format!("single {w}/{i}: {} {}", res.status, res.text));
                    continue;
                }
                let id = res.id();
                let res = scim
                    .patch_ops(
                        &format!("/Users/{id}"),
                        json!([{ "op": "replace", "path": "displayName", "value": "Renamed" }]),
                    )
                    .await;
                if res.status != 200 {
                    failures.push(format!("patch {w}/{i}: {} {}", res.status, res.text));
                }
            }
            failures
        });
    }
    let mut failures = Vec::new();
    while let Some(done) = tasks.join_next().await {
        failures.extend(done.unwrap());
    }
    assert!(
        failures.is_empty(),
        "{} writes failed, e.g. {:?}",
        failures.len(),
        failures.iter().take(3).collect::<Vec<_>>()
    );
    let expected = bulk_writers * rounds * per_bulk + single_writers * rounds * 5;
    let list = scim.get("/Users?count=1").await;
    assert_eq!(
        list.body["totalResults"],
        expected as u64 + 1,
        "the admin too"
    );
    s.stop().await;
}
