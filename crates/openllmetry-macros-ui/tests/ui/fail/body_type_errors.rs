// Type errors inside an entity body are reported at the user's expression, as they would be
// without the attribute, and never at the attribute with a hint to edit it.
use openllmetry::{task, workflow};

#[task]
fn wrong_tail() -> u32 {
    "not a number"
}

#[task]
fn wrong_early_return(flag: bool) -> u32 {
    if flag {
        return "early";
    }
    1
}

#[workflow]
async fn async_wrong_tail() -> String {
    5
}

#[task]
fn question_mark_without_result() -> u32 {
    let value: Option<u32> = None;
    value?
}

#[workflow]
fn unknown_name() -> u32 {
    missing_variable + 1
}

fn main() {}
