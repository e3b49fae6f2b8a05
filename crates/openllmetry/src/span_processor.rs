//! Span processor that copies scoped context values onto spans.
