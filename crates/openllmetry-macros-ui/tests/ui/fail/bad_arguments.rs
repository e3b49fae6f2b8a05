use openllmetry::{agent, task, tool, workflow};

#[workflow(nmae = "typo")]
fn unknown_key() {}

#[task(name = 42)]
fn name_not_a_string() {}

#[agent(version = "2")]
fn version_not_an_integer() {}

#[tool(name = "a", name = "b")]
fn duplicate_name() {}

#[workflow(name = "")]
fn empty_name() {}

#[task(name)]
fn missing_value() {}

#[agent(version = 99999999999999999999)]
fn version_too_large() {}

#[tool(crate::name = "x")]
fn path_key() {}

fn main() {
    // Every function still exists.
    unknown_key();
    name_not_a_string();
    version_not_an_integer();
    duplicate_name();
    empty_name();
    missing_value();
    version_too_large();
    path_key();
}
