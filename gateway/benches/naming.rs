//! Criterion micro-benchmarks of the tool-name mapping (`cargo bench -p llamagate-gateway`):
//! the function names a request shows the model, and the way back from a name to its tool.
//! Figures only: nothing here passes or fails.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use llamagate_gateway::toolloop::naming::{NameTable, ToolRef, wire_name};

/// 20 servers of 50 tools, some names long enough to be shortened.
fn tools() -> Vec<ToolRef> {
    (0..20)
        .flat_map(|s| {
            (0..50).map(move |t| ToolRef {
                server: format!("server-{s}"),
                tool: if t % 10 == 0 {
                    format!("a_rather_long_tool_name_that_needs_shortening_for_clients_{t}")
                } else {
                    format!("tool_{t}")
                },
            })
        })
        .collect()
}

fn naming(c: &mut Criterion) {
    let tools = tools();
    c.bench_function("naming: one tool's wire name", |b| {
        b.iter(|| wire_name(black_box(&tools[10])))
    });
    c.bench_function("naming: the table of 1,000 tools of one request", |b| {
        b.iter(|| {
            let mut table = NameTable::default();
            for tool in &tools {
                black_box(table.insert(tool.clone()));
            }
            table
        })
    });
    let mut table = NameTable::default();
    let names: Vec<String> = tools.iter().map(|t| table.insert(t.clone())).collect();
    c.bench_function(
        "naming: a model's tool call back to its tool (1,000 in the table)",
        |b| b.iter(|| table.resolve(black_box(&names[517])).map(|t| t.tool.len())),
    );
}

criterion_group!(benches, naming);
criterion_main!(benches);
