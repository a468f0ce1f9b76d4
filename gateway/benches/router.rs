//! Route lookup and path normalization cost (plain timing loop; `cargo bench -p gateway`).
//!
//! Prints nanoseconds per operation for 1 and 100 routes, best of several rounds.

use std::hint::black_box;
use std::time::Instant;

use gateway::path::normalize;
use gateway::router::{RequestView, Router};
use gateway_core::model::Route;
use http::{HeaderMap, Method};
use serde_json::json;

fn routes(n: usize) -> Vec<Route> {
    (0..n)
        .map(|i| {
            serde_json::from_value(json!({
                "id": uuid::Uuid::from_u128(i as u128 + 1),
                "paths": [format!("/service-{i}/api")],
                "methods": ["GET", "POST"],
            }))
            .expect("route")
        })
        .collect()
}

/// Best-of-rounds nanoseconds per call of `f`.
fn time(mut f: impl FnMut()) -> f64 {
    const ITERS: u32 = 200_000;
    (0..5)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..ITERS {
                f();
            }
            t.elapsed().as_nanos() as f64 / f64::from(ITERS)
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let headers = HeaderMap::new();
    for n in [1usize, 100] {
        let rs = routes(n);
        let router = Router::build(rs.iter().enumerate()).expect("router");
        // `/service-0/api`: shortest prefix and smallest id, so it sorts last.
        let target = "/service-0/api/items/42";
        let path = normalize(target);
        let ns = time(|| {
            let view = RequestView {
                method: &Method::GET,
                host: Some("api.example"),
                path: &path,
                headers: &headers,
                local_port: 8080,
            };
            black_box(router.find(black_box(&view)));
        });
        println!("router.find, {n} routes, match sorted last: {ns:.0} ns");
    }
    let ns = time(|| {
        black_box(normalize(black_box("/service-7/api/items/42")));
    });
    println!("path::normalize (no escapes): {ns:.0} ns");
    let ns = time(|| {
        black_box(normalize(black_box("/a/%62%2Fc/./d/../e//f")));
    });
    println!("path::normalize (escapes, dot segments): {ns:.0} ns");
}
