//! The `benchscope` command: `guard`, `analyze` and `baseline`; see
//! `benchscope --help`.

fn main() -> std::process::ExitCode {
    benchscope::cli::tool::main()
}
