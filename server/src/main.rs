fn main() -> std::process::ExitCode {
    packistry_server::cli::main()
}
