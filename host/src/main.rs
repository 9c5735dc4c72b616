use std::process::ExitCode;

fn main() -> ExitCode {
    brulee::cli::main()
}
