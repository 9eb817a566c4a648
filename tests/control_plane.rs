//! Acceptance tests for the test control plane itself (tests/control-plane/):
//! a real kube-apiserver with RBAC and a kube-controller-manager.
//! Needs KUBECONFIG (see tests/support/mod.rs).

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, GetParams, ListParams, ObjectMeta, PostParams};

#[tokio::test]
async fn readyz_is_ok() {
    let client = support::client().await;
    let req = kube::core::Request::new("")
        .get("readyz", &GetParams::default())
        .expect("building /readyz request");
    let body = client.request_text(req).await.expect("GET /readyz");
    assert_eq!(body.trim(), "ok");

    let version = client.apiserver_version().await.expect("GET /version");
    assert_eq!(
        (version.major.as_str(), version.minor.as_str()),
        ("1", "36"),
        "{version:?}"
    );
}

#[tokio::test]
async fn configmap_roundtrip_and_namespace_deletion() {
    let client = support::client().await;
    let ns = support::test_namespace(&client, "cp-roundtrip").await;
    let cms: Api<ConfigMap> = ns.api(&client);
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some("hello".into()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("greeting".to_string(), "hi".to_string())])),
        ..Default::default()
    };
    cms.create(&PostParams::default(), &cm)
        .await
        .expect("create ConfigMap");
    let got = cms.get("hello").await.expect("get ConfigMap");
    assert_eq!(got.data.unwrap()["greeting"], "hi");

    // The namespace controller (kube-controller-manager) empties and removes
    // the namespace; without it, it would stay Terminating forever.
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .delete(ns.name(), &DeleteParams::background())
        .await
        .expect("delete namespace");
    support::wait_for_deletion(&namespaces, ns.name(), Duration::from_secs(60)).await;
    let err = cms.get("hello").await.expect_err("ConfigMap must be gone");
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 404),
        "{err}"
    );
}

#[tokio::test]
async fn service_account_without_bindings_is_forbidden() {
    let client = support::client().await;
    let ns = support::test_namespace(&client, "cp-rbac").await;
    support::create_service_account(&client, ns.name(), "nobody").await;
    let sa_client = support::service_account_client(&client, ns.name(), "nobody").await;

    let cms: Api<ConfigMap> = Api::namespaced(sa_client, ns.name());
    let err = cms
        .list(&ListParams::default())
        .await
        .expect_err("a ServiceAccount without RoleBindings must not list ConfigMaps");
    match &err {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 403, "{err}");
            assert!(
                s.message
                    .contains(&format!("system:serviceaccount:{}:nobody", ns.name())),
                "authenticated as the ServiceAccount: {err}"
            );
        }
        other => panic!("expected 403, got {other}"),
    }
}

#[tokio::test]
async fn crds_install_idempotently() {
    let client = support::client().await;
    support::install_crds(&client).await;
    support::install_crds(&client).await;
}

/// A failing test dumps its namespace (stderr) and still deletes it, from
/// `TestNamespace::drop` inside the tokio test runtime, without deadlocking.
#[tokio::test]
#[should_panic(expected = "deliberate failure")]
async fn failing_test_dumps_its_namespace() {
    let client = support::client().await;
    let ns = support::test_namespace(&client, "cp-dump").await;
    let cms: Api<ConfigMap> = ns.api(&client);
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some("shown-in-dump".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    cms.create(&PostParams::default(), &cm)
        .await
        .expect("create ConfigMap");
    panic!(
        "deliberate failure (the dump of {} above is expected)",
        ns.name()
    );
}
