//! The `plinth` binary, with the built-in Airbyte catalog.

fn main() -> std::process::ExitCode {
    plinth_cli::main_with(plinth_airbyte::catalog())
}
