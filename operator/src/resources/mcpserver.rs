//! The objects of a managed `McpServer` (`spec.deployment`): a Deployment and a Service,
//! built as pure functions of the resource (and the operator's settings), so that two
//! reconciles of the same spec produce byte-identical apply bodies.
//!
//! A `stdio` server runs its command under `llamagate bridge` in its own pod: an init
//! container copies the `llamagate` binary from the operator's image into an `emptyDir`, and
//! the server's own image runs `/llamagate/llamagate bridge … -- COMMAND ARGS`, so any stdio
//! server image works. Other transports run the image's command as it is.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::{
        apps::v1::{Deployment, DeploymentSpec},
        core::v1::{
            Container, ContainerPort, EmptyDirVolumeSource, EnvVar, PodSpec, PodTemplateSpec,
            Probe, Service, ServicePort, ServiceSpec, TCPSocketAction, Volume, VolumeMount,
        },
    },
    apimachinery::pkg::{
        apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference},
        util::intstr::IntOrString,
    },
};
use kube::Resource;
use llamagate_crds::{McpServer, RESTARTED_AT_ANNOTATION, Transport, mcpserver::ManagedDeployment};

/// Where the bridge binary comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeImage {
    /// An image with `/usr/local/bin/llamagate` (the operator's own).
    pub image: String,
}

/// Pod-template annotation with a hash of the Secrets the server's pods use: a rotated
/// Secret rolls them.
pub const SECRETS_HASH_ANNOTATION: &str = "llamagate.io/secrets-hash";

/// The labels of every object of `server`.
pub fn labels(server: &McpServer) -> BTreeMap<String, String> {
    let name = server.metadata.name.clone().unwrap_or_default();
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), "mcp-server".to_owned()),
        ("app.kubernetes.io/instance".to_owned(), name),
        (
            "app.kubernetes.io/component".to_owned(),
            "mcp-server".to_owned(),
        ),
        (
            "app.kubernetes.io/managed-by".to_owned(),
            "llamagate-operator".to_owned(),
        ),
    ])
}

/// The labels pods are selected by (a subset that never changes).
fn selector_labels(server: &McpServer) -> BTreeMap<String, String> {
    let name = server.metadata.name.clone().unwrap_or_default();
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), "mcp-server".to_owned()),
        ("app.kubernetes.io/instance".to_owned(), name),
    ])
}

fn owner(server: &McpServer) -> Option<OwnerReference> {
    server.controller_owner_ref(&())
}

fn metadata(server: &McpServer) -> ObjectMeta {
    ObjectMeta {
        name: server.metadata.name.clone(),
        namespace: server.metadata.namespace.clone(),
        labels: Some(labels(server)),
        owner_references: owner(server).map(|owner| vec![owner]),
        ..ObjectMeta::default()
    }
}

/// The Service in front of the server's pods, on its port.
pub fn service(server: &McpServer, deployment: &ManagedDeployment) -> Service {
    Service {
        metadata: metadata(server),
        spec: Some(ServiceSpec {
            selector: Some(selector_labels(server)),
            // A bridged stdio server keeps each session in one pod's memory: a client's
            // requests must keep reaching that pod, across reconnects.
            session_affinity: (server.spec.transport == Transport::Stdio)
                .then(|| "ClientIP".to_owned()),
            ports: Some(vec![ServicePort {
                name: Some("mcp".to_owned()),
                port: deployment.port,
                target_port: Some(IntOrString::String("mcp".to_owned())),
                protocol: Some("TCP".to_owned()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// The URL gateways and the prober reach a managed server at.
pub fn service_url(server: &McpServer, deployment: &ManagedDeployment) -> String {
    let name = server.metadata.name.as_deref().unwrap_or_default();
    let namespace = server.metadata.namespace.as_deref().unwrap_or("default");
    let path = match server.spec.transport {
        Transport::Websocket => "/ws",
        Transport::Sse => "/sse",
        Transport::StreamableHttp | Transport::Stdio => "/mcp",
    };
    let scheme = if server.spec.transport == Transport::Websocket {
        "ws"
    } else {
        "http"
    };
    format!(
        "{scheme}://{name}.{namespace}.svc:{}{path}",
        deployment.port
    )
}

/// The Deployment running the server. `secrets_hash` goes into the pod template, so a
/// changed Secret rolls the pods; so does a changed `llamagate.io/restarted-at`.
pub fn deployment(
    server: &McpServer,
    deployment: &ManagedDeployment,
    bridge: &BridgeImage,
    secrets_hash: Option<&str>,
) -> Deployment {
    let mut annotations = BTreeMap::new();
    if let Some(at) = server
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(RESTARTED_AT_ANNOTATION))
    {
        annotations.insert(RESTARTED_AT_ANNOTATION.to_owned(), at.clone());
    }
    if let Some(hash) = secrets_hash {
        annotations.insert(SECRETS_HASH_ANNOTATION.to_owned(), hash.to_owned());
    }
    let stdio = server.spec.transport == Transport::Stdio;
    let mut pod = PodSpec {
        containers: vec![server_container(deployment, stdio)],
        automount_service_account_token: Some(false),
        ..PodSpec::default()
    };
    if stdio {
        pod.init_containers = Some(vec![bridge_copier(bridge)]);
        pod.volumes = Some(vec![Volume {
            name: "llamagate".to_owned(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        }]);
    }
    Deployment {
        metadata: metadata(server),
        spec: Some(DeploymentSpec {
            replicas: deployment.replicas,
            selector: LabelSelector {
                match_labels: Some(selector_labels(server)),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(server)),
                    annotations: (!annotations.is_empty()).then_some(annotations),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod),
            },
            ..DeploymentSpec::default()
        }),
        status: None,
    }
}

/// The init container that puts the bridge where the server's container finds it.
fn bridge_copier(bridge: &BridgeImage) -> Container {
    Container {
        name: "llamagate-bridge".to_owned(),
        image: Some(bridge.image.clone()),
        command: Some(vec![
            "/usr/local/bin/llamagate".to_owned(),
            "install-bridge".to_owned(),
            "/llamagate/llamagate".to_owned(),
        ]),
        volume_mounts: Some(vec![bridge_mount()]),
        ..Container::default()
    }
}

fn bridge_mount() -> VolumeMount {
    VolumeMount {
        name: "llamagate".to_owned(),
        mount_path: "/llamagate".to_owned(),
        ..VolumeMount::default()
    }
}

fn server_container(deployment: &ManagedDeployment, stdio: bool) -> Container {
    let port = deployment.port;
    let (command, args) = if stdio {
        let mut args = vec![
            "bridge".to_owned(),
            "--listen".to_owned(),
            "0.0.0.0".to_owned(),
            "--port".to_owned(),
            port.to_string(),
        ];
        // The server's environment reaches it through the bridge, which passes nothing
        // else of its own.
        for EnvVar { name, .. } in &deployment.env {
            args.push("--env".to_owned());
            args.push(name.clone());
        }
        args.push("--".to_owned());
        args.extend(deployment.command.iter().cloned());
        args.extend(deployment.args.iter().cloned());
        (Some(vec!["/llamagate/llamagate".to_owned()]), Some(args))
    } else {
        let command = (!deployment.command.is_empty()).then(|| deployment.command.clone());
        let args = (!deployment.args.is_empty()).then(|| deployment.args.clone());
        (command, args)
    };
    let probe = |path: Option<&str>| Probe {
        tcp_socket: path.is_none().then(|| TCPSocketAction {
            port: IntOrString::String("mcp".to_owned()),
            ..TCPSocketAction::default()
        }),
        http_get: path.map(|path| k8s_openapi::api::core::v1::HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::String("mcp".to_owned()),
            ..Default::default()
        }),
        period_seconds: Some(10),
        ..Probe::default()
    };
    Container {
        name: "mcp-server".to_owned(),
        image: Some(deployment.image.clone()),
        command,
        args,
        env: (!deployment.env.is_empty()).then(|| deployment.env.clone()),
        ports: Some(vec![ContainerPort {
            name: Some("mcp".to_owned()),
            container_port: port,
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        }]),
        resources: deployment.resources.clone(),
        readiness_probe: Some(probe(stdio.then_some("/readyz"))),
        liveness_probe: Some(probe(stdio.then_some("/healthz"))),
        volume_mounts: stdio.then(|| vec![bridge_mount()]),
        ..Container::default()
    }
}
