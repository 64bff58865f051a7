//! Field-level validation errors shared by the CRD `validate()` functions and the gateway
//! config loader: every problem names the path of the offending field and what is expected.

use std::fmt;

/// One problem with one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path of the field, e.g. `spec.deployment.command`.
    pub path: String,
    /// What is wrong and what is expected instead.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every problem found in one object; never empty when returned as an error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    /// Record a problem with the field at `path`.
    pub fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            path: path.into(),
            message: message.into(),
        });
    }

    /// `Ok(())` when nothing was recorded, otherwise every recorded problem.
    pub fn into_result(self) -> Result<(), FieldErrors> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }

    /// True when some recorded problem is about `path`.
    pub fn mentions(&self, path: &str) -> bool {
        self.0.iter().any(|e| e.path == path)
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for FieldErrors {}

/// Checks that `url` suits `transport`: `ws://`/`wss://` for WebSocket, `http(s)://` otherwise.
pub fn check_url_scheme(
    transport: crate::Transport,
    url: &str,
    path: &str,
    errors: &mut FieldErrors,
) {
    let allowed: &[&str] = match transport {
        crate::Transport::Websocket => &["ws://", "wss://"],
        _ => &["http://", "https://"],
    };
    if !allowed.iter().any(|scheme| url.starts_with(scheme)) {
        errors.push(
            path,
            format!(
                "`{url}` does not suit transport `{transport}`: the URL must start with {}",
                allowed.join(" or ")
            ),
        );
    } else if url
        .split_once("://")
        .is_none_or(|(_, rest)| rest.is_empty() || rest.starts_with('/'))
    {
        errors.push(
            path,
            format!("`{url}` has no host; e.g. `http://mcp.tools.svc:8080/mcp`"),
        );
    }
}
