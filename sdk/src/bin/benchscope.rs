//! The `benchscope` command: `guard`, `analyze`, `baseline` and `history`;
//! see `benchscope --help`.

fn main() -> std::process::ExitCode {
    benchscope::tool_main()
}
