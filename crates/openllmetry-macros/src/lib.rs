//! Attribute macros for openllmetry entity spans; use them through the `openllmetry` crate.

use proc_macro::TokenStream;

/// Marks a function as a workflow.
#[proc_macro_attribute]
pub fn workflow(_attr: TokenStream, item: TokenStream) -> TokenStream {
    item
}
/// Marks a function as a task.
#[proc_macro_attribute]
pub fn task(_attr: TokenStream, item: TokenStream) -> TokenStream {
    item
}
/// Marks a function as an agent.
#[proc_macro_attribute]
pub fn agent(_attr: TokenStream, item: TokenStream) -> TokenStream {
    item
}
/// Marks a function as a tool.
#[proc_macro_attribute]
pub fn tool(_attr: TokenStream, item: TokenStream) -> TokenStream {
    item
}
