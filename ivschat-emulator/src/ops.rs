//! The 17 IVS Chat operations, their routes and their documented rate quotas.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    CreateChatToken,
    CreateLoggingConfiguration,
    CreateRoom,
    DeleteLoggingConfiguration,
    DeleteMessage,
    DeleteRoom,
    DisconnectUser,
    GetLoggingConfiguration,
    GetRoom,
    ListLoggingConfigurations,
    ListRooms,
    ListTagsForResource,
    SendEvent,
    TagResource,
    UntagResource,
    UpdateLoggingConfiguration,
    UpdateRoom,
}

impl Operation {
    pub const ALL: [Operation; 17] = [
        Operation::CreateChatToken,
        Operation::CreateLoggingConfiguration,
        Operation::CreateRoom,
        Operation::DeleteLoggingConfiguration,
        Operation::DeleteMessage,
        Operation::DeleteRoom,
        Operation::DisconnectUser,
        Operation::GetLoggingConfiguration,
        Operation::GetRoom,
        Operation::ListLoggingConfigurations,
        Operation::ListRooms,
        Operation::ListTagsForResource,
        Operation::SendEvent,
        Operation::TagResource,
        Operation::UntagResource,
        Operation::UpdateLoggingConfiguration,
        Operation::UpdateRoom,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Operation::CreateChatToken => "CreateChatToken",
            Operation::CreateLoggingConfiguration => "CreateLoggingConfiguration",
            Operation::CreateRoom => "CreateRoom",
            Operation::DeleteLoggingConfiguration => "DeleteLoggingConfiguration",
            Operation::DeleteMessage => "DeleteMessage",
            Operation::DeleteRoom => "DeleteRoom",
            Operation::DisconnectUser => "DisconnectUser",
            Operation::GetLoggingConfiguration => "GetLoggingConfiguration",
            Operation::GetRoom => "GetRoom",
            Operation::ListLoggingConfigurations => "ListLoggingConfigurations",
            Operation::ListRooms => "ListRooms",
            Operation::ListTagsForResource => "ListTagsForResource",
            Operation::SendEvent => "SendEvent",
            Operation::TagResource => "TagResource",
            Operation::UntagResource => "UntagResource",
            Operation::UpdateLoggingConfiguration => "UpdateLoggingConfiguration",
            Operation::UpdateRoom => "UpdateRoom",
        }
    }

    pub fn from_name(name: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|op| op.name() == name)
    }

    pub fn index(self) -> usize {
        self as usize
    }

    /// Tag operations are routed by `/tags/{resourceArn}`, never by `POST /<Name>`.
    pub fn is_tag_operation(self) -> bool {
        matches!(
            self,
            Operation::ListTagsForResource | Operation::TagResource | Operation::UntagResource
        )
    }

    /// Documented default TPS quota ("IVS Chat Service Quotas").
    pub fn tps(self) -> f64 {
        use Operation::*;
        match self {
            CreateRoom | GetRoom | UpdateRoom | DeleteRoom | ListRooms => 5.0,
            CreateLoggingConfiguration
            | GetLoggingConfiguration
            | UpdateLoggingConfiguration
            | DeleteLoggingConfiguration
            | ListLoggingConfigurations => 3.0,
            ListTagsForResource | TagResource | UntagResource => 10.0,
            SendEvent | DeleteMessage | DisconnectUser => 100.0,
            CreateChatToken => 200.0,
        }
    }

    /// Modeled success status code.
    pub fn success_status(self) -> u16 {
        match self {
            Operation::DeleteRoom | Operation::DeleteLoggingConfiguration => 204,
            _ => 200,
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Result of routing a request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub op: Operation,
    /// Percent-decoded `{resourceArn}` for the tag operations.
    pub resource_arn: Option<String>,
}

/// Route `method path` the way the restJson1 bindings of the model do. A path prefix in the
/// endpoint URL is tolerated (`/pfx/CreateRoom`, `/pfx/tags/...`).
pub fn route(method: &http::Method, path: &str) -> Option<Route> {
    let tag_rest = if let Some(i) = path.find("/tags/") {
        Some(&path[i + "/tags/".len()..])
    } else if path.ends_with("/tags") {
        Some("")
    } else {
        None
    };
    if let Some(raw) = tag_rest {
        let op = match *method {
            http::Method::GET => Operation::ListTagsForResource,
            http::Method::POST => Operation::TagResource,
            http::Method::DELETE => Operation::UntagResource,
            _ => return None,
        };
        let arn = percent_encoding::percent_decode_str(raw)
            .decode_utf8_lossy()
            .into_owned();
        return Some(Route {
            op,
            resource_arn: Some(arn),
        });
    }
    if *method != http::Method::POST {
        return None;
    }
    let name = path.trim_end_matches('/').rsplit('/').next()?;
    let op = Operation::from_name(name)?;
    if op.is_tag_operation() {
        return None;
    }
    Some(Route {
        op,
        resource_arn: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let r = route(&http::Method::POST, "/CreateRoom").unwrap();
        assert_eq!(r.op, Operation::CreateRoom);
        let r = route(&http::Method::POST, "/pfx/GetRoom").unwrap();
        assert_eq!(r.op, Operation::GetRoom);
        let r = route(
            &http::Method::DELETE,
            "/tags/arn%3Aaws%3Aivschat%3Aus-east-1%3A1%3Aroom%2Fabc",
        )
        .unwrap();
        assert_eq!(r.op, Operation::UntagResource);
        assert_eq!(
            r.resource_arn.as_deref(),
            Some("arn:aws:ivschat:us-east-1:1:room/abc")
        );
        assert!(route(&http::Method::GET, "/CreateRoom").is_none());
        assert!(route(&http::Method::POST, "/Nope").is_none());
        assert!(route(&http::Method::POST, "/TagResource").is_none());
    }
}
