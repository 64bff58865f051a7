//! Support for the end-to-end suite: a real Kubernetes control plane named by
//! `LLAMAGATE_E2E_KUBECONFIG`, the CRDs installed from `crds/generated`, a namespace per
//! scenario, and the operator run as its own process, as a user runs it.
#![allow(dead_code)]

pub mod gateway;
pub mod helm;

use std::{
    future::Future,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use k8s_openapi::{
    api::{
        authentication::v1::TokenRequest,
        authorization::v1::SubjectAccessReview,
        core::v1::{Namespace, ServiceAccount},
    },
    apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
};
use kube::{
    Api, Client, Config,
    api::{DeleteParams, Patch, PatchParams, PostParams},
    config::{KubeConfigOptions, Kubeconfig},
};
use serde_json::{Value, json};

pub const KUBECONFIG: &str = "LLAMAGATE_E2E_KUBECONFIG";

/// The cluster's kubeconfig, or `None` after saying why the scenario is skipped.
pub fn kubeconfig(scenario: &str) -> Option<PathBuf> {
    match std::env::var_os(KUBECONFIG) {
        Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ => {
            skipped(&format!("{scenario}: {KUBECONFIG} names no cluster"));
            None
        }
    }
}

/// The start of every scenario: the cluster (or `None`, skipped), a client, the CRDs
/// installed, and a namespace of its own.
pub async fn scenario(what: &str, prefix: &str) -> Option<(PathBuf, Client, TestNamespace)> {
    let kubeconfig = kubeconfig(what)?;
    let client = client(&kubeconfig).await;
    install_crds(&client).await;
    let ns = TestNamespace::create(&client, prefix).await;
    Some((kubeconfig, client, ns))
}

/// Wait until `name` of kind `K` exists in `ns`, and return it.
pub async fn exists<K>(ns: &TestNamespace, name: &str) -> K
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    <K as kube::Resource>::DynamicType: Default,
{
    let what = format!(
        "{} {name}",
        std::any::type_name::<K>()
            .rsplit("::")
            .next()
            .unwrap_or("object")
    );
    eventually(&what, Duration::from_secs(30), || async {
        ns.api::<K>().get(name).await.ok()
    })
    .await
}

/// Lease timings short enough for a test to wait out an expiry.
pub const FAST_LEASE: [&str; 6] = [
    "--lease-duration",
    "6s",
    "--renew-deadline",
    "4s",
    "--retry-period",
    "1s",
];

/// Wait until the operator has verified `name` (its status has a URL).
pub async fn verified(api: &Api<llamagate_crds::McpServer>, name: &str) {
    eventually(
        &format!("{name} verified by the operator"),
        Duration::from_secs(30),
        || async { api.get_status(name).await.ok()?.status?.url.map(|_| ()) },
    )
    .await;
}

/// Say that a scenario is skipped and why, where it shows: straight to stderr (the test
/// harness captures `eprintln!` of passing tests, and would hide it).
pub fn skipped(why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "skipped: {why}");
}

pub async fn client(kubeconfig: &PathBuf) -> Client {
    let file = Kubeconfig::read_from(kubeconfig).expect("the e2e kubeconfig reads");
    let config = Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
        .await
        .expect("the e2e kubeconfig is usable");
    Client::try_from(config).expect("a client")
}

/// Poll `check` every 100 ms until it gives a value, failing after `within`.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not within {within:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Install (server-side apply) both CRDs as `crdgen` wrote them, and wait until the API
/// serves them.
pub async fn install_crds(client: &Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../crds/generated");
    for file in [
        "mcpservers.llamagate.io.yaml",
        "llamagates.llamagate.io.yaml",
    ] {
        let text = std::fs::read_to_string(dir.join(file)).expect("generated CRD");
        let crd: CustomResourceDefinition = serde_norway::from_str(&text).expect("CRD YAML");
        let name = crd.metadata.name.clone().expect("CRD name");
        crds.patch(
            &name,
            &PatchParams::apply("llamagate-e2e").force(),
            &Patch::Apply(&crd),
        )
        .await
        .unwrap_or_else(|e| panic!("the API refuses CRD {name}: {e}"));
        eventually(
            &format!("CRD {name} established"),
            Duration::from_secs(30),
            || {
                let crds = crds.clone();
                let name = name.clone();
                async move {
                    let crd = crds.get(&name).await.ok()?;
                    let established = crd
                        .status?
                        .conditions?
                        .into_iter()
                        .any(|c| c.type_ == "Established" && c.status == "True");
                    established.then_some(())
                }
            },
        )
        .await;
    }
}

/// A namespace of its own for one scenario, deleted by `delete`.
pub struct TestNamespace {
    pub name: String,
    client: Client,
}

impl TestNamespace {
    pub async fn create(client: &Client, scenario: &str) -> Self {
        let name = format!("e2e-{scenario}-{:06x}", fastrand::u32(..0xff_ffff));
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let namespace: Namespace = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"llamagate.io/e2e": "true"}}
        }))
        .unwrap();
        namespaces
            .create(&PostParams::default(), &namespace)
            .await
            .expect("create the scenario's namespace");
        Self {
            name,
            client: client.clone(),
        }
    }

    /// A namespace someone else made (a Helm release's), not deleted by this handle's owner.
    pub fn existing(client: &Client, name: &str) -> Self {
        Self {
            name: name.to_owned(),
            client: client.clone(),
        }
    }

    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = kube::core::NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }

    pub async fn delete(self) {
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        let _ = namespaces
            .delete(&self.name, &DeleteParams::default())
            .await;
    }
}

/// The operator binary, run against the cluster with leader election on.
pub struct Operator {
    child: Child,
    args: Vec<String>,
    kubeconfig: PathBuf,
    pub metrics: String,
}

impl Operator {
    pub fn start(kubeconfig: &PathBuf, namespace: &str, identity: &str) -> Self {
        let port = llamagate_test_peers::free_port();
        let args: Vec<String> = [
            "run",
            "--namespace",
            namespace,
            "--lease-namespace",
            namespace,
            "--identity",
            identity,
            "--listen",
            &format!("127.0.0.1:{port}"),
        ]
        .into_iter()
        .chain(FAST_LEASE)
        .map(str::to_owned)
        .collect();
        let kubeconfig = operator_credentials(kubeconfig, namespace);
        Self {
            child: spawn_operator(&kubeconfig, &args),
            args,
            kubeconfig,
            metrics: format!("http://127.0.0.1:{port}/metrics"),
        }
    }

    /// The binary with `args` (and [`FAST_LEASE`]) after `run`, on `kubeconfig` (another identity's, say).
    pub fn start_with(kubeconfig: &PathBuf, args: &[&str]) -> Self {
        let port = llamagate_test_peers::free_port();
        let mut all: Vec<String> =
            vec!["run".into(), "--listen".into(), format!("127.0.0.1:{port}")];
        all.extend(args.iter().chain(&FAST_LEASE).map(|a| (*a).to_owned()));
        Self {
            child: spawn_operator(kubeconfig, &all),
            args: all,
            kubeconfig: kubeconfig.clone(),
            metrics: format!("http://127.0.0.1:{port}/metrics"),
        }
    }

    /// Start it again if it exited (a lost lease ends the process), as a pod's restart
    /// policy would. True when it had exited.
    pub fn restart_if_exited(&mut self) -> bool {
        if let Ok(Some(_)) = self.child.try_wait() {
            self.child = spawn_operator(&self.kubeconfig, &self.args);
            return true;
        }
        false
    }

    /// SIGTERM, as Kubernetes stops a pod, and wait for the exit.
    pub fn stop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGKILL: a crash, mid-reconcile or not; the lease is left to expire.
    pub fn crash(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// This replica's `llamagate_operator_leader` gauge, once its endpoint answers.
    pub async fn leading(&self) -> Option<bool> {
        let text = reqwest::get(&self.metrics).await.ok()?.text().await.ok()?;
        text.lines()
            .find_map(|line| line.strip_prefix("llamagate_operator_leader "))
            .map(|value| value.trim() == "1")
    }
}

/// The operator's credentials for a scenario in `namespace`: the suite's own kubeconfig, or,
/// when `LLAMAGATE_E2E_OPERATOR_KUBECONFIG` names one, that kubeconfig: a token of the Helm
/// chart's ServiceAccount (`LLAMAGATE_E2E_OPERATOR_USER`, docs/operator.md), so every
/// scenario proves the chart's RBAC sufficient. The chart grants Leases only in its own
/// namespace; scenarios run in parallel, each with a lease in its own namespace, so that
/// user is given Leases there (and nothing else) by `kubectl` as the suite's admin.
fn operator_credentials(admin: &PathBuf, namespace: &str) -> PathBuf {
    let Some(chart) = std::env::var_os("LLAMAGATE_E2E_OPERATOR_KUBECONFIG") else {
        return admin.clone();
    };
    let user = std::env::var("LLAMAGATE_E2E_OPERATOR_USER")
        .expect("LLAMAGATE_E2E_OPERATOR_USER: the chart ServiceAccount's user name");
    let kubectl = |args: &[&str]| {
        let out = Command::new("kubectl")
            .args(args)
            .args(["-n", namespace, "--kubeconfig"])
            .arg(admin)
            .output()
            .expect("kubectl");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() || stderr.contains("already exists"),
            "kubectl {args:?}: {stderr}"
        );
    };
    kubectl(&[
        "create",
        "role",
        "e2e-leases",
        "--verb=get,create,update",
        "--resource=leases.coordination.k8s.io",
    ]);
    kubectl(&[
        "create",
        "rolebinding",
        "e2e-leases",
        "--role=e2e-leases",
        &format!("--user={user}"),
    ]);
    PathBuf::from(chart)
}

fn spawn_operator(kubeconfig: &PathBuf, args: &[String]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_llamagate-operator"))
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env_remove("LLAMAGATE_OPERATOR_NAMESPACE")
        .stdin(Stdio::null())
        .spawn()
        .expect("start llamagate-operator")
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Server-side apply `body` as `manager` (a person with kubectl, an HPA, ...).
pub async fn apply_as<K>(api: &Api<K>, manager: &str, name: &str, body: &Value) -> K
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.patch(
        name,
        &PatchParams::apply(manager).force(),
        &Patch::Apply(body),
    )
    .await
    .unwrap_or_else(|e| panic!("apply {name} as {manager}: {e}"))
}

/// The condition `type_` of a resource's status, as JSON.
pub fn condition(object: &Value, type_: &str) -> Option<Value> {
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
        .cloned()
}

/// `kubectl get mcpservers` as the API prints it: the table's column names and each row's
/// cells, by object name.
pub async fn printed_table(client: &Client, namespace: &str) -> (Vec<String>, Vec<Vec<Value>>) {
    let request = http::Request::get(format!(
        "/apis/llamagate.io/v1alpha1/namespaces/{namespace}/mcpservers"
    ))
    .header(
        "accept",
        "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
    )
    .body(Vec::new())
    .unwrap();
    let table: Value = client.request(request).await.expect("the table answers");
    let columns = table["columnDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| c["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    let rows = table["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| r["cells"].as_array().cloned().unwrap_or_default())
        .collect();
    (columns, rows)
}

/// May `user` do `verb` on `resource` (named `name`) in `namespace`? The API server decides.
pub async fn allowed(
    client: &Client,
    user: &str,
    verb: &str,
    resource: (&str, &str),
    namespace: &str,
    name: Option<&str>,
) -> bool {
    let review: SubjectAccessReview = serde_json::from_value(json!({"spec": {"user": user,
        "resourceAttributes": {"namespace": namespace, "verb": verb, "group": resource.0,
            "resource": resource.1, "name": name.unwrap_or_default()}}}))
    .unwrap();
    let api: Api<SubjectAccessReview> = Api::all(client.clone());
    let answer = api
        .create(&PostParams::default(), &review)
        .await
        .expect("review");
    answer.status.is_some_and(|s| s.allowed)
}

/// A kubeconfig (the cluster of the e2e one) holding only a token of the gateway's ServiceAccount.
pub async fn service_account_kubeconfig(
    ns: &TestNamespace,
    account: &str,
    dir: &Path,
) -> std::path::PathBuf {
    let accounts: Api<ServiceAccount> = ns.api();
    let request: TokenRequest =
        serde_json::from_value(json!({"spec": {"audiences": [], "expirationSeconds": 3600}}))
            .unwrap();
    let token = accounts
        .create_token_request(account, &PostParams::default(), &request)
        .await
        .expect("a token of the ServiceAccount")
        .status
        .expect("token status")
        .token;
    let admin = std::fs::read_to_string(kubeconfig("token").unwrap()).unwrap();
    let mut config: Value = serde_norway::from_str(&admin).unwrap();
    config["users"] = json!([{"name": account, "user": {"token": token}}]);
    for context in config["contexts"].as_array_mut().unwrap() {
        context["context"]["user"] = json!(account);
    }
    let path = dir.join(format!("{account}-kubeconfig.yaml"));
    std::fs::write(&path, serde_norway::to_string(&config).unwrap()).unwrap();
    path
}

/// One question for the API server's authorizer: verb, (group, resource), namespace, name,
/// and the answer expected.
pub type Access<'a> = (&'a str, (&'a str, &'a str), &'a str, Option<&'a str>, bool);

/// Ask the authorizer each question about `user`; every answer must be the expected one.
pub async fn assert_access(client: &Client, user: &str, questions: &[Access<'_>]) {
    for &(verb, resource, namespace, name, expected) in questions {
        let answer = allowed(client, user, verb, resource, namespace, name).await;
        assert_eq!(
            answer, expected,
            "may {user} {verb} {resource:?} {name:?} in {namespace}?"
        );
    }
}
