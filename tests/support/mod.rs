//! Shared helpers for integration tests that talk to a real Kubernetes API
//! server (the test control plane in `tests/control-plane/`).
//!
//! Use from a test file with `mod support;`. Start a control plane first:
//!
//! ```sh
//! tests/control-plane/up.sh target/cp && export KUBECONFIG=$PWD/target/cp/kubeconfig
//! cargo test --test control_plane
//! tests/control-plane/down.sh target/cp
//! ```
//!
//! Tests never skip silently: without `KUBECONFIG` they fail with instructions.
#![allow(dead_code)]

pub mod processes;
pub mod scenario;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{ConfigMap, Event, Namespace, ServiceAccount};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, ObjectMeta, Patch,
    PatchParams, PostParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Client, Config, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::OnceCell;

/// Field manager for everything the tests apply.
pub const FIELD_MANAGER: &str = "ivschat-operator-tests";
/// Label put on every namespace created by [`test_namespace`].
pub const TEST_NAMESPACE_LABEL: &str = "ivschat-test";
/// API group/version of the operator's custom resources.
pub const GROUP: &str = "ivschat.operators.dev";
pub const VERSION: &str = "v1alpha1";

const NO_KUBECONFIG: &str = "KUBECONFIG is not set. These integration tests need a running \
Kubernetes API server; start the test control plane and export its kubeconfig:\n\n    \
tests/control-plane/up.sh target/cp\n    export KUBECONFIG=$PWD/target/cp/kubeconfig\n\n\
(stop it with tests/control-plane/down.sh target/cp; `make test` / .ci/run do all of this)";

/// Path of the kubeconfig from `KUBECONFIG` (first entry if it is a list).
/// Panics with instructions when it is unset.
pub fn kubeconfig_path() -> PathBuf {
    let value = std::env::var_os("KUBECONFIG")
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| panic!("{NO_KUBECONFIG}"));
    std::env::split_paths(&value)
        .next()
        .unwrap_or_else(|| panic!("{NO_KUBECONFIG}"))
}

/// The admin [`Config`] from `KUBECONFIG` (its current context).
pub async fn admin_config() -> Config {
    let path = kubeconfig_path();
    let kubeconfig = Kubeconfig::read_from(&path)
        .unwrap_or_else(|e| panic!("cannot read KUBECONFIG {}: {e}", path.display()));
    Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap_or_else(|e| panic!("invalid KUBECONFIG {}: {e}", path.display()))
}

/// A cluster-admin client for the API server named by `KUBECONFIG`.
pub async fn client() -> Client {
    Client::try_from(admin_config().await).expect("building kube client from KUBECONFIG")
}

/// A short random lowercase suffix for unique object names.
pub fn random_suffix(len: usize) -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

/// A namespace owned by one test. Dropping it deletes the namespace (without
/// waiting for it to disappear); if the test is panicking, the namespace's
/// contents are dumped to stderr first. Set `KEEP_TEST_NAMESPACES=1` to keep
/// the namespaces for inspection.
pub struct TestNamespace {
    pub name: String,
    config: Config,
}

impl TestNamespace {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `Api<K>` for a namespaced resource in this namespace.
    pub fn api<K>(&self, client: &Client) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as Resource>::DynamicType: Default,
    {
        Api::namespaced(client.clone(), &self.name)
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        let panicking = std::thread::panicking();
        let keep = std::env::var("KEEP_TEST_NAMESPACES").is_ok_and(|v| !v.is_empty() && v != "0");
        let name = self.name.clone();
        let config = self.config.clone();
        // Drop is synchronous and usually runs inside a (current-thread) tokio
        // test runtime, whose client we cannot drive from here. Do the work on
        // a separate thread with its own runtime and a fresh client.
        let worker = std::thread::spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => return eprintln!("TestNamespace({name}): no runtime for cleanup: {e}"),
            };
            rt.block_on(async move {
                let client = match Client::try_from(config) {
                    Ok(c) => c,
                    Err(e) => {
                        return eprintln!("TestNamespace({name}): no client for cleanup: {e}");
                    }
                };
                if panicking {
                    dump_namespace(&client, &name).await;
                }
                if keep {
                    eprintln!("TestNamespace({name}): kept (KEEP_TEST_NAMESPACES)");
                    return;
                }
                let api: Api<Namespace> = Api::all(client);
                let dp = DeleteParams::background();
                let delete = api.delete(&name, &dp);
                match tokio::time::timeout(Duration::from_secs(10), delete).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(kube::Error::Api(s))) if s.code == 404 => {}
                    Ok(Err(e)) => eprintln!("TestNamespace({name}): delete failed: {e}"),
                    Err(_) => eprintln!("TestNamespace({name}): delete timed out"),
                }
            })
        });
        let _ = worker.join();
    }
}

/// Creates a namespace `<prefix>-<random>` labelled `ivschat-test=true`.
pub async fn test_namespace(client: &Client, prefix: &str) -> TestNamespace {
    let prefix: String = prefix
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(50)
        .collect();
    let name = format!("{}-{}", prefix.trim_matches('-'), random_suffix(6));
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            labels: Some(BTreeMap::from([(
                TEST_NAMESPACE_LABEL.to_string(),
                "true".to_string(),
            )])),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap_or_else(|e| panic!("creating test namespace {name}: {e}"));
    TestNamespace {
        name,
        config: admin_config().await,
    }
}

/// `ApiResource` of one of the operator's kinds (`ChatRoom`, `ChatLoggingConfiguration`).
pub fn operator_api_resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(GROUP, VERSION, kind), plural)
}

/// Prints the namespace's ChatRooms, ChatLoggingConfigurations, Events and
/// ConfigMaps to stderr (JSON). Best effort: errors are printed, not raised.
pub async fn dump_namespace(client: &Client, ns: &str) {
    eprintln!("===== dump of namespace {ns} =====");
    for (kind, plural) in [
        ("ChatRoom", "chatrooms"),
        ("ChatLoggingConfiguration", "chatloggingconfigurations"),
    ] {
        let ar = operator_api_resource(kind, plural);
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &ar);
        dump_list(&format!("{kind}s"), api.list(&ListParams::default()).await);
    }
    let events: Api<Event> = Api::namespaced(client.clone(), ns);
    match events.list(&ListParams::default()).await {
        Ok(list) => {
            let mut items = list.items;
            items.sort_by_key(|e| e.metadata.creation_timestamp.clone());
            eprintln!("--- Events ({}) ---", items.len());
            for e in items {
                let obj = e.involved_object;
                eprintln!(
                    "{} {} {}/{}: {} (x{}) {}",
                    e.type_.unwrap_or_default(),
                    e.reason.unwrap_or_default(),
                    obj.kind.unwrap_or_default(),
                    obj.name.unwrap_or_default(),
                    e.message.unwrap_or_default(),
                    e.count.unwrap_or(1),
                    e.reporting_component
                        .or(e.source.and_then(|s| s.component))
                        .unwrap_or_default(),
                );
            }
        }
        Err(err) => eprintln!("--- Events: {err} ---"),
    }
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    dump_list("ConfigMaps", cms.list(&ListParams::default()).await);
    eprintln!("===== end of dump of namespace {ns} =====");
}

fn dump_list<K: serde::Serialize + Clone>(
    what: &str,
    list: kube::Result<kube::api::ObjectList<K>>,
) {
    match list {
        Ok(list) => {
            eprintln!("--- {what} ({}) ---", list.items.len());
            for item in &list.items {
                let mut value = serde_json::to_value(item).unwrap_or_default();
                if let Some(meta) = value.get_mut("metadata").and_then(|m| m.as_object_mut()) {
                    meta.remove("managedFields");
                }
                match serde_json::to_string_pretty(&value) {
                    Ok(s) => eprintln!("{s}"),
                    Err(e) => eprintln!("(unserializable: {e})"),
                }
            }
        }
        Err(kube::Error::Api(s)) if s.code == 404 => {
            eprintln!("--- {what}: not served (CRD not installed?) ---")
        }
        Err(e) => eprintln!("--- {what}: {e} ---"),
    }
}

static CRDS_INSTALLED: OnceCell<()> = OnceCell::const_new();

/// Directory holding the CRD manifests (`<repo>/crds`).
pub fn crds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("crds")
}

/// Reads every CustomResourceDefinition from `crds/*.yaml` / `*.yml`
/// (several documents per file allowed; empty documents ignored).
pub fn read_crds() -> Vec<CustomResourceDefinition> {
    let dir = crds_dir();
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect(),
        Err(_) => return Vec::new(),
    };
    files.sort();
    let mut crds = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
        let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text)
            .unwrap_or_else(|e| panic!("parsing YAML {}: {e}", file.display()));
        for doc in docs {
            if doc.is_null() {
                continue;
            }
            if doc.get("kind").and_then(|k| k.as_str()) != Some("CustomResourceDefinition") {
                continue;
            }
            let crd: CustomResourceDefinition = serde_json::from_value(doc).unwrap_or_else(|e| {
                panic!(
                    "{} is not a valid CustomResourceDefinition: {e}",
                    file.display()
                )
            });
            crds.push(crd);
        }
    }
    crds
}

/// Installs the repo's CRDs (server-side apply, forced) once per test
/// process and waits until each is Established. No-op if `crds/` is empty.
pub async fn install_crds(client: &Client) {
    CRDS_INSTALLED
        .get_or_init(|| async {
            let api: Api<CustomResourceDefinition> = Api::all(client.clone());
            let pp = PatchParams::apply(FIELD_MANAGER).force();
            let crds = read_crds();
            for crd in &crds {
                let name = crd.name_any();
                api.patch(&name, &pp, &Patch::Apply(crd))
                    .await
                    .unwrap_or_else(|e| panic!("applying CRD {name}: {e}"));
            }
            for crd in &crds {
                let name = crd.name_any();
                let established =
                    await_condition(api.clone(), &name, conditions::is_crd_established());
                match tokio::time::timeout(Duration::from_secs(60), established).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => panic!("waiting for CRD {name}: {e}"),
                    Err(_) => panic!(
                        "CRD {name} not Established within 60s: {:?}",
                        api.get(&name).await.map(|c| c.status)
                    ),
                }
            }
        })
        .await;
}

fn short_type_name<K>() -> &'static str {
    let full = std::any::type_name::<K>();
    full.rsplit("::").next().unwrap_or(full)
}

/// Waits until `predicate` holds for the object (`None` = absent), or panics
/// after `timeout` with the last observed state. Returns the matching state.
pub async fn wait_for_state<K, F>(
    api: &Api<K>,
    name: &str,
    timeout: Duration,
    predicate: F,
) -> Option<K>
where
    K: Clone + Debug + Send + Sync + DeserializeOwned + Resource + serde::Serialize + 'static,
    F: Fn(Option<&K>) -> bool + Send + 'static,
{
    let last: Arc<Mutex<Option<Option<K>>>> = Arc::new(Mutex::new(None));
    let seen = last.clone();
    let cond = move |obj: Option<&K>| {
        *seen.lock().unwrap() = Some(obj.cloned());
        predicate(obj)
    };
    match tokio::time::timeout(timeout, await_condition(api.clone(), name, cond)).await {
        Ok(Ok(obj)) => obj,
        Ok(Err(e)) => panic!("watching {} {name}: {e}", short_type_name::<K>()),
        Err(_) => {
            let last = last.lock().unwrap().clone();
            let shown = match last {
                None => "nothing observed yet".to_string(),
                Some(None) => "absent".to_string(),
                Some(Some(obj)) => {
                    serde_json::to_string_pretty(&obj).unwrap_or_else(|_| format!("{obj:?}"))
                }
            };
            panic!(
                "timed out after {timeout:?} waiting for {} {name}; last observed: {shown}",
                short_type_name::<K>()
            )
        }
    }
}

/// Waits until the object exists and `predicate` holds; returns it. Panics
/// after `timeout` with the last observed object.
pub async fn wait_for<K, F>(api: &Api<K>, name: &str, timeout: Duration, predicate: F) -> K
where
    K: Clone + Debug + Send + Sync + DeserializeOwned + Resource + serde::Serialize + 'static,
    K::DynamicType: Default,
    F: Fn(&K) -> bool + Send + 'static,
{
    wait_for_state(api, name, timeout, move |obj| obj.is_some_and(&predicate))
        .await
        .expect("await_condition returned no object for a presence predicate")
}

/// Waits until the object is gone (404), or panics after `timeout`.
pub async fn wait_for_deletion<K>(api: &Api<K>, name: &str, timeout: Duration)
where
    K: Clone + Debug + Send + Sync + DeserializeOwned + Resource + serde::Serialize + 'static,
    K::DynamicType: Default,
{
    wait_for_state(api, name, timeout, |obj| obj.is_none()).await;
}

/// A client authenticated as ServiceAccount `ns/sa_name` (token from the
/// TokenRequest API, valid 1 h), against the same server and CA as the admin
/// kubeconfig. The ServiceAccount must exist.
pub async fn service_account_client(admin: &Client, ns: &str, sa_name: &str) -> Client {
    let sas: Api<ServiceAccount> = Api::namespaced(admin.clone(), ns);
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            expiration_seconds: Some(3600),
            ..Default::default()
        }),
        ..Default::default()
    };
    let token = sas
        .create_token_request(sa_name, &PostParams::default(), &request)
        .await
        .unwrap_or_else(|e| panic!("TokenRequest for {ns}/{sa_name}: {e}"))
        .status
        .expect("TokenRequest has no status")
        .token;
    let mut config = admin_config().await;
    config.auth_info = serde_json::from_value(serde_json::json!({ "token": token }))
        .expect("building AuthInfo with a bearer token");
    config.default_namespace = ns.to_string();
    Client::try_from(config).expect("building service account client")
}

/// Creates ServiceAccount `ns/name` (if missing).
pub async fn create_service_account(client: &Client, ns: &str, name: &str) -> ServiceAccount {
    let api: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
    let sa = ServiceAccount {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            ..Default::default()
        },
        ..Default::default()
    };
    match api.create(&PostParams::default(), &sa).await {
        Ok(sa) => sa,
        Err(kube::Error::Api(s)) if s.code == 409 => {
            api.get(name).await.expect("get ServiceAccount")
        }
        Err(e) => panic!("creating ServiceAccount {ns}/{name}: {e}"),
    }
}
