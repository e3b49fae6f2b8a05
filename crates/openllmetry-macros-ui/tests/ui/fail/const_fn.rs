use openllmetry::workflow;

#[workflow]
const fn answer() -> u32 {
    42
}

// The function is still emitted, so this is not a second error.
const ANSWER: u32 = answer();

fn main() {
    let _ = ANSWER;
}
