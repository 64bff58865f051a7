//! Criterion micro-benchmarks of the MCP client's hot paths (`cargo bench -p llamagate-mcp`).
//! Figures only: nothing here passes or fails. docs/benchmarks.md records a run.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use llamagate_mcp::{
    Context, Endpoint, McpMetrics, RemoteEndpoint, RemoteTransport, ServerClient,
    ServerDescription, ServerName,
    cache::{CacheScope, ListCache, ListKind, Loaded},
    description::ToolGlobs,
    filter::ToolFilter,
    fuzzing,
};

/// A `tools/call` result as a server sends it, about 1 KiB.
fn call_result() -> Vec<u8> {
    let text = "x".repeat(900);
    serde_json::to_vec(&serde_json::json!({ "jsonrpc": "2.0", "id": 7, "result": {
        "content": [{ "type": "text", "text": text }], "isError": false } }))
    .expect("serializes")
}

fn framing(c: &mut Criterion) {
    let message = call_result();
    c.bench_function(
        "json-rpc: a 1 KiB tools/call result decoded, recorded, id found",
        |b| b.iter(|| fuzzing::server_message(black_box(&message))),
    );
    let mut stream = Vec::new();
    for i in 0..3 {
        stream.extend_from_slice(b"event: message\ndata: ");
        stream.extend_from_slice(&call_result());
        stream.extend_from_slice(format!("\nid: {i}\n\n").as_bytes());
    }
    let cuts = [100, 1500, 2600];
    c.bench_function(
        "sse: three 1 KiB events in four chunks, limited and parsed",
        |b| b.iter(|| fuzzing::sse_stream(black_box(&stream), &cuts, 1 << 20)),
    );
}

fn tool_filter(c: &mut Criterion) {
    let globs = |allow: &[&str], deny: &[&str]| ToolGlobs {
        allow: allow.iter().map(|s| s.to_string()).collect(),
        deny: deny.iter().map(|s| s.to_string()).collect(),
    };
    let global = globs(&["*"], &["rm_*", "*_admin"]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let _entered = runtime.enter();
    let endpoint = Endpoint::Remote(
        RemoteEndpoint::new(RemoteTransport::StreamableHttp, "http://127.0.0.1:9/mcp")
            .expect("a URL"),
    );
    let mut description = ServerDescription::new(ServerName::new("s").expect("a name"), endpoint);
    description.tools = globs(&["read_*", "list_*"], &["read_secret*"]);
    let server = ServerClient::new(
        description.clone(),
        &Context::new(McpMetrics::unregistered()),
    );
    let mut group = c.benchmark_group("tool filter of a call");
    group.bench_function("compiled per request (before)", |b| {
        b.iter(|| ToolFilter::new(&global, &description.tools).allows(black_box("read_file")))
    });
    group.bench_function("compiled once per server (now)", |b| {
        b.iter(|| server.tool_filter(&global).allows(black_box("read_file")))
    });
    group.finish();
}

/// A cached `tools/list` of 50 tools: the lookup every chat request and listing makes.
fn cache_lookup(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let tools: Vec<serde_json::Value> = (0..50)
        .map(
            |i| serde_json::json!({"name": format!("tool_{i}"), "inputSchema": {"type": "object"}}),
        )
        .collect();
    let listing = std::sync::Arc::new(tools);
    let ttl = std::time::Duration::from_secs(300);
    let mut group = c.benchmark_group("cache lookup of a fresh tools/list");
    for scope in [CacheScope::Shared, CacheScope::Private] {
        let cache = ListCache::default();
        let loaded = Loaded {
            value: listing.clone(),
            ttl_hint: None,
            scope,
        };
        let load = || async { Ok::<_, ()>(loaded.clone()) };
        runtime
            .block_on(cache.get_or_load(ListKind::Tools, "key", ttl, load))
            .expect("stored");
        group.bench_function(format!("{scope:?}"), |b| {
            b.iter(|| {
                runtime.block_on(cache.get_or_load(
                    ListKind::Tools,
                    black_box("key"),
                    ttl,
                    || async { Err::<Loaded<_>, ()>(()) },
                ))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, framing, tool_filter, cache_lookup);
criterion_main!(benches);
