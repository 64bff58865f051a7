//! An `McpServer` as the MCP client sees it: a [`ServerDescription`] of a remote server.
//!
//! The operator (probing) and the gateway's cluster discovery both convert through here.
//! The result can never describe a command to run: a stdio server in the cluster runs in its
//! own pod under `llamagate bridge` and is reached at the bridge's Streamable HTTP URL.
//!
//! Naming: a cluster server is exposed under its `metadata.name` with every `.` replaced by
//! `_` (object names are DNS subdomains: lowercase letters, digits, `-` and `.`, so the
//! mapping is one to one), which keeps it safe inside tool names (`mcp__<server>__<tool>`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Secret as SecretObject, SecretKeySelector};
use llamagate_mcp::{
    Endpoint, RemoteEndpoint, RemoteTransport, Secret, ServerDescription, ServerName,
    description::{DescriptionError, ToolGlobs},
};

use crate::{
    McpServer, Transport, duration,
    mcpserver::{McpServerSpec, SecretOrValue},
};

/// Where a Secret's value is looked up: `(secret name, key)` → value.
pub type SecretValues = BTreeMap<(String, String), Secret>;

/// Why an `McpServer` could not be turned into a description.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DescribeError {
    /// A referenced Secret, or a key of it, does not exist (yet).
    #[error("Secret `{secret}` has no key `{key}` (referenced by {field})")]
    SecretNotFound {
        secret: String,
        key: String,
        field: String,
    },
    /// A field holds something the client cannot use.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
}

/// The name a cluster server gets in the gateway: `metadata.name` with `.` as `_`.
pub fn cluster_server_name(object_name: &str) -> Result<ServerName, DescriptionError> {
    ServerName::new(object_name.replace('.', "_"))
}

/// Every `(secret, key)` the server's auth references, for watching and fetching.
pub fn referenced_secrets(spec: &McpServerSpec) -> Vec<(String, String)> {
    let Some(auth) = &spec.auth else {
        return Vec::new();
    };
    auth.bearer_token
        .iter()
        .chain(auth.headers.iter().map(|header| &header.value))
        .filter_map(|value| value.secret_key_ref.as_ref())
        .map(|selector| (selector.name.clone(), selector.key.clone()))
        .collect()
}

/// `server` reached at `url` (its `status.url`, `spec.url`, or the managed Service's
/// address), with credentials from `secrets`. Cache lifetimes and result limits keep the
/// client's defaults: the caller sets its own.
pub fn describe(
    server: &McpServer,
    url: &str,
    secrets: &SecretValues,
) -> Result<ServerDescription, DescribeError> {
    let spec = &server.spec;
    let object_name = server.metadata.name.as_deref().unwrap_or_default();
    let name = cluster_server_name(object_name).map_err(|e| DescribeError::Invalid {
        field: "metadata.name".to_owned(),
        message: e.to_string(),
    })?;
    let transport = match spec.transport {
        Transport::StreamableHttp | Transport::Stdio => RemoteTransport::StreamableHttp,
        Transport::Sse => RemoteTransport::Sse,
        Transport::Websocket => RemoteTransport::Websocket,
    };
    let mut remote = RemoteEndpoint::new(transport, url).map_err(|e| DescribeError::Invalid {
        field: "url".to_owned(),
        message: e.to_string(),
    })?;
    if let Some(auth) = &spec.auth {
        if let Some(token) = &auth.bearer_token {
            remote.bearer_token = Some(resolve(token, "spec.auth.bearerToken", secrets)?);
        }
        for (i, header) in auth.headers.iter().enumerate() {
            let field = format!("spec.auth.headers[{i}]");
            let value = resolve(&header.value, &field, secrets)?;
            remote.headers.insert(header.name.clone(), value);
        }
    }
    let mut description = ServerDescription::new(name, Endpoint::Remote(remote));
    description.protocol = spec.protocol;
    description.timeouts.connect = parse_duration(&spec.timeouts.connect, "spec.timeouts.connect")?;
    description.timeouts.call = parse_duration(&spec.timeouts.call, "spec.timeouts.call")?;
    description.pool.size = positive(spec.pool.size);
    description.pool.max_in_flight = positive(spec.pool.max_in_flight);
    let check = &spec.health_check;
    description.health.interval = parse_duration(&check.interval, "spec.healthCheck.interval")?;
    description.health.timeout = parse_duration(&check.timeout, "spec.healthCheck.timeout")?;
    description.health.failure_threshold =
        u32::try_from(check.failure_threshold.max(1)).unwrap_or(1);
    description.tools = ToolGlobs {
        allow: spec.tools.allow.clone(),
        deny: spec.tools.deny.clone(),
    };
    Ok(description)
}

/// A Secret's keys and values (`data`, and `stringData` as a server may return it).
pub fn secret_values(secret: &SecretObject) -> BTreeMap<String, Secret> {
    let mut values = BTreeMap::new();
    for (key, bytes) in secret.data.iter().flatten() {
        values.insert(
            key.clone(),
            Secret::new(String::from_utf8_lossy(&bytes.0).into_owned()),
        );
    }
    for (key, text) in secret.string_data.iter().flatten() {
        values.insert(key.clone(), Secret::new(text.clone()));
    }
    values
}

fn resolve(
    value: &SecretOrValue,
    field: &str,
    secrets: &SecretValues,
) -> Result<Secret, DescribeError> {
    match (&value.value, &value.secret_key_ref) {
        (Some(literal), None) => Ok(Secret::new(literal.clone())),
        (None, Some(SecretKeySelector { name, key, .. })) => secrets
            .get(&(name.clone(), key.clone()))
            .cloned()
            .ok_or_else(|| DescribeError::SecretNotFound {
                secret: name.clone(),
                key: key.clone(),
                field: field.to_owned(),
            }),
        _ => Err(DescribeError::Invalid {
            field: field.to_owned(),
            message: "set exactly one of value or secretKeyRef".to_owned(),
        }),
    }
}

fn parse_duration(value: &str, field: &str) -> Result<std::time::Duration, DescribeError> {
    duration::parse(value).map_err(|message| DescribeError::Invalid {
        field: field.to_owned(),
        message,
    })
}

fn positive(value: i32) -> usize {
    usize::try_from(value.max(1)).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn server(yaml: &str) -> McpServer {
        serde_norway::from_str(yaml).unwrap()
    }

    const WITH_AUTH: &str = r#"
apiVersion: llamagate.io/v1alpha1
kind: McpServer
metadata: { name: tools.team-a }
spec:
  transport: streamable-http
  url: http://tools.example:8080/mcp
  auth:
    bearerToken: { secretKeyRef: { name: creds, key: token } }
    headers:
      - { name: X-Tenant, value: a }
  timeouts: { connect: 5s, call: 1m }
  healthCheck: { interval: 10s, timeout: 2s, failureThreshold: 2 }
  tools: { allow: ["read_*"], deny: ["read_secret"] }
"#;

    #[test]
    fn a_resource_becomes_a_remote_description() {
        let secrets = SecretValues::from([(
            ("creds".to_owned(), "token".to_owned()),
            Secret::new("s3cr3t"),
        )]);
        let description =
            describe(&server(WITH_AUTH), "http://10.0.0.1:8080/mcp", &secrets).unwrap();
        assert_eq!(description.name.as_str(), "tools_team-a");
        let remote = description.remote().unwrap();
        assert_eq!(remote.bearer_token.as_ref().unwrap().expose(), "s3cr3t");
        assert_eq!(remote.headers["X-Tenant"].expose(), "a");
        assert_eq!(description.timeouts.call, Duration::from_secs(60));
        assert_eq!(description.health.failure_threshold, 2);
        assert_eq!(description.tools.deny, ["read_secret"]);
        assert!(!format!("{description:?}").contains("s3cr3t"));
    }

    #[test]
    fn a_missing_secret_is_named() {
        let error = describe(&server(WITH_AUTH), "http://h/mcp", &SecretValues::new()).unwrap_err();
        assert_eq!(
            error,
            DescribeError::SecretNotFound {
                secret: "creds".to_owned(),
                key: "token".to_owned(),
                field: "spec.auth.bearerToken".to_owned(),
            }
        );
        assert_eq!(
            referenced_secrets(&server(WITH_AUTH).spec),
            [("creds".to_owned(), "token".to_owned())]
        );
    }

    #[test]
    fn a_stdio_server_is_reached_through_its_bridge() {
        let stdio = server(
            r#"
apiVersion: llamagate.io/v1alpha1
kind: McpServer
metadata: { name: time }
spec:
  transport: stdio
  deployment: { image: python:3.12, command: [uvx, mcp-server-time] }
"#,
        );
        let description = describe(
            &stdio,
            "http://time.default.svc:8080/mcp",
            &SecretValues::new(),
        )
        .unwrap();
        assert_eq!(
            description.transport(),
            llamagate_mcp::Transport::StreamableHttp
        );
    }

    #[test]
    fn object_names_map_one_to_one_onto_server_names() {
        assert_eq!(cluster_server_name("a.b-c").unwrap().as_str(), "a_b-c");
        assert_ne!(
            cluster_server_name("a.b").unwrap(),
            cluster_server_name("a-b").unwrap()
        );
    }
}
