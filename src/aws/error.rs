//! AWS errors, classified the way ACK does: retryable ones back off and retry, terminal ones
//! stall the resource until its spec changes.

/// How the controllers must react to an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// The resource does not exist (anymore).
    NotFound,
    /// Throttling, 5xx, timeouts, connection errors: retry with backoff.
    Retryable,
    /// Validation, access denied, quota exceeded, conflict: retrying without a change is useless.
    Terminal,
}

/// An error from IVS Chat, with the AWS error code and message kept for conditions and Events.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[error("{operation}: {code}: {message}")]
pub struct AwsError {
    pub operation: &'static str,
    /// The AWS error code (`ThrottlingException`, ...) or a transport description.
    pub code: String,
    pub message: String,
    pub class: ErrorClass,
}

impl AwsError {
    /// Classifies an error by its AWS error code.
    pub fn from_code(
        operation: &'static str,
        code: &str,
        message: impl Into<String>,
        http_status: Option<u16>,
    ) -> Self {
        let class = match code {
            "ResourceNotFoundException" => ErrorClass::NotFound,
            "ThrottlingException"
            | "Throttling"
            | "TooManyRequestsException"
            | "InternalServerException"
            | "ServiceUnavailableException"
            | "RequestTimeout"
            | "RequestTimeoutException" => ErrorClass::Retryable,
            "ValidationException"
            | "AccessDeniedException"
            | "PendingVerification"
            | "ServiceQuotaExceededException"
            | "ConflictException"
            | "UnrecognizedClientException"
            | "InvalidSignatureException"
            | "ExpiredTokenException"
            | "MissingAuthenticationTokenException" => ErrorClass::Terminal,
            _ => match http_status {
                Some(s) if s >= 500 || s == 429 => ErrorClass::Retryable,
                Some(404) => ErrorClass::NotFound,
                Some(_) => ErrorClass::Terminal,
                None => ErrorClass::Retryable,
            },
        };
        AwsError {
            operation,
            code: code.to_string(),
            message: message.into(),
            class,
        }
    }

    /// A transport failure (connection refused, timeout, dropped connection): always retryable.
    pub fn transport(operation: &'static str, message: impl Into<String>) -> Self {
        AwsError {
            operation,
            code: "ConnectionError".into(),
            message: message.into(),
            class: ErrorClass::Retryable,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.class == ErrorClass::NotFound
    }

    /// A CamelCase reason for conditions and Events, e.g. `ThrottlingException` -> `Throttling`.
    pub fn reason(&self) -> String {
        let code = self.code.trim_end_matches("Exception");
        if code.is_empty() {
            "AwsError".into()
        } else {
            code.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_codes() {
        let c = |code, status| AwsError::from_code("Op", code, "m", status).class;
        assert_eq!(c("ThrottlingException", Some(429)), ErrorClass::Retryable);
        assert_eq!(
            c("InternalServerException", Some(500)),
            ErrorClass::Retryable
        );
        assert_eq!(c("ValidationException", Some(400)), ErrorClass::Terminal);
        assert_eq!(c("AccessDeniedException", Some(403)), ErrorClass::Terminal);
        assert_eq!(
            c("ServiceQuotaExceededException", Some(402)),
            ErrorClass::Terminal
        );
        assert_eq!(
            c("ResourceNotFoundException", Some(404)),
            ErrorClass::NotFound
        );
        assert_eq!(c("Weird", Some(503)), ErrorClass::Retryable);
        assert_eq!(c("Weird", Some(418)), ErrorClass::Terminal);
        assert_eq!(
            AwsError::transport("Op", "refused").class,
            ErrorClass::Retryable
        );
    }

    #[test]
    fn reasons_are_camel_case_without_suffix() {
        assert_eq!(
            AwsError::from_code("Op", "ThrottlingException", "", None).reason(),
            "Throttling"
        );
        assert_eq!(
            AwsError::from_code("Op", "PendingVerification", "", None).reason(),
            "PendingVerification"
        );
    }
}
