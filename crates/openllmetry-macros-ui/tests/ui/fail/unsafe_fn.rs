// An `unsafe fn` keeps its signature and its body stays an unsafe context under the attribute:
// the only error is the deliberate call outside `unsafe` in `main` (the forms that must compile
// and run live in `tests/sync_forms.rs`, where the workspace forbids `unsafe`).
use openllmetry::task;

/// # Safety
/// `ptr` must be valid for a read.
#[task]
unsafe fn read(ptr: *const u8) -> u8 {
    unsafe { *ptr }
}

fn main() {
    let byte = 9u8;
    // SAFETY: `byte` is alive.
    let _ = unsafe { read(&byte) };
    let _ = read(&byte);
}
