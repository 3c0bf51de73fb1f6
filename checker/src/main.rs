//! The `checker` command line.

mod cli;

use std::process::ExitCode;

// The search allocates and frees many small model states; mimalloc does
// that markedly faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    cli::main()
}
