//! Tags: the user's, the operator's defaults, and the ownership tags that make create
//! crash-safe and adoption safe.

use crate::api::common::AWS_MAX_TAGS;
use crate::aws::Tags;

/// Ownership tag: the `--cluster-name` of the operator that manages the resource.
pub const CLUSTER_TAG: &str = "ivschat.operators.dev/cluster";
/// Ownership tag: `namespace/name` of the managing object (informational, cut at 256).
pub const OWNER_TAG: &str = "ivschat.operators.dev/owner";
/// Ownership tag: the uid of the managing object; this is what proves ownership.
pub const UID_TAG: &str = "ivschat.operators.dev/uid";

/// Every ownership tag, removed when a resource is retained so that it can be adopted again.
pub const OWNERSHIP_TAGS: [&str; 3] = [CLUSTER_TAG, OWNER_TAG, UID_TAG];

/// The Kubernetes object that owns an AWS resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub cluster: String,
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

impl Owner {
    /// The owner identity of a Kubernetes object managed by the operator of `cluster`.
    pub fn of<K: kube::Resource>(obj: &K, cluster: &str) -> Owner {
        use kube::ResourceExt;
        Owner {
            cluster: cluster.to_string(),
            namespace: obj.namespace().unwrap_or_default(),
            name: obj.name_any(),
            uid: obj.uid().unwrap_or_default(),
        }
    }

    pub fn tags(&self) -> Tags {
        let owner: String = format!("{}/{}", self.namespace, self.name)
            .chars()
            .take(256)
            .collect();
        Tags::from([
            (CLUSTER_TAG.to_string(), self.cluster.clone()),
            (OWNER_TAG.to_string(), owner),
            (UID_TAG.to_string(), self.uid.clone()),
        ])
    }
}

/// Who owns an AWS resource according to its tags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ownership {
    /// Tagged with this object's uid.
    Ours,
    /// Tagged by another object (of this or another cluster); the value names it.
    Other(String),
    /// No ownership tags: free to adopt.
    Unowned,
}

pub fn ownership(tags: &Tags, owner: &Owner) -> Ownership {
    match tags.get(UID_TAG) {
        Some(uid) if *uid == owner.uid => Ownership::Ours,
        Some(_) => {
            let cluster = tags.get(CLUSTER_TAG).map(String::as_str).unwrap_or("?");
            let name = tags.get(OWNER_TAG).map(String::as_str).unwrap_or("?");
            Ownership::Other(format!("{name} in cluster {cluster}"))
        }
        None => Ownership::Unowned,
    }
}

/// Error when the merged tags exceed what AWS accepts.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "too many tags: {total} (spec.tags, the operator's default tags and 3 ownership tags) but AWS allows {AWS_MAX_TAGS}"
)]
pub struct TooManyTags {
    pub total: usize,
}

/// The tags the AWS resource must carry: the operator's default tags, overridden by the
/// resource's own tags (like Terraform's `default_tags`), plus the ownership tags.
pub fn desired_tags(
    defaults: &Tags,
    spec: Option<&Tags>,
    owner: &Owner,
) -> Result<Tags, TooManyTags> {
    let mut tags = defaults.clone();
    if let Some(spec) = spec {
        tags.extend(spec.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    tags.extend(owner.tags());
    if tags.len() > AWS_MAX_TAGS {
        return Err(TooManyTags { total: tags.len() });
    }
    Ok(tags)
}

/// The tag changes that turn `observed` into `desired`: tags to set (new or changed values)
/// and keys to remove. Keys under `aws:` belong to AWS and are never removed.
pub fn tag_delta(desired: &Tags, observed: &Tags) -> (Tags, Vec<String>) {
    let to_set: Tags = desired
        .iter()
        .filter(|(k, v)| observed.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let to_remove: Vec<String> = observed
        .keys()
        .filter(|k| !desired.contains_key(*k) && !k.starts_with("aws:"))
        .cloned()
        .collect();
    (to_set, to_remove)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner() -> Owner {
        Owner {
            cluster: "prod".into(),
            namespace: "ns".into(),
            name: "room".into(),
            uid: "u-1".into(),
        }
    }

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn resource_tags_win_over_defaults_and_ownership_is_added() {
        let merged = desired_tags(
            &tags(&[("team", "platform"), ("env", "dev")]),
            Some(&tags(&[("env", "prod")])),
            &owner(),
        )
        .expect("fits");
        assert_eq!(merged.get("env").map(String::as_str), Some("prod"));
        assert_eq!(merged.get("team").map(String::as_str), Some("platform"));
        assert_eq!(merged.get(UID_TAG).map(String::as_str), Some("u-1"));
        assert_eq!(merged.get(OWNER_TAG).map(String::as_str), Some("ns/room"));
        assert_eq!(merged.len(), 5);
    }

    #[test]
    fn more_than_fifty_tags_is_an_error() {
        let defaults: Tags = (0..10).map(|i| (format!("d{i}"), "v".into())).collect();
        let spec: Tags = (0..40).map(|i| (format!("s{i}"), "v".into())).collect();
        assert_eq!(
            desired_tags(&defaults, Some(&spec), &owner()),
            Err(TooManyTags { total: 53 })
        );
        let spec: Tags = (0..37).map(|i| (format!("s{i}"), "v".into())).collect();
        assert!(desired_tags(&defaults, Some(&spec), &owner()).is_ok());
    }

    #[test]
    fn delta_sets_changed_and_new_and_removes_missing_but_never_aws_keys() {
        let desired = tags(&[("a", "1"), ("b", "2"), ("c", "3")]);
        let observed = tags(&[
            ("a", "1"),
            ("b", "old"),
            ("gone", "x"),
            ("aws:cloudformation:stack", "s"),
        ]);
        let (set, remove) = tag_delta(&desired, &observed);
        assert_eq!(set, tags(&[("b", "2"), ("c", "3")]));
        assert_eq!(remove, vec!["gone".to_string()]);
        assert_eq!(tag_delta(&desired, &desired), (Tags::new(), vec![]));
    }

    #[test]
    fn ownership_by_uid_tag() {
        let mine = owner().tags();
        assert_eq!(ownership(&mine, &owner()), Ownership::Ours);
        let other = Owner {
            uid: "u-2".into(),
            name: "other".into(),
            ..owner()
        };
        assert_eq!(
            ownership(&other.tags(), &owner()),
            Ownership::Other("ns/other in cluster prod".into())
        );
        assert_eq!(ownership(&Tags::new(), &owner()), Ownership::Unowned);
    }
}
