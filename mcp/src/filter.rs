//! Allow/deny globs over tool names: a tool is allowed when it matches an `allow` glob and no
//! `deny` glob, globally and for its server.

use std::sync::{Arc, Mutex};

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::description::ToolGlobs;

/// Compiled filters: the global one and a server's own.
#[derive(Debug, Clone)]
pub struct ToolFilter {
    layers: Vec<(GlobSet, GlobSet)>,
}

fn compile(globs: &[String]) -> GlobSet {
    let mut builder = GlobSetBuilder::new();
    for glob in globs {
        // The caller validated the globs (the gateway config, the CRD); one that does not
        // compile matches nothing.
        if let Ok(glob) = Glob::new(glob) {
            builder.add(glob);
        }
    }
    builder.build().unwrap_or_else(|_| GlobSet::empty())
}

impl ToolFilter {
    /// The global filter followed by the server's.
    pub fn new(global: &ToolGlobs, server: &ToolGlobs) -> Self {
        Self {
            layers: [global, server]
                .iter()
                .map(|f| (compile(&f.allow), compile(&f.deny)))
                .collect(),
        }
    }

    /// True when `tool` may be used.
    pub fn allows(&self, tool: &str) -> bool {
        self.layers
            .iter()
            .all(|(allow, deny)| allow.is_match(tool) && !deny.is_match(tool))
    }
}

/// A server's filter, compiled once for the global globs it was last asked with (globs
/// compile to regexes: far too slow to build per request).
#[derive(Debug, Default)]
pub(crate) struct CompiledFilter(Mutex<Option<(ToolGlobs, Arc<ToolFilter>)>>);

impl CompiledFilter {
    pub(crate) fn get(&self, global: &ToolGlobs, server: &ToolGlobs) -> Arc<ToolFilter> {
        let mut compiled = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match &*compiled {
            Some((globs, filter)) if globs == global => filter.clone(),
            _ => {
                let filter = Arc::new(ToolFilter::new(global, server));
                *compiled = Some((global.clone(), filter.clone()));
                filter
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(allow: &[&str], deny: &[&str]) -> ToolGlobs {
        ToolGlobs {
            allow: allow.iter().map(|s| s.to_string()).collect(),
            deny: deny.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn deny_wins_and_both_layers_apply() {
        let f = ToolFilter::new(
            &filter(&["*"], &["rm_*"]),
            &filter(&["read_*", "rm_*", "list"], &[]),
        );
        assert!(f.allows("read_file"));
        assert!(f.allows("list"));
        assert!(!f.allows("rm_rf"), "global deny wins over server allow");
        assert!(!f.allows("write_file"), "server allow narrows");
    }

    #[test]
    fn the_compiled_filter_follows_the_global_globs() {
        let compiled = CompiledFilter::default();
        let server = filter(&["*"], &[]);
        let open = compiled.get(&filter(&["*"], &[]), &server);
        assert!(open.allows("rm_rf"));
        assert!(Arc::ptr_eq(
            &open,
            &compiled.get(&filter(&["*"], &[]), &server)
        ));
        let strict = compiled.get(&filter(&["*"], &["rm_*"]), &server);
        assert!(
            !strict.allows("rm_rf"),
            "a changed global filter is compiled again"
        );
    }
}
