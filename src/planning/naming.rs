//! How Kubernetes objects map to AWS names.

/// The AWS name for an object without `spec.name`: `metadata.name` with every character outside
/// `[a-zA-Z0-9-_]` replaced by `-`, cut at 128 characters (the IVS Chat limit).
pub fn aws_name_from_object_name(object_name: &str) -> String {
    object_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(128)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_dots_and_cuts_at_128() {
        assert_eq!(aws_name_from_object_name("team-a.lobby"), "team-a-lobby");
        assert_eq!(aws_name_from_object_name("plain_name-1"), "plain_name-1");
        let long = "a".repeat(253);
        assert_eq!(aws_name_from_object_name(&long).len(), 128);
    }
}
