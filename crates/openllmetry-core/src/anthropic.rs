//! Anthropic request, response and stream parsing.
