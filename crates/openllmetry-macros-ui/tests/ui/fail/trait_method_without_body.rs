use openllmetry::task;

trait Step {
    #[task]
    fn run(&self) -> u32;
}

fn main() {}
