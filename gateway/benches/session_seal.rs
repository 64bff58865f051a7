//! Criterion micro-benchmarks of `/mcp` session ids (`cargo bench -p llamagate-gateway
//! --bench session_seal`): what sealing an id at `initialize` and opening it on every
//! request add, on any replica, instead of a lookup in a shared store. Figures only:
//! nothing here passes or fails.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use llamagate_gateway::aggregate::seal::{Claims, Sealer};

fn claims() -> Claims {
    Claims {
        pv: "2025-11-25".into(),
        exp: u64::MAX,
        key: "team-a-production".into(),
        view: "/mcp".into(),
        sid: "3f1c0a9e5b7d4e2f8a6c1b0d9e8f7a6b".into(),
        caps: vec!["elicitation".into()],
        up: Default::default(),
    }
}

/// A session that owns sessions at four upstream servers (ids as long as the Python SDK's).
fn claims_with_upstreams() -> Claims {
    let mut claims = claims();
    for server in ["github", "docs", "tickets", "search"] {
        claims
            .up
            .insert(server.into(), "0f8e0d62c7c54a83b1f3f1a3c6b9e2d4".into());
    }
    claims
}

fn sealing(c: &mut Criterion) {
    let sealer = Sealer::new(&[vec![7u8; 32]]);
    let claims = claims();
    c.bench_function("session id: seal (initialize)", |b| {
        b.iter(|| sealer.seal(black_box(&claims)))
    });
    let id = sealer.seal(&claims);
    c.bench_function("session id: open (every request)", |b| {
        b.iter(|| sealer.open(black_box(&id), 0))
    });
    // After a rotation the old key is tried second: the worst case of a valid id.
    let rotated = Sealer::new(&[vec![9u8; 32], vec![7u8; 32]]);
    c.bench_function("session id: open with the second of two keys", |b| {
        b.iter(|| rotated.open(black_box(&id), 0))
    });
    let owning = claims_with_upstreams();
    c.bench_function("session id with 4 upstream sessions: seal", |b| {
        b.iter(|| sealer.seal(black_box(&owning)))
    });
    let owning_id = sealer.seal(&owning);
    c.bench_function("session id with 4 upstream sessions: open", |b| {
        b.iter(|| sealer.open(black_box(&owning_id), 0))
    });
    println!(
        "session id length: {} bytes; with 4 upstream sessions: {} bytes",
        id.len(),
        owning_id.len()
    );
    let mut forged = id.clone().into_bytes();
    let last = forged.len() - 3;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    c.bench_function("session id: refuse a forged id", |b| {
        b.iter(|| rotated.open(black_box(&forged), 0))
    });
}

criterion_group!(benches, sealing);
criterion_main!(benches);
