//! `openllmetry ui`: a local LLM trace viewer with cost.
#![doc = "See `docs/notes/viewer.md` for the command-line contract."]

pub mod cli;
pub mod exporter;
pub mod extract;
pub mod faults;
mod grpc;
pub mod prices;
pub mod server;
pub mod store;

pub use server::{UiConfig, UiError, UiServer, run, start};
