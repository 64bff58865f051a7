//! The file source of the MCP registry: each `mcp.servers` entry as the MCP client's
//! [`ServerDescription`], with the global `mcp` settings where the server has none.

use llamagate_mcp::{
    Endpoint, RemoteEndpoint, RemoteTransport, ServerDescription, ServerName, StdioCommand,
    description::{CacheTtls, DescriptionError, HealthSettings, PoolSettings, Timeouts, ToolGlobs},
};

use super::{McpConfig, ServerConfig, ToolFilterConfig, Transport};

impl From<&ToolFilterConfig> for ToolGlobs {
    fn from(filter: &ToolFilterConfig) -> Self {
        ToolGlobs {
            allow: filter.allow.clone(),
            deny: filter.deny.clone(),
        }
    }
}

impl ServerConfig {
    /// The MCP client's description of this server, with the global settings of `mcp` where
    /// the server has none of its own. Fails only on what validation rejects.
    pub fn describe(&self, mcp: &McpConfig) -> Result<ServerDescription, DescriptionError> {
        let endpoint = match self.transport {
            Transport::Stdio => {
                let mut command = StdioCommand::new(self.command.clone().unwrap_or_default())?;
                command.args = self.args.clone();
                command.env = self.env.clone();
                command.cwd = self.cwd.clone();
                Endpoint::Stdio(command)
            }
            transport => {
                let transport = match transport {
                    Transport::Sse => RemoteTransport::Sse,
                    Transport::Websocket => RemoteTransport::Websocket,
                    _ => RemoteTransport::StreamableHttp,
                };
                let mut remote =
                    RemoteEndpoint::new(transport, self.url.as_deref().unwrap_or_default())?;
                remote.bearer_token = self.api_key.clone();
                remote.headers = self.headers.clone();
                Endpoint::Remote(remote)
            }
        };
        let mut description = ServerDescription::new(ServerName::new(&self.name)?, endpoint);
        description.protocol = self.protocol;
        description.timeouts = Timeouts {
            connect: mcp.connection_timeout,
            call: self.timeout.unwrap_or(mcp.limits.tool_timeout),
        };
        description.pool = PoolSettings {
            size: self
                .connection_pool_size
                .unwrap_or(mcp.connection_pool_size),
            max_in_flight: mcp.max_in_flight_per_session,
        };
        description.health = HealthSettings {
            interval: mcp.health_check_interval,
            timeout: mcp.health_check_timeout,
            failure_threshold: mcp.health_failure_threshold,
        };
        description.cache = CacheTtls {
            tools: mcp.cache.tool_definitions_ttl,
            resources: mcp.cache.resource_metadata_ttl,
            prompts: mcp.cache.prompt_templates_ttl,
        };
        description.max_result_bytes = mcp.limits.max_tool_result_bytes.as_u64();
        description.tools = (&self.tools).into();
        description.enabled = self.enabled && mcp.enabled;
        Ok(description)
    }
}

impl McpConfig {
    /// Every server of the file as the MCP client describes it (the file source of the
    /// registry). Validation has already refused what cannot be described.
    pub fn descriptions(&self) -> Vec<ServerDescription> {
        self.servers
            .iter()
            .filter_map(|server| match server.describe(self) {
                Ok(description) => Some(description),
                Err(e) => {
                    tracing::error!(server = %server.name, "not registered: {e}");
                    None
                }
            })
            .collect()
    }
}
