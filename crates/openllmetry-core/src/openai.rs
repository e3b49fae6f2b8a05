//! OpenAI (and OpenAI-compatible) request, response and stream parsing.
