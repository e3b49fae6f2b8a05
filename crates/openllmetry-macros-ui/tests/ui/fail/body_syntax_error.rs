// A syntax error in the body is reported by the compiler as usual; the macro adds nothing.
use openllmetry::task;

#[task]
fn broken() -> u32 {
    let = 1;
    2
}

fn main() {}
