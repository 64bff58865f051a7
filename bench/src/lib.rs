//! The side-by-side benchmark harness (`llamagate-bench run`): starts the gateway, its
//! upstreams and the reference MCP server as separate processes on loopback, drives them with
//! its own load generator, and reports each comparison against its baseline from the same run.
//! `docs/benchmarks.md` says how to run it and what the last run measured.

pub mod harness;
pub mod load;
pub mod procs;
pub mod report;
pub mod run;
pub mod scenarios;
pub mod upstream;
