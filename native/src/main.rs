//! The `tcphub` binary: the hub server and its client commands.

mod cli;
mod units;

/// mimalloc rather than glibc's malloc: the hub allocates a frame per
/// delivery on one thread and frees it on whichever wrote it, and
/// `docs/benchmarks.md` measured the difference.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
