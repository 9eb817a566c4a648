//! Modeled IVS Chat errors and their restJson1 wire form.

use serde_json::{Value, json};

/// One entry of `ValidationException.fieldList`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub name: String,
    pub message: String,
}

#[derive(Debug, Clone)]
pub enum ApiError {
    Validation {
        reason: &'static str,
        message: String,
        fields: Vec<FieldError>,
    },
    AccessDenied(String),
    PendingVerification(String),
    NotFound {
        message: String,
        resource_id: String,
    },
    Conflict {
        message: String,
        resource_id: String,
    },
    Quota {
        message: String,
        resource_id: String,
        limit: i64,
    },
    Throttling {
        message: String,
        resource_id: String,
        limit: i64,
    },
    Internal(String),
    /// API Gateway style refusal of an unsigned request.
    MissingAuthenticationToken,
    /// An error without any type (no header, no `__type`); clients see `Unhandled`.
    Untyped(u16),
}

impl ApiError {
    pub fn validation(fields: Vec<FieldError>) -> ApiError {
        let n = fields.len();
        let detail: Vec<String> = fields.iter().map(|f| f.message.clone()).collect();
        ApiError::Validation {
            reason: "FIELD_VALIDATION_FAILED",
            message: format!(
                "{n} validation error{} detected: {}",
                if n == 1 { "" } else { "s" },
                detail.join("; ")
            ),
            fields,
        }
    }

    pub fn field(name: &str, message: impl Into<String>) -> ApiError {
        ApiError::validation(vec![FieldError {
            name: name.to_string(),
            message: message.into(),
        }])
    }

    pub fn other(message: impl Into<String>) -> ApiError {
        ApiError::Validation {
            reason: "OTHER",
            message: message.into(),
            fields: Vec::new(),
        }
    }

    pub fn unknown_operation(method: &str, path: &str) -> ApiError {
        ApiError::Validation {
            reason: "UNKNOWN_OPERATION",
            message: format!("Unknown operation: {method} {path}"),
            fields: Vec::new(),
        }
    }

    pub fn not_found(arn: &str, resource_id: &str) -> ApiError {
        ApiError::NotFound {
            message: format!("Resource: {arn} not found"),
            resource_id: sanitize_id(resource_id),
        }
    }

    /// The error shape name: the `X-Amzn-ErrorType` header, `__type` and the stats key.
    pub fn shape(&self) -> &'static str {
        match self {
            ApiError::Validation { .. } => "ValidationException",
            ApiError::AccessDenied(_) => "AccessDeniedException",
            ApiError::PendingVerification(_) => "PendingVerification",
            ApiError::NotFound { .. } => "ResourceNotFoundException",
            ApiError::Conflict { .. } => "ConflictException",
            ApiError::Quota { .. } => "ServiceQuotaExceededException",
            ApiError::Throttling { .. } => "ThrottlingException",
            ApiError::Internal(_) => "InternalServerException",
            ApiError::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            ApiError::Untyped(_) => "Untyped",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            ApiError::Validation { .. } => 400,
            ApiError::AccessDenied(_) | ApiError::PendingVerification(_) => 403,
            ApiError::NotFound { .. } => 404,
            ApiError::Conflict { .. } => 409,
            ApiError::Quota { .. } => 402,
            ApiError::Throttling { .. } => 429,
            ApiError::Internal(_) => 500,
            ApiError::MissingAuthenticationToken => 403,
            ApiError::Untyped(s) => *s,
        }
    }

    /// Value of the `X-Amzn-ErrorType` header, if any.
    pub fn header(&self) -> Option<&'static str> {
        match self {
            ApiError::Untyped(_) => None,
            other => Some(other.shape()),
        }
    }

    pub fn body(&self) -> Value {
        let ty = self.shape();
        match self {
            ApiError::Validation {
                reason,
                message,
                fields,
            } => {
                let mut v = json!({"__type": ty, "message": message, "reason": reason});
                if !fields.is_empty() {
                    v["fieldList"] = fields
                        .iter()
                        .map(|f| json!({"name": f.name, "message": f.message}))
                        .collect();
                }
                v
            }
            ApiError::AccessDenied(m)
            | ApiError::PendingVerification(m)
            | ApiError::Internal(m) => {
                json!({"__type": ty, "message": m})
            }
            ApiError::NotFound {
                message,
                resource_id,
            }
            | ApiError::Conflict {
                message,
                resource_id,
            } => json!({
                "__type": ty, "message": message, "resourceId": resource_id, "resourceType": "ROOM"
            }),
            ApiError::Quota {
                message,
                resource_id,
                limit,
            }
            | ApiError::Throttling {
                message,
                resource_id,
                limit,
            } => json!({
                "__type": ty, "message": message, "resourceId": resource_id,
                "resourceType": "ROOM", "limit": limit
            }),
            ApiError::MissingAuthenticationToken => {
                json!({"message": "Missing Authentication Token"})
            }
            ApiError::Untyped(_) => json!({"message": "An unexpected error occurred"}),
        }
    }
}

/// `resourceId` must match `[a-zA-Z0-9]+`.
fn sanitize_id(id: &str) -> String {
    let s: String = id.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    if s.is_empty() {
        "unknown".to_string()
    } else {
        s
    }
}
