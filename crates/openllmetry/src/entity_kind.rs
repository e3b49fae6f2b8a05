//! [`EntityKind`], a leaf module so that both the entity spans and the redaction hook's
//! [`Redact`](crate::redact::Redact) can name it without importing each other. Public as
//! [`openllmetry::entity::EntityKind`](crate::entity::EntityKind).

use std::fmt;

/// The kind of an entity; recorded as `traceloop.span.kind` and used as the span name suffix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EntityKind {
    /// One end-to-end job. Sets `traceloop.workflow.name` on itself and everything inside.
    Workflow,
    /// A step of a workflow. Extends the entity path of everything inside.
    Task,
    /// An agent. Sets `gen_ai.agent.name` on itself and everything inside; extends the path.
    Agent,
    /// A tool. Sets `gen_ai.tool.name` on itself; extends the path.
    Tool,
}

impl EntityKind {
    /// The `traceloop.span.kind` value: `workflow`, `task`, `agent` or `tool`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Workflow => "workflow",
            Self::Task => "task",
            Self::Agent => "agent",
            Self::Tool => "tool",
        }
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
