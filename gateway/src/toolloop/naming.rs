//! Tool names as the model sees them. The canonical name is `mcp.<server>.<tool>`; OpenAI
//! function names must match `^[a-zA-Z0-9_-]{1,64}$`, so the wire name is
//! `mcp__<server>__<tool>` with every other character escaped, shortened with a hash when
//! it would pass 64 characters. The mapping back is a table built with the exposure, so it is
//! exact even for names that escape alike.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

/// Longest OpenAI function name.
pub const MAX_WIRE_NAME: usize = 64;

/// A tool of a server.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ToolRef {
    /// Server name.
    pub server: String,
    /// Tool name on that server.
    pub tool: String,
}

impl ToolRef {
    /// `mcp.<server>.<tool>`
    pub fn canonical(&self) -> String {
        format!("mcp.{}.{}", self.server, self.tool)
    }
}

fn escape(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The wire name of a tool (before collision handling).
pub fn wire_name(tool: &ToolRef) -> String {
    let plain = format!("mcp__{}__{}", escape(&tool.server), escape(&tool.tool));
    if plain.len() <= MAX_WIRE_NAME && escape(&tool.tool) == tool.tool {
        return plain;
    }
    hashed(tool, &plain, 0)
}

/// A name that keeps a readable prefix and ends with a hash of the canonical name, so that
/// different tools never share it.
fn hashed(tool: &ToolRef, plain: &str, salt: u32) -> String {
    let mut hasher = Sha256::new();
    hasher.update(tool.canonical().as_bytes());
    if salt > 0 {
        // Only for a tool whose name is taken already (see `NameTable::insert`).
        hasher.update(format!("\0{salt}").as_bytes());
    }
    let digest = hasher.finalize();
    let suffix: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
    let keep = MAX_WIRE_NAME - suffix.len() - 1;
    let prefix: String = plain.chars().take(keep).collect();
    format!("{prefix}_{suffix}")
}

/// The names of one exposure, both ways.
#[derive(Debug, Clone, Default)]
pub struct NameTable {
    by_wire: HashMap<String, ToolRef>,
    by_tool: HashMap<ToolRef, String>,
    by_canonical: HashMap<String, String>,
}

impl NameTable {
    /// Add a tool; returns its wire name.
    pub fn insert(&mut self, tool: ToolRef) -> String {
        // By the tool itself, not its canonical name: `mcp.a.b.c` is server `a` with tool
        // `b.c`, and also server `a.b` with tool `c` for names that did not come from a
        // checked server name (found by the `tool_names` fuzz target).
        if let Some(existing) = self.by_tool.get(&tool) {
            return existing.clone();
        }
        let plain = wire_name(&tool);
        let mut wire = plain.clone();
        let mut salt = 0;
        while self.by_wire.contains_key(&wire) {
            // Another tool has the name (names that escape alike, or the same canonical
            // name): a hash, salted again until it is free.
            wire = hashed(&tool, &plain, salt);
            salt += 1;
        }
        self.by_canonical
            .entry(tool.canonical())
            .or_insert_with(|| wire.clone());
        self.by_tool.insert(tool.clone(), wire.clone());
        self.by_wire.insert(wire.clone(), tool);
        wire
    }

    /// The tool a model's function name means: the wire name, or the canonical name.
    pub fn resolve(&self, name: &str) -> Option<&ToolRef> {
        self.by_wire.get(name).or_else(|| {
            self.by_canonical
                .get(name)
                .and_then(|wire| self.by_wire.get(wire))
        })
    }

    /// True when no MCP tool is exposed.
    pub fn is_empty(&self) -> bool {
        self.by_wire.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tools_whose_canonical_names_coincide_keep_their_own_names() {
        let one = ToolRef {
            server: "a.b".into(),
            tool: "c".into(),
        };
        let other = ToolRef {
            server: "a".into(),
            tool: "b.c".into(),
        };
        assert_eq!(one.canonical(), other.canonical());
        let mut table = NameTable::default();
        let (first, second) = (table.insert(one.clone()), table.insert(other.clone()));
        assert_ne!(first, second);
        assert_eq!(table.resolve(&first), Some(&one));
        assert_eq!(table.resolve(&second), Some(&other));
        assert_eq!(
            table.insert(other.clone()),
            second,
            "the same tool, the same name"
        );
    }

    fn tool(server: &str, tool: &str) -> ToolRef {
        ToolRef {
            server: server.into(),
            tool: tool.into(),
        }
    }

    fn valid(name: &str) -> bool {
        (1..=MAX_WIRE_NAME).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    }

    #[test]
    fn simple_names_stay_readable() {
        assert_eq!(
            wire_name(&tool("time", "get_current_time")),
            "mcp__time__get_current_time"
        );
        assert_eq!(
            wire_name(&tool("my-server", "do-it")),
            "mcp__my-server__do-it"
        );
    }

    #[test]
    fn dots_and_long_names_are_escaped_and_mapped_back_exactly() {
        let mut table = NameTable::default();
        let dotted = tool("fs", "files.read");
        let underscored = tool("fs", "files_read");
        let long = tool("a-very-long-server-name-indeed", &"x".repeat(80));
        let names: Vec<String> = [&dotted, &underscored, &long]
            .iter()
            .map(|t| table.insert((*t).clone()))
            .collect();
        for name in &names {
            assert!(valid(name), "{name}");
        }
        assert_ne!(names[0], names[1], "names that escape alike stay distinct");
        assert_eq!(table.resolve(&names[0]), Some(&dotted));
        assert_eq!(table.resolve(&names[1]), Some(&underscored));
        assert_eq!(table.resolve(&names[2]), Some(&long));
        assert_eq!(
            table.resolve("mcp.fs.files.read"),
            Some(&dotted),
            "the canonical name is accepted too"
        );
        assert_eq!(
            table.resolve("get_weather"),
            None,
            "client functions are not MCP tools"
        );
    }

    proptest::proptest! {
        /// Any server and tool names: every wire name is a valid OpenAI function name,
        /// distinct tools get distinct names, and both the wire and the canonical name map
        /// back to exactly the tool.
        #[test]
        fn names_round_trip_for_any_server_and_tool(
            tools in proptest::collection::vec(("[A-Za-z0-9_-]{1,48}", "\\PC{0,100}"), 1..40)
        ) {
            let mut table = NameTable::default();
            let mut wires: HashMap<String, ToolRef> = HashMap::new();
            for (server, name) in tools {
                let tool = tool(&server, &name);
                let wire = table.insert(tool.clone());
                proptest::prop_assert!(valid(&wire), "{wire:?}");
                if let Some(earlier) = wires.insert(wire.clone(), tool.clone()) {
                    proptest::prop_assert_eq!(&earlier, &tool, "two tools share {}", wire);
                }
                proptest::prop_assert_eq!(table.resolve(&wire), Some(&tool));
                proptest::prop_assert_eq!(table.resolve(&tool.canonical()), Some(&tool));
            }
            // Later tools never take an earlier one's name.
            for (wire, tool) in &wires {
                proptest::prop_assert_eq!(table.resolve(wire), Some(tool));
            }
        }
    }
}
