use clap::Parser;

fn main() {
    let cli = volley::Cli::parse();
    // Before any thread exists: a console run moves into a run host that can outlive
    // the terminal (this process then only waits for it, and never returns from here).
    let host = volley::host::split_for(&cli);
    let code = match volley::run_hosted(cli, host) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}
