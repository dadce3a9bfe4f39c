//! The `benchscope` command: `guard`, `analyze`, `baseline` and `history`;
//! see `benchscope --help`.

fn main() -> std::process::ExitCode {
    benchscope::__private::tool_main()
}
