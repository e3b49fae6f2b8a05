//! Providers with their own folder: `providers/<name>/` holds that provider's request,
//! response and stream parsing. (OpenAI and Anthropic live in `crate::openai` and
//! `crate::anthropic` until they move here.)

pub mod cohere;
pub mod mistral;
pub mod ollama;
mod util;
