//! The Helm chart (charts/ivschat-operator), the plain manifests (deploy/) and the Argo CD
//! health check testdata (contrib/argocd/).
//!
//! - `helm lint`/`helm template` of the defaults and variants, the strict values schema;
//! - the chart's CRD copy equals crds/crds.yaml, and renders to the same CRDs;
//! - RBAC of least privilege, rendered;
//! - `kubectl kustomize deploy/` equals the chart's default rendering (deploy/generate.sh);
//! - live, on the test control plane: `helm install` (cluster and namespace scope), then the
//!   operator binary running as the chart's ServiceAccount (TokenRequest) reconciles a
//!   ChatLoggingConfiguration and a ChatRoom to Ready and deletes them, and the same identity
//!   is denied Secrets, ConfigMaps and anything outside its scope;
//! - the Argo CD testdata are real objects (regenerate with `UPDATE_ARGOCD_TESTDATA=1`).
//!
//! helm and kubectl come from target/control-plane/bin (tests/control-plane/build.sh). The
//! live tests install the chart with `crds.enabled=false`: the other tests own the CRDs in the
//! shared control plane (server-side applied by `ivschat-operator-tests`), and Helm refuses to
//! adopt objects it did not create. The chart's CRDs are checked with a server-side dry run.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use ivschat_operator::api::{
    ChatLoggingConfiguration, ChatLoggingConfigurationSpec, ChatRoom, ChatRoomSpec,
    DestinationConfiguration, LoggingConfigurationReference, S3Destination,
};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use support::scenario::{Scenario, TIMEOUT, condition_is, room_condition};

const CHART: &str = "charts/ivschat-operator";
const RELEASE: &str = "ivschat-operator";
const RELEASE_NAMESPACE: &str = "ivschat-system";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn tool(name: &str) -> PathBuf {
    let path = repo().join("target/control-plane/bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: build it with tests/control-plane/build.sh (tests/control-plane/up.sh \
         does too)",
        path.display()
    );
    path
}

/// Runs a tool; Ok(stdout) on success, Err(stdout + stderr) on failure.
fn run(name: &str, args: &[&str]) -> Result<String, String> {
    let output = Command::new(tool(name))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| panic!("running {name}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    if output.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "{name} {}: {}\n{stdout}{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

fn helm(args: &[&str]) -> String {
    run("helm", args).unwrap_or_else(|e| panic!("{e}"))
}

/// `helm template` of the chart with extra arguments (`--set`, `-f`, ...).
fn template(release: &str, namespace: &str, extra: &[&str]) -> String {
    let mut args = vec!["template", release, CHART, "--namespace", namespace];
    args.extend_from_slice(extra);
    helm(&args)
}

fn documents(yaml: &str) -> Vec<Value> {
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(yaml).unwrap_or_else(|e| panic!("parsing YAML: {e}\n{yaml}"));
    docs.into_iter()
        .filter(|d| !d.is_null() && d.as_object().is_some_and(|o| !o.is_empty()))
        .collect()
}

/// 1.0 and 1 are the same JSON number for the API server; kustomize writes the latter.
fn normalize_numbers(value: Value) -> Value {
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15 => json!(f as i64),
            _ => Value::Number(n),
        },
        Value::Array(a) => Value::Array(a.into_iter().map(normalize_numbers).collect()),
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| (k, normalize_numbers(v)))
                .collect(),
        ),
        other => other,
    }
}

fn key(obj: &Value) -> String {
    format!(
        "{}/{} {}/{}",
        obj["apiVersion"].as_str().unwrap_or(""),
        obj["kind"].as_str().unwrap_or(""),
        obj["metadata"]["namespace"].as_str().unwrap_or(""),
        obj["metadata"]["name"].as_str().unwrap_or("")
    )
}

fn by_key(docs: Vec<Value>) -> BTreeMap<String, Value> {
    let mut map = BTreeMap::new();
    for doc in docs {
        let k = key(&doc);
        assert!(
            map.insert(k.clone(), normalize_numbers(doc)).is_none(),
            "{k} rendered twice"
        );
    }
    map
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| {
            panic!(
                "no {kind} {name} among {:?}",
                docs.iter().map(key).collect::<Vec<_>>()
            )
        })
}

fn kinds(docs: &[Value]) -> BTreeSet<String> {
    docs.iter()
        .filter_map(|d| d["kind"].as_str().map(String::from))
        .collect()
}

fn container(docs: &[Value]) -> &Value {
    let deployments: Vec<&Value> = docs.iter().filter(|d| d["kind"] == "Deployment").collect();
    assert_eq!(deployments.len(), 1, "one Deployment");
    &deployments[0]["spec"]["template"]["spec"]["containers"][0]
}

fn args_of(docs: &[Value]) -> Vec<String> {
    container(docs)["args"]
        .as_array()
        .expect("container args")
        .iter()
        .map(|a| a.as_str().expect("string arg").to_string())
        .collect()
}

/// Helm's own labels, which deploy/ leaves out (same lines deploy/generate.sh deletes).
fn without_helm_labels(yaml: &str) -> String {
    yaml.lines()
        .filter(|l| {
            let t = l.trim();
            !t.starts_with("helm.sh/chart: ") && t != "app.kubernetes.io/managed-by: Helm"
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn chart_crds_are_the_generated_crds() {
    let generated = std::fs::read_to_string(repo().join("crds/crds.yaml")).expect("crds/crds.yaml");
    let copy = std::fs::read_to_string(repo().join(CHART).join("files/crds.yaml"))
        .expect("chart files/crds.yaml");
    assert!(
        generated == copy,
        "charts/ivschat-operator/files/crds.yaml differs from crds/crds.yaml: run deploy/generate.sh"
    );
    // The chart's rendering (metadata merged in the template) keeps every CRD's spec intact.
    let rendered = documents(&template(
        RELEASE,
        RELEASE_NAMESPACE,
        &["--show-only", "templates/crds.yaml"],
    ));
    let source = documents(&generated);
    assert_eq!(rendered.len(), source.len());
    for crd in &source {
        let name = crd["metadata"]["name"].as_str().expect("name");
        let out = find(&rendered, "CustomResourceDefinition", name);
        assert_eq!(
            out["spec"], crd["spec"],
            "spec of {name} changed by the chart"
        );
        let annotations = &out["metadata"]["annotations"];
        assert_eq!(annotations["helm.sh/resource-policy"], "keep");
        assert!(
            annotations.get("helm.sh/hook").is_none(),
            "CRDs must never be hooks"
        );
    }
}

#[test]
fn lint_and_template_defaults_and_variants() {
    let variants: &[(&str, &[&str])] = &[
        ("defaults", &[]),
        (
            "namespace scope",
            &[
                "--set",
                "installScope=namespace",
                "--set",
                "watchNamespace=rooms",
            ],
        ),
        (
            "serviceMonitor",
            &["--set", "metrics.serviceMonitor.enabled=true"],
        ),
        ("networkPolicy", &["--set", "networkPolicy.enabled=true"]),
        (
            "no leader election",
            &["--set", "leaderElection.enabled=false"],
        ),
        ("no CRDs", &["--set", "crds.enabled=false"]),
        (
            "kitchen sink",
            &["-f", "charts/ivschat-operator/ci/kitchen-sink-values.yaml"],
        ),
    ];
    for (name, extra) in variants {
        let mut lint = vec!["lint", "--strict", CHART, "--namespace", "team-a"];
        lint.extend_from_slice(extra);
        run("helm", &lint).unwrap_or_else(|e| panic!("helm lint, {name}: {e}"));
        let docs = documents(&template("rel", "team-a", extra));
        assert!(!docs.is_empty(), "{name}: nothing rendered");
        for doc in &docs {
            let annotations = &doc["metadata"]["annotations"];
            assert!(
                annotations.get("helm.sh/hook").is_none(),
                "{name}: {} is a hook",
                key(doc)
            );
        }
    }

    // Defaults: restricted Pod Security Standard, probes, downward API, leader election.
    let docs = documents(&template("rel", "team-a", &[]));
    assert_eq!(
        kinds(&docs),
        [
            "ClusterRole",
            "ClusterRoleBinding",
            "CustomResourceDefinition",
            "Deployment",
            "Role",
            "RoleBinding",
            "Service",
            "ServiceAccount"
        ]
        .into_iter()
        .map(String::from)
        .collect()
    );
    let deployment = find(&docs, "Deployment", "rel-ivschat-operator");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let c = container(&docs);
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(c["securityContext"]["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    let env: BTreeMap<&str, &Value> = c["env"]
        .as_array()
        .expect("env")
        .iter()
        .map(|e| (e["name"].as_str().unwrap_or(""), e))
        .collect();
    assert_eq!(
        env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.name"
    );
    assert_eq!(
        env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.namespace"
    );
    let args = args_of(&docs);
    for expected in [
        "run",
        "--leader-election=true",
        "--leader-election-namespace=team-a",
        "--lease-name=rel-ivschat-operator",
        "--metrics-addr=0.0.0.0:8080",
    ] {
        assert!(
            args.iter().any(|a| a == expected),
            "{expected} not in {args:?}"
        );
    }
    assert!(!args.iter().any(|a| a.starts_with("--watch-namespace")));
    assert_eq!(deployment["spec"]["strategy"]["type"], "RollingUpdate");

    // Namespace scope: a Role in the watched namespace, no operator ClusterRole.
    let docs = documents(&template(
        "rel",
        "team-a",
        &[
            "--set",
            "installScope=namespace",
            "--set",
            "watchNamespace=rooms",
        ],
    ));
    let role = find(&docs, "Role", "rel-ivschat-operator");
    assert_eq!(role["metadata"]["namespace"], "rooms");
    let binding = find(&docs, "RoleBinding", "rel-ivschat-operator");
    assert_eq!(binding["subjects"][0]["namespace"], "team-a");
    assert!(
        !docs
            .iter()
            .any(|d| d["kind"] == "ClusterRole" && d["metadata"]["name"] == "rel-ivschat-operator")
    );
    assert!(!kinds(&docs).contains("ClusterRoleBinding"));
    assert!(args_of(&docs).contains(&"--watch-namespace=rooms".to_string()));
    let lease_role = find(&docs, "Role", "rel-ivschat-operator-leader-election");
    assert_eq!(lease_role["metadata"]["namespace"], "team-a");

    // ServiceMonitor: skipped when the cluster does not serve it, rendered when it does.
    let sm = ["--set", "metrics.serviceMonitor.enabled=true"];
    assert!(!kinds(&documents(&template("rel", "team-a", &sm))).contains("ServiceMonitor"));
    let mut with_api = sm.to_vec();
    with_api.extend(["--api-versions", "monitoring.coreos.com/v1/ServiceMonitor"]);
    let docs = documents(&template("rel", "team-a", &with_api));
    let monitor = find(&docs, "ServiceMonitor", "rel-ivschat-operator");
    assert_eq!(monitor["spec"]["endpoints"][0]["port"], "metrics");
    let mut always = sm.to_vec();
    always.extend(["--set", "metrics.serviceMonitor.renderMode=always"]);
    assert!(kinds(&documents(&template("rel", "team-a", &always))).contains("ServiceMonitor"));

    // NetworkPolicy: DNS, API server, AWS 443 and the Pod Identity agent.
    let docs = documents(&template(
        "rel",
        "team-a",
        &["--set", "networkPolicy.enabled=true"],
    ));
    let policy = find(&docs, "NetworkPolicy", "rel-ivschat-operator");
    let text = policy.to_string();
    for needle in [
        "169.254.170.23/32",
        "fd00:ec2::23/128",
        "6443",
        "0.0.0.0/0",
        "53",
    ] {
        assert!(text.contains(needle), "{needle} not in {text}");
    }

    // No leader election: Recreate, no Lease Role.
    let docs = documents(&template(
        "rel",
        "team-a",
        &["--set", "leaderElection.enabled=false"],
    ));
    assert_eq!(
        find(&docs, "Deployment", "rel-ivschat-operator")["spec"]["strategy"]["type"],
        "Recreate"
    );
    assert!(args_of(&docs).contains(&"--leader-election=false".to_string()));
    assert!(!kinds(&docs).contains("Role"));

    // crds.enabled=false / crds.keep=false / crds.annotations.
    let docs = documents(&template("rel", "team-a", &["--set", "crds.enabled=false"]));
    assert!(!kinds(&docs).contains("CustomResourceDefinition"));
    let docs = documents(&template(
        "rel",
        "team-a",
        &[
            "--set",
            "crds.keep=false",
            "--set-string",
            "crds.annotations.argocd\\.argoproj\\.io/sync-options=Prune=false\\,ServerSideApply=true",
        ],
    ));
    for crd in docs
        .iter()
        .filter(|d| d["kind"] == "CustomResourceDefinition")
    {
        let annotations = &crd["metadata"]["annotations"];
        assert!(annotations.get("helm.sh/resource-policy").is_none());
        assert_eq!(
            annotations["argocd.argoproj.io/sync-options"],
            "Prune=false,ServerSideApply=true"
        );
    }

    // Kitchen sink: IRSA annotation, region, tags, scheduling, image digest.
    let docs = documents(&template(
        "rel",
        "team-a",
        &["-f", "charts/ivschat-operator/ci/kitchen-sink-values.yaml"],
    ));
    let sa = find(&docs, "ServiceAccount", "ivschat-operator");
    assert_eq!(
        sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        "arn:aws:iam::111122223333:role/ivschat-operator"
    );
    let c = container(&docs);
    assert!(c["image"].as_str().is_some_and(|i| i.contains("@sha256:")));
    let args = args_of(&docs);
    for expected in [
        "--region=eu-west-1",
        "--default-tags=env=prod,team=platform",
        "--cluster-name=prod-eu",
        "--log-format=text",
    ] {
        assert!(
            args.iter().any(|a| a == expected),
            "{expected} not in {args:?}"
        );
    }
    assert!(kinds(&docs).contains("PodDisruptionBudget"));

    // Combinations the schema cannot express fail with a message.
    let err = run(
        "helm",
        &[
            "template",
            "rel",
            CHART,
            "--set",
            "leaderElection.enabled=false",
            "--set",
            "replicaCount=2",
        ],
    )
    .expect_err("replicaCount 2 without leader election must fail");
    assert!(err.contains("needs leaderElection.enabled"), "{err}");
}

#[test]
fn unknown_values_keys_are_rejected() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (file, content, needle) in [
        ("top.yaml", "replicas: 2\n", "'replicas' not allowed"),
        ("nested.yaml", "image:\n  tags: v1\n", "'tags' not allowed"),
        (
            "deep.yaml",
            "metrics:\n  serviceMonitor:\n    intervall: 10s\n",
            "'intervall' not allowed",
        ),
        ("wrong-type.yaml", "replicaCount: two\n", "replicaCount"),
        (
            "bad-enum.yaml",
            "installScope: everywhere\n",
            "installScope",
        ),
    ] {
        let path = dir.path().join(file);
        std::fs::write(&path, content).expect("write values");
        let path = path.to_str().expect("utf-8 path");
        for command in ["lint", "template"] {
            let err = run("helm", &[command, CHART, "-f", path])
                .expect_err(&format!("helm {command} accepted {file}: {content}"));
            assert!(err.contains(needle), "helm {command} {file}: {err}");
        }
    }
}

/// The operator's rules: exactly the verbs it uses, no wildcards, no Secrets.
#[test]
fn rbac_is_least_privilege() {
    let expected_rules = json!([
        {"apiGroups": ["ivschat.operators.dev"], "resources": ["chatrooms", "chatloggingconfigurations"], "verbs": ["get", "list", "watch", "patch"]},
        {"apiGroups": ["ivschat.operators.dev"], "resources": ["chatrooms/status", "chatloggingconfigurations/status"], "verbs": ["get", "patch"]},
        {"apiGroups": ["ivschat.operators.dev"], "resources": ["chatrooms/finalizers", "chatloggingconfigurations/finalizers"], "verbs": ["update"]},
        {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
    ]);
    let expected_lease = json!([
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "resourceNames": ["rel-ivschat-operator"], "verbs": ["get", "update", "patch"]},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
    ]);
    for extra in [
        &[][..],
        &["--set", "installScope=namespace"][..],
        &["-f", "charts/ivschat-operator/ci/kitchen-sink-values.yaml"][..],
    ] {
        let docs = documents(&template("rel", "team-a", extra));
        for doc in docs
            .iter()
            .filter(|d| d["kind"] == "Role" || d["kind"] == "ClusterRole")
        {
            let text = doc["rules"].to_string();
            assert!(!text.contains('*'), "wildcard in {}: {text}", key(doc));
            for forbidden in ["secrets", "configmaps", "pods", "customresourcedefinitions"] {
                assert!(
                    !text.contains(forbidden),
                    "{forbidden} in {}: {text}",
                    key(doc)
                );
            }
        }
        let operator = docs
            .iter()
            .find(|d| {
                (d["kind"] == "ClusterRole" || d["kind"] == "Role")
                    && d["metadata"]["name"] == "rel-ivschat-operator"
            })
            .expect("operator role");
        assert_eq!(operator["rules"], expected_rules, "{extra:?}");
        let lease = find(&docs, "Role", "rel-ivschat-operator-leader-election");
        assert_eq!(lease["rules"], expected_lease, "{extra:?}");
        let view = find(&docs, "ClusterRole", "rel-ivschat-operator-view");
        assert_eq!(
            view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"],
            "true"
        );
        let edit = find(&docs, "ClusterRole", "rel-ivschat-operator-edit");
        assert_eq!(
            edit["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"],
            "true"
        );
    }
}

#[test]
fn deploy_equals_the_default_rendering() {
    let kustomized = run("kubectl", &["kustomize", "deploy"]).unwrap_or_else(|e| panic!("{e}"));
    let mut deploy = by_key(documents(&kustomized));
    let namespace = deploy
        .remove(&format!("v1/Namespace /{RELEASE_NAMESPACE}"))
        .expect("deploy/ creates the namespace");
    assert_eq!(
        namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "restricted"
    );
    let chart = by_key(documents(&without_helm_labels(&template(
        RELEASE,
        RELEASE_NAMESPACE,
        &[],
    ))));
    let deploy_keys: BTreeSet<_> = deploy.keys().collect();
    let chart_keys: BTreeSet<_> = chart.keys().collect();
    assert_eq!(
        deploy_keys, chart_keys,
        "deploy/ and the chart's default rendering hold different objects: run deploy/generate.sh"
    );
    for (k, obj) in &chart {
        assert!(
            &deploy[k] == obj,
            "{k} in deploy/ differs from the chart's default rendering: run deploy/generate.sh"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Live: helm install + the operator as the chart's ServiceAccount.

/// Uninstalls the release (its cluster-scoped objects outlive the namespace) when dropped.
struct Release {
    name: String,
    namespace: String,
}

impl Drop for Release {
    fn drop(&mut self) {
        if let Err(e) = run(
            "helm",
            &[
                "uninstall",
                &self.name,
                "--namespace",
                &self.namespace,
                "--wait=false",
            ],
        ) {
            eprintln!("helm uninstall {}: {e}", self.name);
        }
    }
}

fn s3(bucket: &str) -> DestinationConfiguration {
    DestinationConfiguration {
        s3: Some(S3Destination {
            bucket_name: bucket.into(),
        }),
        ..Default::default()
    }
}

async fn assert_forbidden<T: std::fmt::Debug>(what: &str, result: kube::Result<T>) {
    match result {
        Err(kube::Error::Api(s)) if s.code == 403 => {}
        other => panic!("{what}: expected 403 Forbidden, got {other:?}"),
    }
}

/// Installs the chart into a fresh namespace, runs the operator binary with a token of the
/// chart's ServiceAccount and the Deployment's own arguments, and checks what it may and may
/// not do.
async fn install_and_reconcile(scope: &str) {
    let _ = support::kubeconfig_path();
    let mut s = Scenario::without_operator(&format!("chart-{scope}"), &[]).await;
    let ns = s.ns.name().to_string();
    let release = Release {
        name: format!("ivs-{}", support::random_suffix(6)),
        namespace: ns.clone(),
    };
    // The whole default rendering (CRDs included) is valid for the real API server.
    let rendered = template(
        &release.name,
        &ns,
        &["--set", &format!("installScope={scope}")],
    );
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), &rendered).expect("write rendering");
    run(
        "kubectl",
        &[
            "apply",
            "--dry-run=server",
            "--server-side",
            "--force-conflicts",
            "--field-manager",
            "chart-dry-run",
            "-f",
            file.path().to_str().expect("utf-8"),
        ],
    )
    .unwrap_or_else(|e| panic!("server-side dry run of the rendering: {e}"));

    helm(&[
        "install",
        &release.name,
        CHART,
        "--namespace",
        &ns,
        "--set",
        "crds.enabled=false",
        "--set",
        &format!("installScope={scope}"),
        "--set",
        "clusterName=test",
    ]);
    let manifest = documents(&helm(&[
        "get",
        "manifest",
        &release.name,
        "--namespace",
        &ns,
    ]));
    let sa = manifest
        .iter()
        .find(|d| d["kind"] == "ServiceAccount")
        .and_then(|d| d["metadata"]["name"].as_str())
        .expect("the chart's ServiceAccount")
        .to_string();

    // The Deployment's arguments, except those the harness sets itself.
    let harness_sets = [
        "--watch-namespace",
        "--metrics-addr",
        "--cluster-name",
        "--log-",
    ];
    let args: Vec<String> = args_of(&manifest)
        .into_iter()
        .skip(1)
        .filter(|a| !harness_sets.iter().any(|p| a.starts_with(p)))
        .collect();
    assert!(
        args.contains(&"--leader-election=true".to_string()),
        "{args:?}"
    );
    let lease_name = args
        .iter()
        .find_map(|a| a.strip_prefix("--lease-name="))
        .expect("--lease-name")
        .to_string();

    // A kubeconfig with a TokenRequest token of the chart's ServiceAccount.
    let kubeconfig = support::processes::log_dir().join(format!("{ns}-sa.kubeconfig"));
    let script = repo().join("tests/control-plane/sa-kubeconfig.sh");
    let out = Command::new(&script)
        .args([
            support::kubeconfig_path().to_str().expect("utf-8"),
            &ns,
            &sa,
            kubeconfig.to_str().expect("utf-8"),
        ])
        .output()
        .expect("run sa-kubeconfig.sh");
    assert!(
        out.status.success(),
        "sa-kubeconfig.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let pod_name = format!("{}-pod", release.name);
    let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
    s.start_operator(|mut o| {
        o.kubeconfig = Some(kubeconfig.clone());
        o.args(&arg_refs)
            .env("POD_NAME", &pod_name)
            .env("POD_NAMESPACE", &ns)
    });

    // It reconciles both kinds to Ready as the ServiceAccount.
    s.apply_logging_configuration(
        "audit",
        ChatLoggingConfigurationSpec {
            destination: s3("chart-audit"),
            ..Default::default()
        },
    )
    .await;
    s.wait_logging_configuration_ready("audit").await;
    s.apply_room(
        "lobby",
        ChatRoomSpec {
            logging_configurations: Some(vec![LoggingConfigurationReference {
                name: Some("audit".into()),
                arn: None,
            }]),
            ..Default::default()
        },
    )
    .await;
    let room = s.wait_room_ready("lobby").await;
    assert!(
        room.finalizers()
            .iter()
            .any(|f| f == "ivschat.operators.dev/cleanup"),
        "finalizer added"
    );
    s.wait_event("lobby", "CreatedExternalResource").await;
    let lease = Api::<Lease>::namespaced(s.client.clone(), &ns)
        .get(&lease_name)
        .await
        .expect("the leader Lease");
    assert_eq!(
        lease.spec.and_then(|l| l.holder_identity).as_deref(),
        Some(pod_name.as_str())
    );

    // Deletion works too (finalizer removal, DeleteRoom).
    s.rooms
        .delete("lobby", &DeleteParams::default())
        .await
        .expect("delete room");
    support::wait_for_deletion(&s.rooms, "lobby", TIMEOUT).await;
    assert!(s.emulator.calls("DeleteRoom", "Success").await >= 1);

    // And nothing more.
    let as_sa: Client = support::service_account_client(&s.client, &ns, &sa).await;
    assert_forbidden(
        "list Secrets in the release namespace",
        Api::<Secret>::namespaced(as_sa.clone(), &ns)
            .list(&ListParams::default())
            .await,
    )
    .await;
    assert_forbidden(
        "get a Secret (Helm's release Secret)",
        Api::<Secret>::namespaced(as_sa.clone(), &ns)
            .get(&format!("sh.helm.release.v1.{}.v1", release.name))
            .await,
    )
    .await;
    assert_forbidden(
        "list Secrets cluster-wide",
        Api::<Secret>::all(as_sa.clone())
            .list(&ListParams::default())
            .await,
    )
    .await;
    assert_forbidden(
        "list ConfigMaps",
        Api::<ConfigMap>::namespaced(as_sa.clone(), &ns)
            .list(&ListParams::default())
            .await,
    )
    .await;
    assert_forbidden(
        "create a ChatRoom",
        Api::<ChatRoom>::namespaced(as_sa.clone(), &ns)
            .create(
                &PostParams::default(),
                &ChatRoom::new("intruder", ChatRoomSpec::default()),
            )
            .await,
    )
    .await;
    assert_forbidden(
        "delete a ChatLoggingConfiguration",
        Api::<ChatLoggingConfiguration>::namespaced(as_sa.clone(), &ns)
            .delete("audit", &DeleteParams::default())
            .await,
    )
    .await;
    assert_forbidden(
        "another Lease",
        Api::<Lease>::namespaced(as_sa.clone(), &ns)
            .get("someone-else")
            .await,
    )
    .await;
    let cluster_wide = Api::<ChatRoom>::all(as_sa.clone())
        .list(&ListParams::default())
        .await;
    if scope == "namespace" {
        assert_forbidden(
            "list ChatRooms cluster-wide (namespace scope)",
            cluster_wide,
        )
        .await;
    } else {
        cluster_wide.expect("cluster scope lists ChatRooms in every namespace");
    }

    let log = std::fs::read_to_string(&s.operator().log).unwrap_or_default();
    assert!(
        !log.to_ascii_lowercase().contains("forbidden"),
        "the operator was denied something:\n{}",
        s.operator().log_tail()
    );
    assert_eq!(s.operator().terminate().await, Some(0));
    drop(release);
}

#[tokio::test]
async fn helm_install_cluster_scope_rbac_suffices_and_denies_secrets() {
    install_and_reconcile("cluster").await;
}

#[tokio::test]
async fn helm_install_namespace_scope_rbac_suffices_and_denies_secrets() {
    install_and_reconcile("namespace").await;
}

// ---------------------------------------------------------------------------------------------
// Argo CD health check testdata, from real objects.

const HEALTH_DIR: &str = "contrib/argocd/resource_customizations/ivschat.operators.dev";

/// An object as `kubectl get -o yaml` would show it, minus managedFields.
fn as_testdata<K: serde::Serialize>(obj: &K) -> Value {
    let mut value = serde_json::to_value(obj).expect("serialize");
    if let Some(meta) = value["metadata"].as_object_mut() {
        meta.remove("managedFields");
    }
    value
}

/// What the health check looks at, for comparing fresh objects with the committed ones.
fn health_shape(obj: &Value) -> Value {
    let conditions: Vec<Value> = obj["status"]["conditions"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| json!([c["type"], c["status"], c["reason"]]))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "kind": obj["kind"],
        "hasStatus": obj.get("status").is_some_and(|s| !s.is_null()),
        "deleting": obj["metadata"].get("deletionTimestamp").is_some_and(|d| !d.is_null()),
        "generationObserved": obj["status"]["observedGeneration"] == obj["metadata"]["generation"],
        "conditions": conditions,
    })
}

async fn drop_finalizers<K>(api: &Api<K>, name: &str)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let _ = api
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await;
}

async fn collect_testdata() -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let lc_spec = |bucket: &str| ChatLoggingConfigurationSpec {
        destination: s3(bucket),
        ..Default::default()
    };

    // No status yet (no operator running).
    let s = Scenario::without_operator("argocd-nostatus", &[]).await;
    let room = s.apply_room("lobby", ChatRoomSpec::default()).await;
    out.insert(
        "ChatRoom/testdata/progressing-no-status.yaml".into(),
        as_testdata(&room),
    );
    let lc = s
        .apply_logging_configuration("audit", lc_spec("audit"))
        .await;
    out.insert(
        "ChatLoggingConfiguration/testdata/progressing-no-status.yaml".into(),
        as_testdata(&lc),
    );
    drop(s);

    // Ready; then a spec change the stopped operator has not seen; then being deleted.
    let mut s = Scenario::start("argocd-ready", &[], &[]).await;
    s.apply_logging_configuration("audit", lc_spec("audit"))
        .await;
    let lc = s.wait_logging_configuration_ready("audit").await;
    out.insert(
        "ChatLoggingConfiguration/testdata/healthy.yaml".into(),
        as_testdata(&lc),
    );
    s.apply_room("lobby", ChatRoomSpec::default()).await;
    let room = s.wait_room_ready("lobby").await;
    out.insert("ChatRoom/testdata/healthy.yaml".into(), as_testdata(&room));
    assert_eq!(s.operator().terminate().await, Some(0));
    let room = s
        .apply_room(
            "lobby",
            ChatRoomSpec {
                maximum_message_length: Some(321),
                ..Default::default()
            },
        )
        .await;
    out.insert(
        "ChatRoom/testdata/progressing-stale-generation.yaml".into(),
        as_testdata(&room),
    );
    let lc = s
        .apply_logging_configuration("audit", lc_spec("audit-2"))
        .await;
    out.insert(
        "ChatLoggingConfiguration/testdata/progressing-stale-generation.yaml".into(),
        as_testdata(&lc),
    );
    s.rooms
        .delete("lobby", &DeleteParams::default())
        .await
        .expect("delete room");
    s.logging_configurations
        .delete("audit", &DeleteParams::default())
        .await
        .expect("delete lc");
    let room = s
        .rooms
        .get("lobby")
        .await
        .expect("room held by its finalizer");
    out.insert(
        "ChatRoom/testdata/progressing-deleting.yaml".into(),
        as_testdata(&room),
    );
    let lc = s
        .logging_configurations
        .get("audit")
        .await
        .expect("lc held by its finalizer");
    out.insert(
        "ChatLoggingConfiguration/testdata/progressing-deleting.yaml".into(),
        as_testdata(&lc),
    );
    drop_finalizers(&s.rooms, "lobby").await;
    drop_finalizers(&s.logging_configurations, "audit").await;
    drop(s);

    // Stalled: AWS quota of zero.
    let s = Scenario::start(
        "argocd-stalled",
        &[
            "--quotas",
            "on",
            "--rate-scale",
            "100",
            "--max-rooms",
            "0",
            "--max-logging-configurations",
            "0",
        ],
        &[],
    )
    .await;
    s.apply_room("overflow", ChatRoomSpec::default()).await;
    let room = s
        .wait_room("overflow", |r: &ChatRoom| {
            room_condition(r, "Stalled").is_some_and(|c| c.status == "True")
        })
        .await;
    out.insert(
        "ChatRoom/testdata/degraded-stalled.yaml".into(),
        as_testdata(&room),
    );
    s.apply_logging_configuration("overflow", lc_spec("overflow"))
        .await;
    let lc = support::wait_for(
        &s.logging_configurations,
        "overflow",
        TIMEOUT,
        |l: &ChatLoggingConfiguration| {
            condition_is(
                l.status.as_ref().and_then(|s| s.conditions.as_ref()),
                l.metadata.generation,
                "Stalled",
                "True",
            )
        },
    )
    .await;
    out.insert(
        "ChatLoggingConfiguration/testdata/degraded-stalled.yaml".into(),
        as_testdata(&lc),
    );
    drop(s);

    // Retrying (Synced=False, not stalled) and, for logging configurations, CREATING.
    let s = Scenario::start(
        "argocd-retrying",
        &[
            "--fault",
            "CreateRoom=internal:1.0",
            "--logging-configuration-delay",
            "600000",
        ],
        &[],
    )
    .await;
    s.apply_room("flaky", ChatRoomSpec::default()).await;
    let room = s
        .wait_room("flaky", |r: &ChatRoom| {
            room_condition(r, "Synced").is_some_and(|c| c.status == "False")
                && r.status.as_ref().and_then(|s| s.observed_generation) == r.metadata.generation
        })
        .await;
    out.insert(
        "ChatRoom/testdata/progressing-retrying.yaml".into(),
        as_testdata(&room),
    );
    s.apply_logging_configuration("slow", lc_spec("slow")).await;
    let lc = support::wait_for(
        &s.logging_configurations,
        "slow",
        TIMEOUT,
        |l: &ChatLoggingConfiguration| {
            l.status.as_ref().and_then(|s| s.state.as_deref()) == Some("CREATING")
                && l.status.as_ref().and_then(|s| s.observed_generation) == l.metadata.generation
        },
    )
    .await;
    out.insert(
        "ChatLoggingConfiguration/testdata/progressing-creating.yaml".into(),
        as_testdata(&lc),
    );
    drop(s);
    out
}

/// The committed testdata must have the shape real objects have today (conditions, reasons,
/// generations): when the operator's status changes, regenerate them with
/// `UPDATE_ARGOCD_TESTDATA=1 cargo test --test chart argocd` and re-run the Lua tests
/// (`make test-argocd-health`).
#[tokio::test]
async fn argocd_health_testdata_are_real_objects() {
    let fresh = collect_testdata().await;
    let dir = repo().join(HEALTH_DIR);
    let update = std::env::var("UPDATE_ARGOCD_TESTDATA").is_ok_and(|v| v == "1");
    let mut stale = Vec::new();
    for (path, obj) in &fresh {
        let file = dir.join(path);
        if update {
            let yaml = serde_saphyr::to_string(obj).expect("to YAML");
            std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
            std::fs::write(&file, yaml).expect("write testdata");
            continue;
        }
        let committed = std::fs::read_to_string(&file)
            .map(|t| documents(&t).into_iter().next().unwrap_or(Value::Null))
            .unwrap_or(Value::Null);
        if health_shape(&committed) != health_shape(obj) {
            stale.push(format!(
                "{path}: committed {} but a real object is {}",
                health_shape(&committed),
                health_shape(obj)
            ));
        }
    }
    assert!(
        stale.is_empty(),
        "Argo CD testdata no longer match real objects; regenerate with \
         UPDATE_ARGOCD_TESTDATA=1 cargo test --test chart argocd:\n{}",
        stale.join("\n")
    );
    // Every testdata file is listed in its health_test.yaml.
    for kind in ["ChatRoom", "ChatLoggingConfiguration"] {
        let tests = std::fs::read_to_string(dir.join(kind).join("health_test.yaml"))
            .expect("health_test.yaml");
        for path in fresh.keys().filter(|p| p.starts_with(&format!("{kind}/"))) {
            let input = path.trim_start_matches(&format!("{kind}/"));
            assert!(
                tests.contains(input),
                "{kind}/health_test.yaml has no case for {input}"
            );
        }
    }
}

/// deploy/argocd/argocd-cm-patch.yaml carries the same script as contrib/ for both kinds.
#[test]
fn argocd_cm_patch_carries_the_health_scripts() {
    let dir = repo().join(HEALTH_DIR);
    let patch = std::fs::read_to_string(repo().join("deploy/argocd/argocd-cm-patch.yaml"))
        .expect("deploy/argocd/argocd-cm-patch.yaml");
    let cm = documents(&patch).into_iter().next().expect("a ConfigMap");
    assert_eq!(cm["metadata"]["name"], "argocd-cm");
    for kind in ["ChatRoom", "ChatLoggingConfiguration"] {
        let lua = std::fs::read_to_string(dir.join(kind).join("health.lua")).expect("health.lua");
        let key = format!("resource.customizations.health.ivschat.operators.dev_{kind}");
        assert_eq!(
            cm["data"][&key].as_str(),
            Some(lua.as_str()),
            "{key} in deploy/argocd/argocd-cm-patch.yaml differs from {kind}/health.lua"
        );
    }
}
