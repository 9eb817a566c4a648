//! Input validation: a static mirror of the constrained input shapes of the service model
//! (`tests/data/ivschat-service-model.json`), applied generically to the JSON input.
//!
//! Field names in `fieldList` are member paths: `name`, `messageReviewHandler.uri`,
//! `destinationConfiguration.s3.bucketName`. A list element or map key/value is reported under
//! the list or map member itself (`loggingConfigurationIdentifiers`, `tags`).
//! Model patterns are unanchored; they are applied as full matches (see README).

use serde_json::Value;

use crate::errors::{ApiError, FieldError};
use crate::ops::Operation;
use crate::util::parse_arn;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pat {
    None,
    /// `[a-zA-Z0-9-_]*`
    Name,
    RoomArn,
    LcArn,
    /// Room ARN or logging configuration ARN.
    ResourceArn,
    /// `$|^arn:aws:lambda:[a-z0-9-]+:[0-9]{12}:function:.+.*`
    LambdaArn,
    /// `[a-z0-9-.]+`
    Bucket,
    /// `[\.\-_/#A-Za-z0-9]+`
    LogGroup,
    /// `[a-zA-Z0-9_.-]+`
    DeliveryStream,
    /// `[a-zA-Z0-9]+`
    Alnum,
}

impl Pat {
    fn source(self) -> &'static str {
        match self {
            Pat::None => "",
            Pat::Name => "[a-zA-Z0-9-_]*",
            Pat::RoomArn => "arn:aws:ivschat:[a-z0-9-]+:[0-9]+:room/[a-zA-Z0-9-]+",
            Pat::LcArn => "arn:aws:ivschat:[a-z0-9-]+:[0-9]+:logging-configuration/[a-zA-Z0-9-]+",
            Pat::ResourceArn => "arn:aws:ivschat:[a-z0-9-]+:[0-9]+:[a-z-]/[a-zA-Z0-9-]+",
            Pat::LambdaArn => "$|^arn:aws:lambda:[a-z0-9-]+:[0-9]{12}:function:.+.*",
            Pat::Bucket => "[a-z0-9-.]+",
            Pat::LogGroup => "[\\.\\-_/#A-Za-z0-9]+",
            Pat::DeliveryStream => "[a-zA-Z0-9_.-]+",
            Pat::Alnum => "[a-zA-Z0-9]+",
        }
    }

    pub fn matches(self, s: &str) -> bool {
        fn all(s: &str, f: impl Fn(char) -> bool) -> bool {
            s.chars().all(f)
        }
        fn nonempty_all(s: &str, f: impl Fn(char) -> bool) -> bool {
            !s.is_empty() && s.chars().all(f)
        }
        fn ivschat_arn(s: &str, kind: Option<&str>) -> bool {
            let Some(a) = parse_arn(s) else { return false };
            nonempty_all(a.region, |c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
            }) && nonempty_all(a.account, |c| c.is_ascii_digit())
                && match kind {
                    Some(k) => a.kind == k,
                    None => a.kind == "room" || a.kind == "logging-configuration",
                }
                && nonempty_all(a.id, |c| c.is_ascii_alphanumeric() || c == '-')
        }
        match self {
            Pat::None => true,
            Pat::Name => all(s, |c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            Pat::RoomArn => ivschat_arn(s, Some("room")),
            Pat::LcArn => ivschat_arn(s, Some("logging-configuration")),
            Pat::ResourceArn => ivschat_arn(s, None),
            Pat::LambdaArn => {
                if s.is_empty() {
                    return true;
                }
                let Some(rest) = s.strip_prefix("arn:aws:lambda:") else {
                    return false;
                };
                let mut p = rest.splitn(3, ':');
                let (Some(region), Some(account), Some(func)) = (p.next(), p.next(), p.next())
                else {
                    return false;
                };
                nonempty_all(region, |c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
                }) && account.len() == 12
                    && all(account, |c| c.is_ascii_digit())
                    && func
                        .strip_prefix("function:")
                        .is_some_and(|f| !f.is_empty())
            }
            Pat::Bucket => nonempty_all(s, |c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.'
            }),
            Pat::LogGroup => nonempty_all(s, |c| {
                c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | '#')
            }),
            Pat::DeliveryStream => nonempty_all(s, |c| {
                c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
            }),
            Pat::Alnum => nonempty_all(s, |c| c.is_ascii_alphanumeric()),
        }
    }
}

#[derive(Debug)]
pub enum Shape {
    Str {
        min: usize,
        max: usize,
        pat: Pat,
        sensitive: bool,
    },
    Int {
        min: i64,
        max: i64,
    },
    Enum(&'static [&'static str]),
    List {
        member: &'static Shape,
        min: usize,
        max: usize,
    },
    Map {
        key: &'static Shape,
        value: &'static Shape,
        min: usize,
        max: usize,
    },
    Struct(&'static [Member]),
    /// Exactly one member must be set.
    Union(&'static [Member]),
}

#[derive(Debug)]
pub struct Member {
    pub name: &'static str,
    pub shape: &'static Shape,
    pub required: bool,
}

const fn m(name: &'static str, shape: &'static Shape) -> Member {
    Member {
        name,
        shape,
        required: false,
    }
}

const fn req(name: &'static str, shape: &'static Shape) -> Member {
    Member {
        name,
        shape,
        required: true,
    }
}

const fn s(min: usize, max: usize, pat: Pat) -> Shape {
    Shape::Str {
        min,
        max,
        pat,
        sensitive: false,
    }
}

const UNBOUNDED: usize = usize::MAX;

static STRING: Shape = s(0, UNBOUNDED, Pat::None);
static ROOM_NAME: Shape = s(0, 128, Pat::Name);
static ROOM_IDENTIFIER: Shape = s(1, 128, Pat::RoomArn);
static LC_IDENTIFIER: Shape = s(1, 128, Pat::LcArn);
static RESOURCE_ARN: Shape = s(1, 128, Pat::ResourceArn);
static MAX_RATE: Shape = Shape::Int { min: 1, max: 100 };
static MAX_LENGTH: Shape = Shape::Int { min: 1, max: 500 };
static LAMBDA_ARN: Shape = s(0, 170, Pat::LambdaArn);
static FALLBACK: Shape = Shape::Enum(&["ALLOW", "DENY"]);
static HANDLER: Shape = Shape::Struct(&[m("uri", &LAMBDA_ARN), m("fallbackResult", &FALLBACK)]);
static TAG_KEY: Shape = s(1, 128, Pat::None);
static TAG_VALUE: Shape = s(0, 256, Pat::None);
static TAGS: Shape = Shape::Map {
    key: &TAG_KEY,
    value: &TAG_VALUE,
    min: 0,
    max: 50,
};
static TAG_KEYS: Shape = Shape::List {
    member: &TAG_KEY,
    min: 0,
    max: 50,
};
static LC_IDENTIFIERS: Shape = Shape::List {
    member: &LC_IDENTIFIER,
    min: 0,
    max: 3,
};
static PAGINATION_TOKEN: Shape = s(0, 1024, Pat::None);
static MAX_RESULTS: Shape = Shape::Int { min: 1, max: 50 };
static BUCKET: Shape = s(3, 63, Pat::Bucket);
static LOG_GROUP: Shape = s(1, 512, Pat::LogGroup);
static DELIVERY_STREAM: Shape = s(1, 64, Pat::DeliveryStream);
static S3: Shape = Shape::Struct(&[req("bucketName", &BUCKET)]);
static CLOUDWATCH: Shape = Shape::Struct(&[req("logGroupName", &LOG_GROUP)]);
static FIREHOSE: Shape = Shape::Struct(&[req("deliveryStreamName", &DELIVERY_STREAM)]);
static DESTINATION: Shape = Shape::Union(&[
    m("s3", &S3),
    m("cloudWatchLogs", &CLOUDWATCH),
    m("firehose", &FIREHOSE),
]);
static USER_ID: Shape = Shape::Str {
    min: 1,
    max: 128,
    pat: Pat::None,
    sensitive: true,
};
static CAPABILITY: Shape = Shape::Enum(&["SEND_MESSAGE", "DISCONNECT_USER", "DELETE_MESSAGE"]);
static CAPABILITIES: Shape = Shape::List {
    member: &CAPABILITY,
    min: 0,
    max: UNBOUNDED,
};
static SESSION_DURATION: Shape = Shape::Int { min: 1, max: 180 };
static ATTRIBUTES: Shape = Shape::Map {
    key: &STRING,
    value: &STRING,
    min: 0,
    max: UNBOUNDED,
};
static EVENT_NAME: Shape = s(1, 100, Pat::None);
static MESSAGE_ID: Shape = s(12, 12, Pat::Alnum);
static REASON: Shape = s(1, 256, Pat::None);

static CREATE_CHAT_TOKEN: Shape = Shape::Struct(&[
    req("roomIdentifier", &ROOM_IDENTIFIER),
    req("userId", &USER_ID),
    m("capabilities", &CAPABILITIES),
    m("sessionDurationInMinutes", &SESSION_DURATION),
    m("attributes", &ATTRIBUTES),
]);
static CREATE_LC: Shape = Shape::Struct(&[
    m("name", &ROOM_NAME),
    req("destinationConfiguration", &DESTINATION),
    m("tags", &TAGS),
]);
static CREATE_ROOM: Shape = Shape::Struct(&[
    m("name", &ROOM_NAME),
    m("maximumMessageRatePerSecond", &MAX_RATE),
    m("maximumMessageLength", &MAX_LENGTH),
    m("messageReviewHandler", &HANDLER),
    m("tags", &TAGS),
    m("loggingConfigurationIdentifiers", &LC_IDENTIFIERS),
]);
static LC_BY_ID: Shape = Shape::Struct(&[req("identifier", &LC_IDENTIFIER)]);
static ROOM_BY_ID: Shape = Shape::Struct(&[req("identifier", &ROOM_IDENTIFIER)]);
static DELETE_MESSAGE: Shape = Shape::Struct(&[
    req("roomIdentifier", &ROOM_IDENTIFIER),
    req("id", &MESSAGE_ID),
    m("reason", &REASON),
]);
static DISCONNECT_USER: Shape = Shape::Struct(&[
    req("roomIdentifier", &ROOM_IDENTIFIER),
    req("userId", &USER_ID),
    m("reason", &REASON),
]);
static LIST_LCS: Shape = Shape::Struct(&[
    m("nextToken", &PAGINATION_TOKEN),
    m("maxResults", &MAX_RESULTS),
]);
static LIST_ROOMS: Shape = Shape::Struct(&[
    m("name", &ROOM_NAME),
    m("nextToken", &PAGINATION_TOKEN),
    m("maxResults", &MAX_RESULTS),
    m("messageReviewHandlerUri", &LAMBDA_ARN),
    m("loggingConfigurationIdentifier", &LC_IDENTIFIER),
]);
static LIST_TAGS: Shape = Shape::Struct(&[req("resourceArn", &RESOURCE_ARN)]);
static SEND_EVENT: Shape = Shape::Struct(&[
    req("roomIdentifier", &ROOM_IDENTIFIER),
    req("eventName", &EVENT_NAME),
    m("attributes", &ATTRIBUTES),
]);
static TAG_RESOURCE: Shape =
    Shape::Struct(&[req("resourceArn", &RESOURCE_ARN), req("tags", &TAGS)]);
static UNTAG_RESOURCE: Shape =
    Shape::Struct(&[req("resourceArn", &RESOURCE_ARN), req("tagKeys", &TAG_KEYS)]);
static UPDATE_LC: Shape = Shape::Struct(&[
    req("identifier", &LC_IDENTIFIER),
    m("name", &ROOM_NAME),
    m("destinationConfiguration", &DESTINATION),
]);
static UPDATE_ROOM: Shape = Shape::Struct(&[
    req("identifier", &ROOM_IDENTIFIER),
    m("name", &ROOM_NAME),
    m("maximumMessageRatePerSecond", &MAX_RATE),
    m("maximumMessageLength", &MAX_LENGTH),
    m("messageReviewHandler", &HANDLER),
    m("loggingConfigurationIdentifiers", &LC_IDENTIFIERS),
]);

/// The input shape of an operation.
pub fn input_shape(op: Operation) -> &'static Shape {
    use Operation::*;
    match op {
        CreateChatToken => &CREATE_CHAT_TOKEN,
        CreateLoggingConfiguration => &CREATE_LC,
        CreateRoom => &CREATE_ROOM,
        DeleteLoggingConfiguration | GetLoggingConfiguration => &LC_BY_ID,
        DeleteMessage => &DELETE_MESSAGE,
        DeleteRoom | GetRoom => &ROOM_BY_ID,
        DisconnectUser => &DISCONNECT_USER,
        ListLoggingConfigurations => &LIST_LCS,
        ListRooms => &LIST_ROOMS,
        ListTagsForResource => &LIST_TAGS,
        SendEvent => &SEND_EVENT,
        TagResource => &TAG_RESOURCE,
        UntagResource => &UNTAG_RESOURCE,
        UpdateLoggingConfiguration => &UPDATE_LC,
        UpdateRoom => &UPDATE_ROOM,
    }
}

/// Validate an operation's input; the input must be a JSON object.
pub fn validate(op: Operation, input: &Value) -> Result<(), ApiError> {
    if !input.is_object() {
        return Err(ApiError::other(
            "Request body must be a JSON object".to_string(),
        ));
    }
    let mut errs = Vec::new();
    check(input, input_shape(op), "", &mut errs);
    if errs.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(errs))
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn render(v: &Value, sensitive: bool) -> String {
    if sensitive {
        return "***".to_string();
    }
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.chars().count() > 64 {
        let head: String = s.chars().take(64).collect();
        format!("{head}...")
    } else {
        s
    }
}

fn fail(errs: &mut Vec<FieldError>, path: &str, v: &Value, sensitive: bool, constraint: String) {
    errs.push(FieldError {
        name: path.to_string(),
        message: format!(
            "Value '{}' at '{path}' failed to satisfy constraint: {constraint}",
            render(v, sensitive)
        ),
    });
}

fn check(v: &Value, shape: &Shape, path: &str, errs: &mut Vec<FieldError>) {
    match shape {
        Shape::Str {
            min,
            max,
            pat,
            sensitive,
        } => {
            let Some(s) = v.as_str() else {
                fail(errs, path, v, false, "Member must be a string".into());
                return;
            };
            let n = s.chars().count();
            if n < *min {
                fail(
                    errs,
                    path,
                    v,
                    *sensitive,
                    format!("Member must have length greater than or equal to {min}"),
                );
            } else if n > *max {
                fail(
                    errs,
                    path,
                    v,
                    *sensitive,
                    format!("Member must have length less than or equal to {max}"),
                );
            } else if !pat.matches(s) {
                fail(
                    errs,
                    path,
                    v,
                    *sensitive,
                    format!(
                        "Member must satisfy regular expression pattern: {}",
                        pat.source()
                    ),
                );
            }
        }
        Shape::Int { min, max } => match v.as_i64() {
            None => fail(errs, path, v, false, "Member must be an integer".into()),
            Some(n) if n < *min => fail(
                errs,
                path,
                v,
                false,
                format!("Member must have value greater than or equal to {min}"),
            ),
            Some(n) if n > *max => fail(
                errs,
                path,
                v,
                false,
                format!("Member must have value less than or equal to {max}"),
            ),
            Some(_) => {}
        },
        Shape::Enum(values) => match v.as_str() {
            Some(s) if values.contains(&s) => {}
            _ => fail(
                errs,
                path,
                v,
                false,
                format!(
                    "Member must satisfy enum value set: [{}]",
                    values.join(", ")
                ),
            ),
        },
        Shape::List { member, min, max } => {
            let Some(items) = v.as_array() else {
                fail(errs, path, v, false, "Member must be a list".into());
                return;
            };
            if items.len() < *min {
                fail(
                    errs,
                    path,
                    v,
                    false,
                    format!("Member must have length greater than or equal to {min}"),
                );
            } else if items.len() > *max {
                fail(
                    errs,
                    path,
                    v,
                    false,
                    format!("Member must have length less than or equal to {max}"),
                );
            }
            for item in items {
                if item.is_null() {
                    fail(errs, path, item, false, "Member must not be null".into());
                } else {
                    check(item, member, path, errs);
                }
            }
        }
        Shape::Map {
            key,
            value,
            min,
            max,
        } => {
            let Some(obj) = v.as_object() else {
                fail(errs, path, v, false, "Member must be a map".into());
                return;
            };
            if obj.len() < *min {
                fail(
                    errs,
                    path,
                    v,
                    false,
                    format!("Member must have length greater than or equal to {min}"),
                );
            } else if obj.len() > *max {
                fail(
                    errs,
                    path,
                    v,
                    false,
                    format!("Member must have length less than or equal to {max}"),
                );
            }
            for (k, val) in obj {
                check(&Value::String(k.clone()), key, path, errs);
                if val.is_null() {
                    fail(errs, path, val, false, "Map value must not be null".into());
                } else {
                    check(val, value, path, errs);
                }
            }
        }
        Shape::Struct(members) => {
            let Some(obj) = v.as_object() else {
                fail(errs, path, v, false, "Member must be a structure".into());
                return;
            };
            for mem in members.iter() {
                let p = join(path, mem.name);
                match obj.get(mem.name) {
                    None | Some(Value::Null) => {
                        if mem.required {
                            fail(
                                errs,
                                &p,
                                &Value::Null,
                                false,
                                "Member must not be null".into(),
                            );
                        }
                    }
                    Some(x) => check(x, mem.shape, &p, errs),
                }
            }
        }
        Shape::Union(members) => {
            let Some(obj) = v.as_object() else {
                fail(errs, path, v, false, "Member must be a structure".into());
                return;
            };
            let set: Vec<&Member> = members
                .iter()
                .filter(|mem| obj.get(mem.name).is_some_and(|x| !x.is_null()))
                .collect();
            if set.len() != 1 {
                let names: Vec<&str> = members.iter().map(|m| m.name).collect();
                fail(
                    errs,
                    path,
                    v,
                    false,
                    format!(
                        "Member must have exactly one of [{}] set, found {}",
                        names.join(", "),
                        set.len()
                    ),
                );
                return;
            }
            for mem in set {
                if let Some(x) = obj.get(mem.name) {
                    check(x, mem.shape, &join(path, mem.name), errs);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(op: Operation, v: Value) -> Vec<String> {
        match validate(op, &v) {
            Ok(()) => vec![],
            Err(ApiError::Validation { fields, .. }) => {
                fields.into_iter().map(|f| f.name).collect()
            }
            Err(e) => panic!("{e:?}"),
        }
    }

    #[test]
    fn patterns() {
        assert!(Pat::Name.matches(""));
        assert!(Pat::Name.matches("a-b_C9"));
        assert!(!Pat::Name.matches("a b"));
        assert!(Pat::LambdaArn.matches(""));
        assert!(Pat::LambdaArn.matches("arn:aws:lambda:us-east-1:123456789012:function:f"));
        assert!(!Pat::LambdaArn.matches("arn:aws:lambda:us-east-1:12345678901:function:f"));
        assert!(!Pat::LambdaArn.matches("nope"));
        assert!(Pat::ResourceArn.matches("arn:aws:ivschat:us-east-1:1:logging-configuration/x"));
        assert!(!Pat::ResourceArn.matches("arn:aws:ivschat:us-east-1:1:channel/x"));
    }

    #[test]
    fn rooms() {
        assert!(fields(Operation::CreateRoom, json!({})).is_empty());
        assert_eq!(
            fields(Operation::CreateRoom, json!({"name": "a b"})),
            vec!["name"]
        );
        assert_eq!(
            fields(
                Operation::CreateRoom,
                json!({"messageReviewHandler": {"uri": "x"}})
            ),
            vec!["messageReviewHandler.uri"]
        );
        assert_eq!(fields(Operation::GetRoom, json!({})), vec!["identifier"]);
        assert_eq!(
            fields(
                Operation::CreateLoggingConfiguration,
                json!({"destinationConfiguration": {"s3": {"bucketName": "abc"}, "firehose": {"deliveryStreamName": "x"}}})
            ),
            vec!["destinationConfiguration"]
        );
        assert_eq!(
            fields(
                Operation::CreateLoggingConfiguration,
                json!({"destinationConfiguration": {"s3": {"bucketName": "ab"}}})
            ),
            vec!["destinationConfiguration.s3.bucketName"]
        );
    }
}
