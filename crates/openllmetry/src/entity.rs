//! Entity spans (workflow, task, agent, tool).
