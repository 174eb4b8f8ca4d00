//! Step and run states.

use indexmap::IndexMap;
use serde_json::Value;

use crate::Millis;

/// Where a step is (SPEC §5 names; `pending`, `waiting`, `running` only while the run is live).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StepStatus {
    /// Waiting for what it depends on.
    #[default]
    Pending,
    /// Failed an attempt; waiting for the backoff before the next one.
    Waiting,
    Running,
    Succeeded,
    Failed,
    Skipped,
    Cancelled,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Pending => "pending",
            StepStatus::Waiting => "waiting",
            StepStatus::Running => "running",
            StepStatus::Succeeded => "succeeded",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
            StepStatus::Cancelled => "cancelled",
        }
    }

    /// The status named `name`; an unknown name reads as `pending`.
    pub fn from_str_lossy(name: &str) -> StepStatus {
        [
            StepStatus::Waiting,
            StepStatus::Running,
            StepStatus::Succeeded,
            StepStatus::Failed,
            StepStatus::Skipped,
            StepStatus::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
        .unwrap_or(StepStatus::Pending)
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            StepStatus::Succeeded
                | StepStatus::Failed
                | StepStatus::Skipped
                | StepStatus::Cancelled
        )
    }
}

impl std::fmt::Display for StepStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunStatus {
    Succeeded,
    Failed,
    Cancelled,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One step's state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepState {
    pub status: StepStatus,
    /// The current (or last) attempt, 1-based; 0 before the first.
    pub attempt: u32,
    pub exit_code: Option<i64>,
    /// Typed outputs of the last attempt.
    pub outputs: IndexMap<String, Value>,
    /// Why it failed (or was cancelled), in words.
    pub error: Option<String>,
    pub started_at: Option<Millis>,
    pub finished_at: Option<Millis>,
    /// It was started after a cancel request (its `if:` asked for it): only a second cancel stops it.
    pub(crate) started_after_cancel: bool,
}
