//! The `McpServer` custom resource: one MCP server the gateways may use.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::core::v1::{EnvVar, ResourceRequirements, SecretKeySelector},
    apimachinery::pkg::apis::meta::v1::{Condition, Time},
};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    duration,
    validation::{FieldErrors, check_url_scheme},
};

pub use llamagate_mcp::{ProtocolMode, Transport};

/// An MCP server that the gateways may use: one that already runs (`url`) or one the
/// operator runs (`deployment`).
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "llamagate.io",
    version = "v1alpha1",
    kind = "McpServer",
    plural = "mcpservers",
    shortname = "mcps",
    category = "llamagate",
    namespaced,
    status = "McpServerStatus",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Transport","type":"string","jsonPath":".spec.transport"}"#,
    printcolumn = r#"{"name":"Tools","type":"integer","jsonPath":".status.toolCount"}"#,
    printcolumn = r#"{"name":"Latency","type":"string","jsonPath":".status.latency"}"#,
    printcolumn = r#"{"name":"Last Probe","type":"date","jsonPath":".status.lastProbeTime"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[x_kube(validation = Rule::new("has(self.url) ? !has(self.deployment) : has(self.deployment)").message("set exactly one of spec.url (a server that already runs) or spec.deployment (the operator runs it)"))]
#[x_kube(validation = Rule::new("self.transport != 'stdio' || has(self.deployment)").message("a stdio server needs spec.deployment: the operator runs its command under `llamagate bridge`"))]
#[x_kube(validation = Rule::new("!has(self.url) || (self.transport == 'websocket' ? (self.url.startsWith('ws://') || self.url.startsWith('wss://')) : (self.url.startsWith('http://') || self.url.startsWith('https://')))").message("spec.url must start with ws:// or wss:// for transport websocket, and with http:// or https:// otherwise"))]
#[x_kube(validation = Rule::new("self.transport != 'stdio' || !has(self.deployment) || (has(self.deployment.command) && size(self.deployment.command) > 0)").message("a stdio server needs spec.deployment.command: the program the bridge runs"))]
#[serde(rename_all = "camelCase")]
pub struct McpServerSpec {
    /// How the gateway talks to the server: `streamable-http`, `sse`, `websocket` or `stdio`.
    pub transport: Transport,
    /// Address of a server that already runs (`http(s)://` or, for websocket, `ws(s)://`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub url: Option<String>,
    /// Run the server in the cluster. A `stdio` server is run under `llamagate bridge`, which
    /// serves it as Streamable HTTP and WebSocket on `port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<ManagedDeployment>,
    /// MCP protocol era: `auto` probes with `server/discover` and falls back to `initialize`.
    #[serde(default)]
    pub protocol: ProtocolMode,
    /// Credentials sent with every request to the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<McpAuth>,
    /// Which tools of the server are exposed (globs; deny wins).
    #[serde(default)]
    pub tools: ToolFilter,
    /// Connection and call timeouts.
    #[serde(default)]
    pub timeouts: Timeouts,
    /// Sessions each gateway replica keeps to this server.
    #[serde(default)]
    pub pool: PoolSpec,
    /// How the server is probed.
    #[serde(default)]
    pub health_check: HealthCheckSpec,
}

/// A server the operator runs as a Deployment and Service.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManagedDeployment {
    /// Container image of the server.
    #[schemars(length(min = 1))]
    pub image: String,
    /// Entrypoint; for `stdio` the program the bridge runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Arguments to the command.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Environment of the server container (literal or from Secrets and ConfigMaps).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// Port the server (or the bridge) listens on.
    #[serde(default = "default_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
    /// Pods of the server. When omitted the operator leaves the count to whoever scales the
    /// Deployment (an HPA, `kubectl scale`); a new Deployment starts with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub replicas: Option<i32>,
    /// CPU and memory requests and limits of the server container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
}

fn default_port() -> i32 {
    8080
}

/// Credentials for the server: a bearer token and arbitrary headers.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct McpAuth {
    /// Sent as `Authorization: Bearer <token>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token: Option<SecretOrValue>,
    /// Extra headers sent with every request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<HeaderValue>,
}

/// A header sent to the server.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeaderValue {
    /// Header name, e.g. `X-Api-Key`.
    #[schemars(regex(pattern = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$"))]
    pub name: String,
    /// Value of the header.
    #[serde(flatten)]
    pub value: SecretOrValue,
}

/// A value given literally or read from a key of a Secret in the same namespace.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[x_kube(validation = Rule::new("has(self.value) ? !has(self.secretKeyRef) : has(self.secretKeyRef)").message("set exactly one of value or secretKeyRef"))]
#[serde(rename_all = "camelCase")]
pub struct SecretOrValue {
    /// The literal value (prefer `secretKeyRef` for credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// A key of a Secret in the server's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<SecretKeySelector>,
}

/// Glob lists choosing which tools are exposed; a tool matching `deny` is never exposed.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ToolFilter {
    /// Tools to expose (globs such as `read_*`).
    #[serde(default = "allow_everything")]
    pub allow: Vec<String>,
    /// Tools never to expose, even when allowed.
    #[serde(default)]
    pub deny: Vec<String>,
}

fn allow_everything() -> Vec<String> {
    vec!["*".to_owned()]
}

impl Default for ToolFilter {
    fn default() -> Self {
        Self {
            allow: allow_everything(),
            deny: Vec::new(),
        }
    }
}

/// Timeouts for talking to the server.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Timeouts {
    /// Connecting and acquiring a session, e.g. `30s`.
    #[serde(default = "default_connect_timeout")]
    #[schemars(schema_with = "duration::schema")]
    pub connect: String,
    /// One tool call, e.g. `30s`.
    #[serde(default = "default_call_timeout")]
    #[schemars(schema_with = "duration::schema")]
    pub call: String,
}

fn default_connect_timeout() -> String {
    "30s".to_owned()
}

fn default_call_timeout() -> String {
    "30s".to_owned()
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: default_connect_timeout(),
            call: default_call_timeout(),
        }
    }
}

/// Sessions per gateway replica.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PoolSpec {
    /// Initialized sessions kept open to a legacy (2025) server.
    #[serde(default = "default_pool_size")]
    #[schemars(range(min = 1, max = 100))]
    pub size: i32,
    /// Concurrent requests on one session.
    #[serde(default = "default_max_in_flight")]
    #[schemars(range(min = 1, max = 1000))]
    pub max_in_flight: i32,
}

fn default_pool_size() -> i32 {
    4
}

fn default_max_in_flight() -> i32 {
    32
}

impl Default for PoolSpec {
    fn default() -> Self {
        Self {
            size: default_pool_size(),
            max_in_flight: default_max_in_flight(),
        }
    }
}

/// Probing of the server.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(validation = Rule::new("duration(self.timeout) < duration(self.interval)").message("healthCheck.timeout must be shorter than healthCheck.interval"))]
#[serde(rename_all = "camelCase")]
pub struct HealthCheckSpec {
    /// Time between probes, e.g. `30s`.
    #[serde(default = "default_health_interval")]
    #[schemars(schema_with = "duration::schema")]
    pub interval: String,
    /// How long one probe may take, e.g. `5s`.
    #[serde(default = "default_health_timeout")]
    #[schemars(schema_with = "duration::schema")]
    pub timeout: String,
    /// Consecutive failed probes before the server counts as unhealthy.
    #[serde(default = "default_failure_threshold")]
    #[schemars(range(min = 1, max = 100))]
    pub failure_threshold: i32,
}

fn default_health_interval() -> String {
    "30s".to_owned()
}

fn default_health_timeout() -> String {
    "5s".to_owned()
}

fn default_failure_threshold() -> i32 {
    3
}

impl Default for HealthCheckSpec {
    fn default() -> Self {
        Self {
            interval: default_health_interval(),
            timeout: default_health_timeout(),
            failure_threshold: default_failure_threshold(),
        }
    }
}

/// What the operator last observed of the server; written only by the operator.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct McpServerStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The endpoint gateways connect to (`spec.url`, or the managed Service's address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `Reachable`, `Verified`, `Ready`, and `Available` for managed servers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Name and version the server reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_info: Option<ServerInfo>,
    /// The negotiated MCP protocol version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<String>,
    /// Capabilities the server declared (`tools`, `resources`, `prompts`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub capabilities: BTreeMap<String, bool>,
    /// Tools the server lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_count: Option<i32>,
    /// Resources the server lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_count: Option<i32>,
    /// Prompts the server lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_count: Option<i32>,
    /// Round-trip time of the last probe in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<i64>,
    /// The last probe's latency for people, e.g. `12ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<String>,
    /// When the server was last probed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_probe_time: Option<Time>,
    /// Probes that failed in a row.
    #[serde(default)]
    pub consecutive_failures: i32,
}

/// Name and version an MCP server reports about itself.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct ServerInfo {
    /// Server name.
    pub name: String,
    /// Server version.
    #[serde(default)]
    pub version: String,
}

impl McpServerSpec {
    /// The cross-field rules of the CRD's CEL validations plus the syntax of every field
    /// that the schema cannot check (durations, globs); every problem is reported.
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::default();
        match (&self.url, &self.deployment) {
            (Some(_), Some(_)) | (None, None) => errors.push(
                "spec",
                "set exactly one of spec.url (a server that already runs) or spec.deployment (the operator runs it)",
            ),
            _ => {}
        }
        if self.transport == Transport::Stdio && self.deployment.is_none() {
            errors.push(
                "spec.deployment",
                "a stdio server needs spec.deployment: the operator runs its command under `llamagate bridge`",
            );
        }
        if let Some(url) = &self.url {
            check_url_scheme(self.transport, url, "spec.url", &mut errors);
        }
        if let Some(deployment) = &self.deployment {
            if self.transport == Transport::Stdio && deployment.command.is_empty() {
                errors.push(
                    "spec.deployment.command",
                    "a stdio server needs the program the bridge runs, e.g. [\"uvx\", \"mcp-server-time\"]",
                );
            }
            if deployment.image.trim().is_empty() {
                errors.push(
                    "spec.deployment.image",
                    "the container image must not be empty",
                );
            }
            if !(1..=65535).contains(&deployment.port) {
                errors.push(
                    "spec.deployment.port",
                    "must be a port number between 1 and 65535",
                );
            }
        }
        if let Some(auth) = &self.auth {
            if let Some(token) = &auth.bearer_token {
                token.validate("spec.auth.bearerToken", &mut errors);
            }
            for (i, header) in auth.headers.iter().enumerate() {
                header
                    .value
                    .validate(&format!("spec.auth.headers[{i}]"), &mut errors);
                if !is_header_name(&header.name) {
                    errors.push(
                        format!("spec.auth.headers[{i}].name"),
                        format!("`{}` is not a valid HTTP header name", header.name),
                    );
                }
            }
        }
        for (field, value) in [
            ("spec.timeouts.connect", &self.timeouts.connect),
            ("spec.timeouts.call", &self.timeouts.call),
        ] {
            if let Err(message) = duration::parse(value) {
                errors.push(field, message);
            }
        }
        self.validate_health_check(&mut errors);
        errors.into_result()
    }

    fn validate_health_check(&self, errors: &mut FieldErrors) {
        let check = &self.health_check;
        let interval = duration::parse(&check.interval)
            .map_err(|message| errors.push("spec.healthCheck.interval", message))
            .ok();
        let timeout = duration::parse(&check.timeout)
            .map_err(|message| errors.push("spec.healthCheck.timeout", message))
            .ok();
        if let (Some(interval), Some(timeout)) = (interval, timeout)
            && timeout >= interval
        {
            errors.push(
                "spec.healthCheck.timeout",
                "healthCheck.timeout must be shorter than healthCheck.interval",
            );
        }
    }
}

impl SecretOrValue {
    fn validate(&self, path: &str, errors: &mut FieldErrors) {
        if self.value.is_some() == self.secret_key_ref.is_some() {
            errors.push(path, "set exactly one of value or secretKeyRef");
        }
    }
}

/// RFC 9110 token characters.
pub(crate) fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+.^_`|~-".contains(&b))
}

#[cfg(test)]
#[path = "mcpserver_tests.rs"]
mod tests;
