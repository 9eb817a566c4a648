//! The Kubernetes API this operator serves: `ChatRoom` and `ChatLoggingConfiguration` in
//! `ivschat.operators.dev/v1alpha1`.
//!
//! Every constraint IVS Chat enforces is also enforced here, at admission, so a bad spec is
//! rejected by `kubectl apply` with a message that names the field instead of failing later
//! in AWS. Limits and patterns come from the IVS Chat service model.
//!
//! No field carries a schema `default`: defaults written by the apiserver show up as perpetual
//! diffs in Argo CD. The operator applies the AWS defaults itself (see `planning`).

pub mod chat_room;
pub mod common;
pub mod logging_configuration;

pub use chat_room::{
    ChatRoom, ChatRoomSpec, ChatRoomStatus, LoggingConfigurationReference, MessageReviewHandler,
};
pub use common::{DeletionPolicy, FallbackResult};
pub use logging_configuration::{
    ChatLoggingConfiguration, ChatLoggingConfigurationSpec, ChatLoggingConfigurationStatus,
    CloudWatchLogsDestination, DestinationConfiguration, FirehoseDestination, S3Destination,
};

/// The API group of both kinds.
pub const GROUP: &str = "ivschat.operators.dev";

/// Annotation that makes a resource take over an existing AWS resource instead of creating one.
pub const ADOPT_ARN_ANNOTATION: &str = "ivschat.operators.dev/adopt-arn";

/// Finalizer that holds a resource until its AWS counterpart is deleted (or retained).
pub const FINALIZER: &str = "ivschat.operators.dev/cleanup";

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

/// Every CRD this operator serves, in a stable order.
pub fn all_crds() -> Vec<CustomResourceDefinition> {
    use kube::CustomResourceExt;
    vec![
        without_nullable(ChatLoggingConfiguration::crd()),
        without_nullable(ChatRoom::crd()),
    ]
}

/// Drops `nullable: true` from a generated schema. schemars marks every `Option` field nullable,
/// which would make the apiserver keep explicit `null`s; without it `null` is pruned, so
/// `field: null` in a manifest means the same as leaving the field out.
fn without_nullable(crd: CustomResourceDefinition) -> CustomResourceDefinition {
    fn strip(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                map.remove("nullable");
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let Ok(mut json) = serde_json::to_value(&crd) else {
        return crd;
    };
    strip(&mut json);
    serde_json::from_value(json).unwrap_or(crd)
}

/// Renders every CRD as multi-document YAML, the content of `crds/`.
pub fn crds_yaml() -> Result<String, serde_saphyr::SerializeError> {
    let mut out = String::new();
    for crd in all_crds() {
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(&crd)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    /// `crds/crds.yaml` is what users and the Helm chart install: it must be exactly what the
    /// types generate. Regenerate with `cargo run -- crds > crds/crds.yaml`.
    #[test]
    fn checked_in_crds_match_the_types() {
        let generated = super::crds_yaml().expect("serialize");
        let checked_in = include_str!("../../crds/crds.yaml");
        assert!(
            generated == checked_in,
            "crds/crds.yaml is stale: run `cargo run -- crds > crds/crds.yaml` and commit it"
        );
        assert!(
            !generated.contains(": []"),
            "empty lists make Argo CD report the CRDs OutOfSync"
        );
        assert!(
            !generated.contains("default:"),
            "schema defaults cause perpetual Argo CD diffs"
        );
    }
}
