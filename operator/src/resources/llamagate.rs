//! The objects of a `LlamaGate`, as pure functions of the resource: its ServiceAccount,
//! Role and RoleBinding (read the `McpServer`s, and only the Secrets they reference), the
//! gateway configuration in a ConfigMap, the Deployment (the configuration's hash in the pod
//! template, so a change rolls the pods), the Service, and optionally a
//! HorizontalPodAutoscaler and a PodDisruptionBudget.
//!
//! With autoscaling on, the Deployment's apply body has no `replicas`: the HPA owns it, and
//! a server-side apply never takes it back.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::{
    api::{
        apps::v1::{Deployment, DeploymentSpec},
        autoscaling::v2::{
            CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec,
            MetricSpec, MetricTarget, ResourceMetricSource,
        },
        core::v1::{
            Capabilities, ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, EnvVar,
            EnvVarSource, HTTPGetAction, ObjectFieldSelector, PodSecurityContext, PodSpec,
            PodTemplateSpec, Probe, SeccompProfile, SecretKeySelector, SecretVolumeSource,
            SecurityContext, Service, ServiceAccount, ServicePort, ServiceSpec, Volume,
            VolumeMount,
        },
        policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec},
        rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject},
    },
    apimachinery::pkg::{
        apis::meta::v1::{LabelSelector, ObjectMeta},
        util::intstr::IntOrString,
    },
};
use kube::Resource;
use llamagate_crds::{LlamaGate, llamagate::ServiceType};
use serde_json::json;

/// Port the gateway container listens on.
pub const GATEWAY_PORT: i32 = 8080;
/// Where the configuration is mounted.
const CONFIG_DIR: &str = "/etc/llamagate";
/// Where the API keys Secret is mounted.
const KEYS_DIR: &str = "/etc/llamagate/keys";
/// Pod-template annotation with the hash of the configuration.
pub const CONFIG_HASH_ANNOTATION: &str = "llamagate.io/config-hash";

/// The labels of every object of `gateway`.
pub fn labels(gateway: &LlamaGate) -> BTreeMap<String, String> {
    let mut labels = selector_labels(gateway);
    labels.insert(
        "app.kubernetes.io/component".to_owned(),
        "gateway".to_owned(),
    );
    labels.insert(
        "app.kubernetes.io/managed-by".to_owned(),
        "llamagate-operator".to_owned(),
    );
    labels
}

fn selector_labels(gateway: &LlamaGate) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), "llamagate".to_owned()),
        (
            "app.kubernetes.io/instance".to_owned(),
            gateway.metadata.name.clone().unwrap_or_default(),
        ),
    ])
}

fn metadata(gateway: &LlamaGate, name: String) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: gateway.metadata.namespace.clone(),
        labels: Some(labels(gateway)),
        owner_references: gateway.controller_owner_ref(&()).map(|o| vec![o]),
        ..ObjectMeta::default()
    }
}

fn name(gateway: &LlamaGate) -> String {
    gateway.metadata.name.clone().unwrap_or_default()
}

/// The name of the ConfigMap holding the gateway configuration.
pub fn config_map_name(gateway: &LlamaGate) -> String {
    format!("{}-config", name(gateway))
}

/// The ServiceAccount the gateway pods run as.
pub fn service_account(gateway: &LlamaGate) -> ServiceAccount {
    ServiceAccount {
        metadata: metadata(gateway, name(gateway)),
        automount_service_account_token: Some(true),
        ..ServiceAccount::default()
    }
}

/// Read access to the `McpServer`s of the namespace and to the Secrets they reference, by
/// name (`secrets`, sorted): nothing else, and no write at all.
pub fn role(gateway: &LlamaGate, secrets: &BTreeSet<String>) -> Role {
    let read = || vec!["get".to_owned(), "list".to_owned(), "watch".to_owned()];
    let mut rules = vec![PolicyRule {
        api_groups: Some(vec![llamagate_crds::GROUP.to_owned()]),
        resources: Some(vec!["mcpservers".to_owned()]),
        verbs: read(),
        ..PolicyRule::default()
    }];
    if !secrets.is_empty() {
        rules.push(PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(vec!["secrets".to_owned()]),
            resource_names: Some(secrets.iter().cloned().collect()),
            verbs: read(),
            ..PolicyRule::default()
        });
    }
    Role {
        metadata: metadata(gateway, name(gateway)),
        rules: Some(rules),
    }
}

/// Binds the Role to the ServiceAccount.
pub fn role_binding(gateway: &LlamaGate) -> RoleBinding {
    RoleBinding {
        metadata: metadata(gateway, name(gateway)),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_owned(),
            kind: "Role".to_owned(),
            name: name(gateway),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".to_owned(),
            name: name(gateway),
            namespace: gateway.metadata.namespace.clone(),
            ..Subject::default()
        }]),
    }
}

/// The gateway configuration file (`llamagate serve --config`). Credentials are not in it:
/// the upstream key comes from the environment, client keys from a mounted Secret.
pub fn gateway_config(gateway: &LlamaGate) -> String {
    let spec = &gateway.spec;
    let selector = spec
        .mcp_server_selector
        .as_ref()
        .map(label_selector_text)
        .filter(|s| !s.is_empty());
    let mut kubernetes = json!({"namespace": gateway.metadata.namespace});
    if let Some(selector) = selector {
        kubernetes["selector"] = json!(selector);
    }
    let mut config = json!({
        "listen": format!("0.0.0.0:{GATEWAY_PORT}"),
        "log": {"format": "json"},
        "upstream": {"url": spec.upstream.url, "timeout": spec.upstream.timeout},
        "mcp": {
            "connection_pool_size": spec.pool.size,
            "connection_timeout": spec.pool.connection_timeout,
            "cache": {
                "tool_definitions_ttl": spec.cache.tool_definitions_ttl,
                "resource_metadata_ttl": spec.cache.resource_metadata_ttl,
                "prompt_templates_ttl": spec.cache.prompt_templates_ttl,
            },
            "limits": {
                "max_tool_rounds": spec.limits.max_tool_rounds,
                "max_tool_calls_per_round": spec.limits.max_tool_calls_per_round,
                "max_total_tool_calls": spec.limits.max_total_tool_calls,
                "tool_timeout": spec.limits.tool_timeout,
                "max_tool_result_bytes": spec.limits.max_tool_result_bytes,
            },
        },
        "discovery": {"kubernetes": kubernetes},
    });
    if api_keys_secret(gateway).is_some() {
        config["auth"] = json!({"keys_file": format!("{KEYS_DIR}/keys.yaml")});
    }
    // `/mcp`: each pod is reached at its own IP by the others (answers to relayed
    // questions), and with a shared key any pod opens any session.
    let mut endpoint = json!({"advertise_url": format!("http://${{POD_IP}}:{GATEWAY_PORT}")});
    if session_key_secret(gateway).is_some() {
        endpoint["session_keys"] = json!(["${LLAMAGATE_SESSION_KEY}"]);
    }
    config["mcp"]["endpoint"] = endpoint;
    let body = serde_norway::to_string(&config).unwrap_or_default();
    format!(
        "# Written by llamagate-operator from LlamaGate `{}`; edits are overwritten.\n{body}",
        name(gateway)
    )
}

/// `matchLabels` and `matchExpressions` as a label selector string (`a=b,c in (d,e)`).
pub fn label_selector_text(selector: &LabelSelector) -> String {
    let mut parts: Vec<String> = selector
        .match_labels
        .iter()
        .flatten()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    for expression in selector.match_expressions.iter().flatten() {
        let values = expression.values.clone().unwrap_or_default().join(",");
        let key = &expression.key;
        parts.push(match expression.operator.as_str() {
            "In" => format!("{key} in ({values})"),
            "NotIn" => format!("{key} notin ({values})"),
            "Exists" => key.clone(),
            _ => format!("!{key}"),
        });
    }
    parts.join(",")
}

fn session_key_secret(gateway: &LlamaGate) -> Option<&SecretKeySelector> {
    gateway.spec.auth.as_ref()?.session_key_secret.as_ref()
}

fn api_keys_secret(gateway: &LlamaGate) -> Option<&str> {
    gateway.spec.auth.as_ref()?.api_keys_secret.as_deref()
}

/// The ConfigMap holding the gateway configuration.
pub fn config_map(gateway: &LlamaGate) -> ConfigMap {
    ConfigMap {
        metadata: metadata(gateway, config_map_name(gateway)),
        data: Some(BTreeMap::from([(
            "llamagate.yaml".to_owned(),
            gateway_config(gateway),
        )])),
        ..ConfigMap::default()
    }
}

/// The gateway Deployment; `config_hash` is the hash of the ConfigMap's content.
pub fn deployment(gateway: &LlamaGate, default_image: &str, config_hash: &str) -> Deployment {
    let spec = &gateway.spec;
    let replicas = match (&spec.autoscaling, spec.replicas) {
        (Some(_), _) => None,
        (None, replicas) => Some(replicas.unwrap_or(1)),
    };
    let mut annotations =
        BTreeMap::from([(CONFIG_HASH_ANNOTATION.to_owned(), config_hash.to_owned())]);
    if let Some(at) = gateway
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(llamagate_crds::RESTARTED_AT_ANNOTATION))
    {
        annotations.insert(
            llamagate_crds::RESTARTED_AT_ANNOTATION.to_owned(),
            at.clone(),
        );
    }
    let mut volumes = vec![Volume {
        name: "config".to_owned(),
        config_map: Some(ConfigMapVolumeSource {
            name: config_map_name(gateway),
            ..ConfigMapVolumeSource::default()
        }),
        ..Volume::default()
    }];
    if let Some(secret) = api_keys_secret(gateway) {
        volumes.push(Volume {
            name: "api-keys".to_owned(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(secret.to_owned()),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        });
    }
    Deployment {
        metadata: metadata(gateway, name(gateway)),
        spec: Some(DeploymentSpec {
            replicas,
            selector: LabelSelector {
                match_labels: Some(selector_labels(gateway)),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(gateway)),
                    annotations: Some(annotations),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    service_account_name: Some(name(gateway)),
                    containers: vec![gateway_container(gateway, default_image)],
                    volumes: Some(volumes),
                    security_context: Some(PodSecurityContext {
                        run_as_non_root: Some(true),
                        seccomp_profile: Some(SeccompProfile {
                            type_: "RuntimeDefault".to_owned(),
                            ..SeccompProfile::default()
                        }),
                        ..PodSecurityContext::default()
                    }),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        status: None,
    }
}

fn gateway_container(gateway: &LlamaGate, default_image: &str) -> Container {
    let spec = &gateway.spec;
    let mut env = vec![EnvVar {
        name: "POD_IP".to_owned(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: "status.podIP".to_owned(),
                ..ObjectFieldSelector::default()
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }];
    if let Some(selector) = session_key_secret(gateway) {
        env.push(EnvVar {
            name: "LLAMAGATE_SESSION_KEY".to_owned(),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(selector.clone()),
                ..EnvVarSource::default()
            }),
            ..EnvVar::default()
        });
    }
    if let Some(selector) = &spec.upstream.api_key_secret {
        env.push(EnvVar {
            name: "LLAMAGATE_UPSTREAM_API_KEY".to_owned(),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(selector.clone()),
                ..EnvVarSource::default()
            }),
            ..EnvVar::default()
        });
    }
    let mut mounts = vec![VolumeMount {
        name: "config".to_owned(),
        mount_path: CONFIG_DIR.to_owned(),
        read_only: Some(true),
        ..VolumeMount::default()
    }];
    if api_keys_secret(gateway).is_some() {
        mounts.push(VolumeMount {
            name: "api-keys".to_owned(),
            mount_path: KEYS_DIR.to_owned(),
            read_only: Some(true),
            ..VolumeMount::default()
        });
    }
    let probe = |path: &str| Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::String("http".to_owned()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(10),
        ..Probe::default()
    };
    Container {
        name: "gateway".to_owned(),
        image: Some(
            spec.image
                .clone()
                .unwrap_or_else(|| default_image.to_owned()),
        ),
        command: Some(vec!["/usr/local/bin/llamagate".to_owned()]),
        args: Some(vec![
            "serve".to_owned(),
            "--config".to_owned(),
            format!("{CONFIG_DIR}/llamagate.yaml"),
        ]),
        env: Some(env),
        ports: Some(vec![ContainerPort {
            name: Some("http".to_owned()),
            container_port: GATEWAY_PORT,
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        }]),
        readiness_probe: Some(probe("/readyz")),
        liveness_probe: Some(probe("/healthz")),
        resources: spec.resources.clone(),
        volume_mounts: Some(mounts),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".to_owned()]),
                ..Capabilities::default()
            }),
            ..SecurityContext::default()
        }),
        ..Container::default()
    }
}

/// The Service in front of the gateway pods.
pub fn service(gateway: &LlamaGate) -> Service {
    let type_ = match gateway.spec.service.type_ {
        ServiceType::ClusterIP => "ClusterIP",
        ServiceType::NodePort => "NodePort",
        ServiceType::LoadBalancer => "LoadBalancer",
    };
    Service {
        metadata: metadata(gateway, name(gateway)),
        spec: Some(ServiceSpec {
            type_: Some(type_.to_owned()),
            selector: Some(selector_labels(gateway)),
            ports: Some(vec![ServicePort {
                name: Some("http".to_owned()),
                port: gateway.spec.service.port,
                target_port: Some(IntOrString::String("http".to_owned())),
                protocol: Some("TCP".to_owned()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// The OpenAI-compatible endpoint inside the cluster.
pub fn endpoint(gateway: &LlamaGate) -> String {
    let namespace = gateway.metadata.namespace.as_deref().unwrap_or("default");
    format!(
        "http://{}.{namespace}.svc:{}/v1",
        name(gateway),
        gateway.spec.service.port
    )
}

/// The HorizontalPodAutoscaler, when `spec.autoscaling` is set.
pub fn autoscaler(gateway: &LlamaGate) -> Option<HorizontalPodAutoscaler> {
    let scaling = gateway.spec.autoscaling.as_ref()?;
    Some(HorizontalPodAutoscaler {
        metadata: metadata(gateway, name(gateway)),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".to_owned()),
                kind: "Deployment".to_owned(),
                name: name(gateway),
            },
            min_replicas: Some(scaling.min_replicas),
            max_replicas: scaling.max_replicas,
            metrics: Some(vec![MetricSpec {
                type_: "Resource".to_owned(),
                resource: Some(ResourceMetricSource {
                    name: "cpu".to_owned(),
                    target: MetricTarget {
                        type_: "Utilization".to_owned(),
                        average_utilization: Some(scaling.target_cpu_utilization_percentage),
                        ..MetricTarget::default()
                    },
                }),
                ..MetricSpec::default()
            }]),
            ..HorizontalPodAutoscalerSpec::default()
        }),
        status: None,
    })
}

/// The PodDisruptionBudget, when `spec.podDisruptionBudget` is set.
pub fn disruption_budget(gateway: &LlamaGate) -> Option<PodDisruptionBudget> {
    let budget = gateway.spec.pod_disruption_budget.as_ref()?;
    Some(PodDisruptionBudget {
        metadata: metadata(gateway, name(gateway)),
        spec: Some(PodDisruptionBudgetSpec {
            selector: Some(LabelSelector {
                match_labels: Some(selector_labels(gateway)),
                ..LabelSelector::default()
            }),
            min_available: budget.min_available.clone(),
            max_unavailable: budget.max_unavailable.clone(),
            ..PodDisruptionBudgetSpec::default()
        }),
        status: None,
    })
}
