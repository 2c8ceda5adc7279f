use clap::Parser;

fn main() {
    let cli = volley::Cli::parse();
    let code = match volley::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}
