//! The operator's one error type. Every variant has a metric label, so
//! `llamagate_operator_reconcile_errors_total{error=…}` says what went wrong.

/// Why a reconcile (or the operator) failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API server refused a request or could not be reached.
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// An object from the API lacks a field every such object has.
    #[error("{kind} has no {field}")]
    MissingField {
        kind: &'static str,
        field: &'static str,
    },
    /// The operator lost its lease: it stops reconciling so that another replica can lead.
    #[error("leadership lost: {0}")]
    LeadershipLost(String),
    /// The operator's own settings are unusable.
    #[error("{0}")]
    Settings(String),
}

impl Error {
    /// A short, bounded label for metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::Kube(kube::Error::Api(status)) if status.is_conflict() => "api_conflict",
            Self::Kube(kube::Error::Api(status)) if status.is_not_found() => "api_not_found",
            Self::Kube(kube::Error::Api(status)) if status.code == 403 => "api_forbidden",
            Self::Kube(kube::Error::Api(_)) => "api_error",
            Self::Kube(_) => "api_unreachable",
            Self::MissingField { .. } => "missing_field",
            Self::LeadershipLost(_) => "leadership_lost",
            Self::Settings(_) => "settings",
        }
    }
}

/// The operator's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
