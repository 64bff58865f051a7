//! The `LlamaGate` custom resource: a gateway deployment in front of an LLM upstream.

use k8s_openapi::{
    api::core::v1::{ResourceRequirements, SecretKeySelector},
    apimachinery::pkg::{
        apis::meta::v1::{Condition, LabelSelector},
        util::intstr::IntOrString,
    },
};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    Transport, duration,
    validation::{FieldErrors, check_url_scheme},
};

/// A gateway deployment: replicas of `llamagate serve` that expose the tools of the selected
/// `McpServer`s to an OpenAI-compatible upstream.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "llamagate.io",
    version = "v1alpha1",
    kind = "LlamaGate",
    plural = "llamagates",
    shortname = "lg",
    category = "llamagate",
    namespaced,
    status = "LlamaGateStatus",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Replicas","type":"integer","jsonPath":".status.readyReplicas"}"#,
    printcolumn = r#"{"name":"Servers","type":"string","jsonPath":".status.mcpServers.summary"}"#,
    printcolumn = r#"{"name":"Endpoint","type":"string","jsonPath":".status.endpoint"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[x_kube(validation = Rule::new("!(has(self.replicas) && has(self.autoscaling))").message("set spec.replicas or spec.autoscaling, not both"))]
#[serde(rename_all = "camelCase")]
pub struct LlamaGateSpec {
    /// Fixed number of gateway pods (leave unset when `autoscaling` is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1000))]
    pub replicas: Option<i32>,
    /// A HorizontalPodAutoscaler for the gateway; the operator then never sets replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<Autoscaling>,
    /// Gateway image; defaults to the operator's own version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The OpenAI-compatible LLM server.
    pub upstream: Upstream,
    /// Which McpServers of the namespace the gateway uses; empty selects all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp_server_selector: Option<LabelSelector>,
    /// API keys clients must present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<GatewayAuth>,
    /// Tool loop limits.
    #[serde(default)]
    pub limits: ToolLoopLimits,
    /// Sessions per MCP server per replica.
    #[serde(default)]
    pub pool: GatewayPool,
    /// How long MCP list results are cached.
    #[serde(default)]
    pub cache: CacheTtls,
    /// The Service in front of the gateway pods.
    #[serde(default)]
    pub service: ServiceSpec,
    /// CPU and memory of a gateway container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// A PodDisruptionBudget for the gateway pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_disruption_budget: Option<PodDisruptionBudgetSpec>,
}

/// HorizontalPodAutoscaler settings.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(validation = Rule::new("self.minReplicas <= self.maxReplicas").message("autoscaling.minReplicas must not exceed autoscaling.maxReplicas"))]
#[serde(rename_all = "camelCase")]
pub struct Autoscaling {
    /// Fewest pods.
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 1000))]
    pub min_replicas: i32,
    /// Most pods.
    #[schemars(range(min = 1, max = 1000))]
    pub max_replicas: i32,
    /// Average CPU utilization to keep, in percent of the request.
    #[serde(
        default = "default_cpu_target",
        rename = "targetCPUUtilizationPercentage"
    )]
    #[schemars(range(min = 1, max = 100))]
    pub target_cpu_utilization_percentage: i32,
}

fn one() -> i32 {
    1
}

fn default_cpu_target() -> i32 {
    80
}

/// The LLM server the gateway forwards chat requests to.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Upstream {
    /// Base URL of the OpenAI-compatible API, e.g. `http://ollama:11434/v1`.
    #[schemars(regex(pattern = r"^https?://"))]
    pub url: String,
    /// Secret key holding the upstream API key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_secret: Option<SecretKeySelector>,
    /// Timeout of one upstream request, e.g. `120s`.
    #[serde(default = "default_upstream_timeout")]
    #[schemars(schema_with = "duration::schema")]
    pub timeout: String,
}

fn default_upstream_timeout() -> String {
    "120s".to_owned()
}

/// Client authentication of the gateway.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayAuth {
    /// Name of a Secret whose `keys.yaml` holds the API keys and their scopes
    /// (the `auth.keys` list of the gateway configuration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_keys_secret: Option<String>,
    /// Secret key holding the key that seals `/mcp` session ids (32 random bytes as base64,
    /// `openssl rand -base64 32`). Every pod seals with it, so any pod continues any
    /// session; without it each pod has its own key and a session lives on one pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key_secret: Option<SecretKeySelector>,
}

/// Limits of the tool loop of one chat request.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ToolLoopLimits {
    /// Model rounds with tool calls.
    #[serde(default = "default_max_tool_rounds")]
    #[schemars(range(min = 1, max = 100))]
    pub max_tool_rounds: i32,
    /// Tool calls in one round.
    #[serde(default = "default_max_calls_per_round")]
    #[schemars(range(min = 1, max = 1000))]
    pub max_tool_calls_per_round: i32,
    /// Tool calls over the whole request.
    #[serde(default = "default_max_total_calls")]
    #[schemars(range(min = 1, max = 10000))]
    pub max_total_tool_calls: i32,
    /// Timeout of one tool call, e.g. `30s`.
    #[serde(default = "default_tool_timeout")]
    #[schemars(schema_with = "duration::schema")]
    pub tool_timeout: String,
    /// Largest tool result passed to the model, in bytes.
    #[serde(default = "default_max_result_bytes")]
    #[schemars(range(min = 1024))]
    pub max_tool_result_bytes: i64,
}

fn default_max_tool_rounds() -> i32 {
    10
}
fn default_max_calls_per_round() -> i32 {
    10
}
fn default_max_total_calls() -> i32 {
    50
}
fn default_tool_timeout() -> String {
    "30s".to_owned()
}
fn default_max_result_bytes() -> i64 {
    1024 * 1024
}

impl Default for ToolLoopLimits {
    fn default() -> Self {
        Self {
            max_tool_rounds: default_max_tool_rounds(),
            max_tool_calls_per_round: default_max_calls_per_round(),
            max_total_tool_calls: default_max_total_calls(),
            tool_timeout: default_tool_timeout(),
            max_tool_result_bytes: default_max_result_bytes(),
        }
    }
}

/// Session pool of each replica.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayPool {
    /// Sessions per legacy MCP server.
    #[serde(default = "default_pool_size")]
    #[schemars(range(min = 1, max = 100))]
    pub size: i32,
    /// How long a call waits for a free session, e.g. `30s`.
    #[serde(default = "default_connection_timeout")]
    #[schemars(schema_with = "duration::schema")]
    pub connection_timeout: String,
}

fn default_pool_size() -> i32 {
    4
}
fn default_connection_timeout() -> String {
    "30s".to_owned()
}

impl Default for GatewayPool {
    fn default() -> Self {
        Self {
            size: default_pool_size(),
            connection_timeout: default_connection_timeout(),
        }
    }
}

/// Cache lifetimes of MCP list results.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CacheTtls {
    /// `tools/list` results.
    #[serde(default = "default_tools_ttl")]
    #[schemars(schema_with = "duration::schema")]
    pub tool_definitions_ttl: String,
    /// `resources/list` and `resources/templates/list` results.
    #[serde(default = "default_resources_ttl")]
    #[schemars(schema_with = "duration::schema")]
    pub resource_metadata_ttl: String,
    /// `prompts/list` results.
    #[serde(default = "default_prompts_ttl")]
    #[schemars(schema_with = "duration::schema")]
    pub prompt_templates_ttl: String,
}

fn default_tools_ttl() -> String {
    "5m".to_owned()
}
fn default_resources_ttl() -> String {
    "1m".to_owned()
}
fn default_prompts_ttl() -> String {
    "10m".to_owned()
}

impl Default for CacheTtls {
    fn default() -> Self {
        Self {
            tool_definitions_ttl: default_tools_ttl(),
            resource_metadata_ttl: default_resources_ttl(),
            prompt_templates_ttl: default_prompts_ttl(),
        }
    }
}

/// Type of the gateway Service.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ServiceType {
    /// Reachable inside the cluster only.
    #[default]
    ClusterIP,
    /// Also on a port of every node.
    NodePort,
    /// Also through a cloud load balancer.
    LoadBalancer,
}

/// The gateway Service.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    /// Service type.
    #[serde(default, rename = "type")]
    pub type_: ServiceType,
    /// Service port.
    #[serde(default = "default_service_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
}

fn default_service_port() -> i32 {
    80
}

impl Default for ServiceSpec {
    fn default() -> Self {
        Self {
            type_: ServiceType::default(),
            port: default_service_port(),
        }
    }
}

/// PodDisruptionBudget of the gateway pods: exactly one of the two fields.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(validation = Rule::new("has(self.minAvailable) ? !has(self.maxUnavailable) : has(self.maxUnavailable)").message("set exactly one of podDisruptionBudget.minAvailable or podDisruptionBudget.maxUnavailable"))]
#[serde(rename_all = "camelCase")]
pub struct PodDisruptionBudgetSpec {
    /// Pods that must stay available (a number or a percentage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_available: Option<IntOrString>,
    /// Pods that may be unavailable (a number or a percentage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<IntOrString>,
}

/// What the operator last observed of the gateway; written only by the operator.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LlamaGateStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Available` and `Ready`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Pods of the gateway Deployment.
    #[serde(default)]
    pub replicas: i32,
    /// Ready pods of the gateway Deployment.
    #[serde(default)]
    pub ready_replicas: i32,
    /// OpenAI base URL of the gateway inside the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// McpServers the selector matches and how many of them are ready.
    #[serde(default)]
    pub mcp_servers: SelectedServers,
}

/// Counts of the McpServers a gateway uses.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SelectedServers {
    /// McpServers matching the selector.
    #[serde(default)]
    pub selected: i32,
    /// Of those, the ones whose `Ready` condition is true.
    #[serde(default)]
    pub ready: i32,
    /// `ready/selected`, for `kubectl get`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

impl LlamaGateSpec {
    /// The CRD's CEL rules and the syntax of fields the schema cannot check.
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::default();
        if self.replicas.is_some() && self.autoscaling.is_some() {
            errors.push(
                "spec.autoscaling",
                "set spec.replicas or spec.autoscaling, not both",
            );
        }
        if let Some(scaling) = &self.autoscaling
            && scaling.min_replicas > scaling.max_replicas
        {
            errors.push(
                "spec.autoscaling.minReplicas",
                "autoscaling.minReplicas must not exceed autoscaling.maxReplicas",
            );
        }
        check_url_scheme(
            Transport::StreamableHttp,
            &self.upstream.url,
            "spec.upstream.url",
            &mut errors,
        );
        if let Some(pdb) = &self.pod_disruption_budget
            && pdb.min_available.is_some() == pdb.max_unavailable.is_some()
        {
            errors.push(
                "spec.podDisruptionBudget",
                "set exactly one of podDisruptionBudget.minAvailable or podDisruptionBudget.maxUnavailable",
            );
        }
        for (path, value) in [
            ("spec.upstream.timeout", &self.upstream.timeout),
            ("spec.limits.toolTimeout", &self.limits.tool_timeout),
            ("spec.pool.connectionTimeout", &self.pool.connection_timeout),
            (
                "spec.cache.toolDefinitionsTtl",
                &self.cache.tool_definitions_ttl,
            ),
            (
                "spec.cache.resourceMetadataTtl",
                &self.cache.resource_metadata_ttl,
            ),
            (
                "spec.cache.promptTemplatesTtl",
                &self.cache.prompt_templates_ttl,
            ),
        ] {
            if let Err(message) = duration::parse(value) {
                errors.push(path, message);
            }
        }
        errors.into_result()
    }
}

#[cfg(test)]
#[path = "llamagate_tests.rs"]
mod tests;
