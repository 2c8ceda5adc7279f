//! Command-line interface.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::scenario::parse_duration;

fn duration_arg(s: &str) -> Result<Duration, String> {
    parse_duration(s)
}

#[derive(Debug, Parser)]
#[command(
    name = "volley",
    version,
    about = "A terminal load console: drive HTTP load and steer it live from the keyboard",
    args_conflicts_with_subcommands = true,
    after_help = "Quick mode:  volley http://127.0.0.1:8080/health -c 50 -d 10s\n\
                  Scenario:    volley run scenarios/demo.toml\n\
                  Demo:        volley demo"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Quick mode: the URL to load (closed model, no think time).
    pub url: Option<String>,
    #[command(flatten)]
    pub quick: QuickArgs,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a TOML scenario.
    Run {
        /// The scenario file.
        file: PathBuf,
        #[command(flatten)]
        overrides: OverrideArgs,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Start the built-in demo target and run scenarios/demo.toml against it.
    Demo {
        /// Only serve the demo target (for other tools and tests); do not run load.
        #[arg(long)]
        serve_only: bool,
        #[command(flatten)]
        target: crate::demo::DemoOptions,
        #[command(flatten)]
        overrides: OverrideArgs,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Render outputs (html, csv, md, hdr, junit, ...) from a saved result document.
    Report(ReportArgs),
    /// Compare two saved result documents: baseline against current.
    Compare(CompareArgs),
    /// Validate a scenario and print the plan it would run.
    Check {
        /// The scenario file.
        file: PathBuf,
        #[command(flatten)]
        overrides: OverrideArgs,
    },
    /// Write a scenario from what you have: curl commands, a HAR, OpenAPI, k6 or Locust.
    Import(crate::import::ImportArgs),
    /// Write a starter scenario for a URL from the library's templates.
    Init(crate::init::InitArgs),
    /// Print the JSON Schema of scenario or theme files (shipped in schema/).
    Schema {
        #[arg(value_enum, default_value_t = crate::schema::SchemaKind::Scenario)]
        kind: crate::schema::SchemaKind,
    },
    /// Print a shell completion script (bash, zsh or fish).
    ///
    /// volley completions bash > ~/.local/share/bash-completion/completions/volley
    Completions {
        #[arg(value_enum)]
        shell: crate::shell::CompletionShell,
    },
    /// Print the man page (roff).
    ///
    /// volley man > volley.1 && man ./volley.1
    Man,
}

/// Flags of quick mode (`volley URL ...`), like wrk, oha and curl.
#[derive(Debug, Args, Clone)]
pub struct QuickArgs {
    /// Number of VUs, each with its own keep-alive connection.
    #[arg(short = 'c', long = "connections", default_value_t = 50)]
    pub connections: u32,
    /// How long to run (e.g. 10s, 2m). Default 10s unless -n is given.
    #[arg(short = 'd', long = "duration", value_parser = duration_arg)]
    pub duration: Option<Duration>,
    /// Total number of requests to send.
    #[arg(short = 'n', long = "requests")]
    pub requests: Option<u64>,
    /// HTTP method.
    #[arg(short = 'm', long = "method", default_value = "GET")]
    pub method: String,
    /// A request header "Name: value" (repeatable).
    #[arg(short = 'H', long = "header")]
    pub headers: Vec<String>,
    /// Request body: text, or @FILE to read it from a file.
    #[arg(long = "body")]
    pub body: Option<String>,
    /// Per-request timeout.
    #[arg(long = "timeout", value_parser = duration_arg, default_value = "10s")]
    pub timeout: Duration,
    /// Do not verify TLS certificates.
    #[arg(long = "insecure", short = 'k')]
    pub insecure: bool,
    /// Which HTTP client to use: auto (h1 unless -L), h1 (volley's own HTTP/1.1 client),
    /// hyper, reqwest (redirects, cookies, proxies).
    #[arg(long = "client", value_enum, default_value_t = ClientArg::Auto)]
    pub client: ClientArg,
    /// Follow redirects (uses the reqwest client).
    #[arg(long = "follow-redirects", short = 'L')]
    pub follow_redirects: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClientArg {
    Auto,
    H1,
    Hyper,
    Reqwest,
}

/// Values that replace a scenario's own.
#[derive(Debug, Args, Clone, Default)]
pub struct OverrideArgs {
    /// Send the scenario's requests to this base URL instead of its own.
    #[arg(long = "target")]
    pub target: Option<String>,
    /// Run this many VUs.
    #[arg(long = "vus")]
    pub vus: Option<u32>,
    /// Run for this long (replaces the scenario's duration and iterations).
    #[arg(long = "duration", value_parser = duration_arg)]
    pub duration: Option<Duration>,
    /// Run this many iterations (replaces the scenario's duration and iterations).
    #[arg(long = "iterations")]
    pub iterations: Option<u64>,
    /// Do not verify TLS certificates.
    #[arg(long = "insecure")]
    pub insecure: bool,
}

/// How a run is watched and where its results go.
#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    /// No console: a progress line on stderr, the summary on stdout.
    #[arg(long = "headless")]
    pub headless: bool,
    /// Write results: KIND=PATH, e.g. json=results.json (repeatable).
    #[arg(long = "out", value_name = "KIND=PATH")]
    pub out: Vec<String>,
    /// Engine worker threads (1 = a single-threaded runtime).
    #[arg(long = "threads")]
    pub threads: Option<usize>,
    /// Seconds between progress lines in headless mode.
    #[arg(long = "progress", value_parser = duration_arg)]
    pub progress: Option<Duration>,
    /// Console theme: dark, light, high-contrast, or a TOML file overriding some roles.
    #[arg(long = "theme", value_name = "NAME|PATH")]
    pub theme: Option<String>,
    /// Console frames per second.
    #[arg(long = "fps", default_value_t = 8)]
    pub fps: u32,
    /// How long in-flight requests may finish after the run ends.
    #[arg(long = "graceful-stop", value_parser = duration_arg)]
    pub graceful_stop: Option<Duration>,
    /// Serve live metrics (Prometheus text format) on http://ADDR/metrics during the run;
    /// a port alone binds 127.0.0.1.
    #[arg(long = "prometheus", value_name = "ADDR")]
    pub prometheus: Option<String>,
    /// A saved result document to compare with in the html and md outputs.
    #[arg(long = "baseline", value_name = "FILE")]
    pub baseline: Option<PathBuf>,
}

/// `volley report FILE --out KIND=PATH ...`
#[derive(Debug, Args, Clone)]
pub struct ReportArgs {
    /// A result document written with --out json=FILE.
    pub file: PathBuf,
    /// Write KIND=PATH (json, csv, html, hdr, junit, md, txt; PATH - is stdout);
    /// repeatable. Without it, the text summary is printed.
    #[arg(long = "out", value_name = "KIND=PATH")]
    pub out: Vec<String>,
    /// A saved result document to compare with in the html and md outputs.
    #[arg(long = "baseline", value_name = "FILE")]
    pub baseline: Option<PathBuf>,
}

/// `volley compare BASELINE CURRENT`
#[derive(Debug, Args, Clone)]
pub struct CompareArgs {
    /// The result document to compare against.
    pub baseline: PathBuf,
    /// The result document of the run being judged.
    pub current: PathBuf,
    /// Changes within this are "same".
    #[arg(long = "tolerance", value_name = "PCT", default_value = "5%")]
    pub tolerance: String,
    /// Exit 98 when p95, p99, the error rate or rps (total or any endpoint) got worse
    /// by more than PCT, e.g. 10%.
    #[arg(long = "fail-on-regression", value_name = "PCT")]
    pub fail_on_regression: Option<String>,
    /// Output format.
    #[arg(long = "format", value_enum, default_value_t = CompareFormat::Text)]
    pub format: CompareFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompareFormat {
    Text,
    Md,
    Json,
}
