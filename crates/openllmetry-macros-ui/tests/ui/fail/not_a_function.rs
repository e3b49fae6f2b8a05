use openllmetry::{agent, task, tool, workflow};

#[task]
struct Config;

#[agent]
impl Config {}

#[tool]
mod tools {}

#[workflow]
static LIMIT: u32 = 1;

fn main() {
    let _ = (Config, LIMIT);
}
