//! Command-line interface.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::scenario::parse_duration;

fn duration_arg(s: &str) -> Result<Duration, String> {
    parse_duration(s)
}

/// The shortest `--progress` interval: faster only floods stderr.
pub const MIN_PROGRESS: Duration = Duration::from_millis(100);

/// `--progress`: a duration (`2s`, `500ms`) or a bare number of seconds, at least
/// [`MIN_PROGRESS`].
pub fn progress_arg(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let d = match t.parse::<f64>() {
        Ok(secs) if (0.0..=86_400.0).contains(&secs) => Duration::from_secs_f64(secs),
        Ok(_) => {
            return Err(format!(
                "'{s}' is not a number of seconds between 0.1 and 86400"
            ))
        }
        Err(_) => parse_duration(t)?,
    };
    if d < MIN_PROGRESS {
        return Err(format!(
            "'{s}' is too short: progress lines at most every 100ms (like 500ms, 2s or 2)"
        ));
    }
    Ok(d)
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
        #[command(flatten)]
        fleet: FleetArgs,
    },
    /// Start the built-in demo target and run a built-in scenario against it
    /// (scenarios/demo.toml, or scenarios/streaming.toml with --scenario streaming).
    Demo {
        /// Only serve the demo target (for other tools and tests); do not run load.
        #[arg(long)]
        serve_only: bool,
        /// Which built-in scenario to run: shop (HTTP API) or streaming (a WebSocket chat
        /// and a server-sent token stream, with time to first byte and gaps).
        #[arg(long, value_enum, default_value_t = DemoScenario::Shop)]
        scenario: DemoScenario,
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
    /// Merge the result documents of one run's workers into the run's document: counts
    /// add, percentiles come from the added histograms, thresholds are judged again.
    Merge(MergeArgs),
    /// Capacity plan from a staged or breakpoint run's result document: the knee and the
    /// instances a peak needs.
    Plan(PlanArgs),
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
    /// List the runs of this user: live ones and those finished in the last 24 h.
    Ls(crate::control::ctl::LsArgs),
    /// Open the console on a run going on in the background (or one just finished):
    /// the same screens and keys; d leaves it, the run goes on.
    ///
    /// volley attach; volley attach 4k7q; volley attach /tmp/forwarded.sock
    Attach(AttachArgs),
    /// Steer a running run from another shell or a script: vus 50, rate 300/s,
    /// spike 5x 30s, pause, resume, stop, status, wait.
    ///
    /// volley ctl vus 50; volley ctl ab3 spike 5x 30s; volley ctl wait
    Ctl(crate::control::ctl::CtlArgs),
    /// Coordinate a run over N workers (`volley worker`): it holds the plan, the merged
    /// results and the control API (docs/fleet.md).
    Coordinator(CoordinatorArgs),
    /// Run a part of a fleet's run: dial the coordinator, run the part it gives, report.
    Worker(WorkerArgs),
    /// Kubernetes: `volley k8s manifest FILE --workers N` writes the fleet's objects.
    K8s(K8sArgs),
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
    /// Never send a request again when a reused keep-alive connection drops it before
    /// any response: count it as an error (as wrk does). By default an idempotent request
    /// is sent again once, and the dropped attempt is counted under `retries`.
    #[arg(long = "no-retry")]
    pub no_retry: bool,
    /// Speak HTTP/2: ALPN h2 over https, prior knowledge (h2c) over http. One connection
    /// per VU, one stream in flight on it (hyper's client).
    #[arg(long = "http2")]
    pub http2: bool,
    /// Time each response as a stream (server-sent events or chunks): time to first
    /// byte, to the first event, the gaps between events, events per response.
    /// `text/event-stream` responses are timed so without it.
    #[arg(long = "stream")]
    pub stream: bool,
}

/// The built-in scenarios of `volley demo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DemoScenario {
    Shop,
    Streaming,
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
    /// Run for this long (replaces the scenario's duration and iterations). With stages,
    /// every stage is scaled in proportion so that together they last exactly this long.
    #[arg(long = "duration", value_parser = duration_arg)]
    pub duration: Option<Duration>,
    /// With --duration: keep the stages as they are and stop the run at the duration,
    /// wherever the stages are by then.
    #[arg(long = "cut", requires = "duration")]
    pub cut: bool,
    /// Run this many iterations (replaces the scenario's duration and iterations).
    #[arg(long = "iterations")]
    pub iterations: Option<u64>,
    /// Do not verify TLS certificates.
    #[arg(long = "insecure")]
    pub insecure: bool,
    /// `[http] retry = "never"`: a request a reused connection drops is an error, never
    /// sent again.
    #[arg(long = "no-retry")]
    pub no_retry: bool,
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
    /// Engine worker threads (1 = a single-threaded runtime). Default: one per core
    /// available, at most one per 8 VUs, less one for the console above 2 cores.
    #[arg(long = "threads")]
    pub threads: Option<usize>,
    /// No self-watch: the generator is not sampled (no `generator` section, gauge or
    /// verdict). Only for measuring what sampling costs (bench/compare.sh MODE=selfwatch).
    #[arg(long = "no-self-watch", hide = true)]
    pub no_self_watch: bool,
    /// Headless mode: time between progress lines, like 2s or 500ms (a bare number is
    /// seconds; at least 100ms). Default 2s.
    #[arg(long = "progress", value_name = "DUR", value_parser = progress_arg)]
    pub progress: Option<Duration>,
    /// Console theme: dark, light, high-contrast, or a TOML file overriding some roles.
    #[arg(long = "theme", value_name = "NAME|PATH")]
    pub theme: Option<String>,
    /// Console frames per second.
    #[arg(long = "fps", default_value_t = 8)]
    pub fps: u32,
    /// Bind outgoing connections to these source addresses in turn, e.g.
    /// 127.0.0.2,127.0.0.3: each has its own ephemeral ports, so more of them carry more
    /// connections to one target address. Replaces the scenario's [http] local_addresses.
    #[arg(long = "bind", value_name = "ADDR[,ADDR...]")]
    pub bind: Option<String>,
    /// How long in-flight requests may finish after the run ends.
    #[arg(long = "graceful-stop", value_parser = duration_arg)]
    pub graceful_stop: Option<Duration>,
    /// Serve live metrics (Prometheus text format) on http://ADDR/metrics during the run;
    /// a port alone binds 127.0.0.1.
    #[arg(long = "prometheus", value_name = "ADDR")]
    pub prometheus: Option<String>,
    /// With --prometheus: keep serving the final metrics this long after the run ends, so
    /// a last scrape sees it done (0 stops at the end; q in the console stops earlier).
    #[arg(
        long = "prometheus-grace",
        value_name = "DUR",
        value_parser = duration_arg,
        default_value = "15s",
        requires = "prometheus"
    )]
    pub prometheus_grace: Duration,
    /// A saved result document to compare with in the html and md outputs.
    #[arg(long = "baseline", value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Sample the target's resources every second: a Prometheus metrics URL
    /// (node_exporter's CPU, memory and network by default), pid:N or process:NAME.
    #[arg(long = "monitor", value_name = "URL|pid:N", value_parser = crate::monitor::parse_flag)]
    pub monitor: Option<crate::monitor::Source>,
    /// Start in the background: print the run id and give the prompt back at once
    /// (`volley attach ID` opens the console on it). Progress and the summary go to the
    /// run's log file; --out files are written at the end as usual.
    #[arg(long = "detach")]
    pub detach: bool,
    /// What a terminal hang-up (an SSH connection dropped, the window closed) does to a
    /// console run: detach (it goes on in the background) or stop (drain and write the
    /// results).
    #[arg(long = "on-hangup", value_enum, default_value_t = crate::host::OnHangup::Detach)]
    pub on_hangup: crate::host::OnHangup,
    /// The control API (volley ctl, volley ls): `local` (a Unix socket in the run
    /// directory, the default), `off`, or also a TCP address like 127.0.0.1:7600 (a token
    /// always; TLS required off loopback).
    #[arg(long = "control", value_name = "local|off|ADDR", default_value = "local", value_parser = crate::control::parse_control)]
    pub control: crate::control::ControlSpec,
    /// TLS certificate (PEM) for a TCP control address.
    #[arg(long = "control-cert", value_name = "FILE")]
    pub control_cert: Option<PathBuf>,
    /// TLS private key (PEM) for a TCP control address.
    #[arg(long = "control-key", value_name = "FILE")]
    pub control_key: Option<PathBuf>,
    /// TLS for a TCP control address with a certificate made for this run (its SHA-256
    /// fingerprint is printed; clients pin it with --fingerprint).
    #[arg(long = "control-self-signed")]
    pub control_self_signed: bool,
}

impl Cli {
    /// The run arguments of a command that runs load (run, demo, quick mode).
    pub fn run_args(&self) -> Option<&RunArgs> {
        match &self.command {
            Some(Command::Run { run, .. }) => Some(run),
            Some(Command::Demo {
                serve_only: false,
                run,
                ..
            }) => Some(run),
            None if self.url.is_some() => Some(&self.run),
            _ => None,
        }
    }
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

/// `volley merge A.json B.json ... --out KIND=PATH`
#[derive(Debug, Args, Clone)]
pub struct MergeArgs {
    /// The workers' result documents (each written with --out json=FILE).
    #[arg(required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// Write KIND=PATH (json, csv, html, hdr, junit, md, txt; PATH - is stdout);
    /// repeatable. Without it, the merged run's text summary is printed.
    #[arg(long = "out", value_name = "KIND=PATH")]
    pub out: Vec<String>,
}

/// `volley plan RESULT.json ...`
#[derive(Debug, Args, Clone)]
pub struct PlanArgs {
    /// A result document (--out json=FILE) of a staged, stress or breakpoint run.
    pub file: PathBuf,
    /// Instances of the target that served the test.
    #[arg(long = "instances", value_name = "N", default_value_t = 1)]
    pub instances: u32,
    /// Expected peak: concurrent users (with --requests-per-user-per-minute).
    #[arg(long = "peak-users", value_name = "U")]
    pub peak_users: Option<f64>,
    /// Requests one user sends per minute at the peak.
    #[arg(long = "requests-per-user-per-minute", value_name = "R")]
    pub requests_per_user_per_minute: Option<f64>,
    /// Expected peak in requests per second (instead of --peak-users).
    #[arg(long = "peak-rps", value_name = "X")]
    pub peak_rps: Option<f64>,
    /// Headroom on the instances needed. Default 20%.
    #[arg(long = "buffer", value_name = "PCT")]
    pub buffer: Option<String>,
    /// Monthly growth of the peak (with --months), e.g. 15%.
    #[arg(long = "growth", value_name = "PCT")]
    pub growth: Option<String>,
    /// Months of growth to project.
    #[arg(long = "months", value_name = "N", default_value_t = 0)]
    pub months: u32,
    /// Cost of one instance (a month), for the cost column.
    #[arg(long = "cost-per-instance", value_name = "COST")]
    pub cost_per_instance: Option<f64>,
    /// Write KIND=PATH (txt, md, json; PATH - is stdout); repeatable. Default: text on stdout.
    #[arg(long = "out", value_name = "KIND=PATH")]
    pub out: Vec<String>,
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
    /// Fewest requests (in both runs) a total or endpoint needs for its changes to be
    /// judged; below, they are shown as noise and never count as a regression.
    #[arg(long = "min-requests", value_name = "N", default_value_t = crate::report::compare::DEFAULT_MIN_REQUESTS)]
    pub min_requests: u64,
    /// Latency changes smaller than this are noise, whatever their percentage.
    #[arg(long = "latency-floor", value_name = "DURATION", default_value = "1ms")]
    pub latency_floor: String,
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

/// `volley run FILE --workers N`: the run as a local fleet.
#[derive(Debug, Args, Clone, Default)]
pub struct FleetArgs {
    /// Run as a local fleet: an embedded coordinator and N worker processes of this
    /// volley on loopback, with a per-run token; the results are merged exactly.
    #[arg(long = "workers", value_name = "N")]
    pub workers: Option<u32>,
    /// What a lost worker does to the run (default: abort for a closed model, whose
    /// load would silently drop; continue for an open one).
    #[arg(long = "on-worker-loss", value_enum, requires = "workers")]
    pub on_worker_loss: Option<OnWorkerLoss>,
}

/// `--on-worker-loss`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnWorkerLoss {
    /// The others go on; the results say which worker was lost and when.
    Continue,
    /// Stop the whole run; its results are partial.
    Abort,
}

/// `volley coordinator FILE --workers N --listen ADDR --token-file F`.
#[derive(Debug, Args, Clone)]
pub struct CoordinatorArgs {
    /// The scenario file (the workers hold the same file).
    pub file: PathBuf,
    /// How many workers the run waits for.
    #[arg(long = "workers", value_name = "N")]
    pub workers: u32,
    /// Where the control API and the workers' Fleet service listen (TLS needed off
    /// loopback: --control-cert and --control-key).
    #[arg(long = "listen", value_name = "ADDR", default_value = "127.0.0.1:7600")]
    pub listen: String,
    /// A file holding the run's token (a Kubernetes Secret); without it a new token is
    /// made and printed once.
    #[arg(long = "token-file", value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// What a lost worker does to the run (default: abort for a closed model).
    #[arg(long = "on-worker-loss", value_enum)]
    pub on_worker_loss: Option<OnWorkerLoss>,
    /// How long the workers have to register and get ready.
    #[arg(long = "register-timeout", value_name = "DUR", value_parser = duration_arg, default_value = "120s")]
    pub register_timeout: Duration,
    #[command(flatten)]
    pub overrides: OverrideArgs,
    #[command(flatten)]
    pub run: RunArgs,
}

/// `volley worker FILE --coordinator ADDR --token-file F`.
#[derive(Debug, Args, Clone)]
pub struct WorkerArgs {
    /// The scenario: the same file as the coordinator's (its hash is checked).
    pub file: PathBuf,
    /// The coordinator: HOST:PORT, http://HOST:PORT or https://HOST:PORT.
    #[arg(long = "coordinator", value_name = "ADDR")]
    pub coordinator: String,
    /// A file holding the run's token (else VOLLEY_TOKEN).
    #[arg(long = "token-file", value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// With https: the SHA-256 fingerprint of the coordinator's certificate to pin.
    #[arg(long = "fingerprint", value_name = "SHA256")]
    pub fingerprint: Option<String>,
    /// This worker's index (default: JOB_COMPLETION_INDEX, else the coordinator's choice).
    #[arg(long = "index", value_name = "I")]
    pub index: Option<u32>,
    /// Where this worker writes its own result document (KIND=PATH, as `run --out`).
    #[arg(long = "out", value_name = "KIND=PATH")]
    pub out: Vec<String>,
    /// Engine worker threads.
    #[arg(long = "threads")]
    pub threads: Option<usize>,
}

/// `volley k8s ...`.
#[derive(Debug, Args, Clone)]
pub struct K8sArgs {
    #[command(subcommand)]
    pub command: K8sCommand,
}

/// What `volley k8s` does.
#[derive(Debug, Subcommand, Clone)]
pub enum K8sCommand {
    /// The YAML that runs FILE as a fleet (ConfigMap, Secret, coordinator Job and
    /// Service, worker Indexed Job), to stdout or -o FILE.
    Manifest {
        /// The scenario file (its data files go into the ConfigMap too).
        file: PathBuf,
        /// How many worker pods.
        #[arg(long = "workers", value_name = "N")]
        workers: u32,
        /// The volley image (see the Dockerfile).
        #[arg(long = "image", value_name = "IMG", default_value = concat!("ghcr.io/volley/volley:", env!("CARGO_PKG_VERSION")))]
        image: String,
        /// The namespace of every object.
        #[arg(long = "namespace", value_name = "NS", default_value = "default")]
        namespace: String,
        /// Write the YAML here instead of stdout.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

/// `volley attach [RUN]`
#[derive(Debug, Clone, clap::Args)]
pub struct AttachArgs {
    /// The run: its id or a unique prefix of it (default: the one live run), or the path
    /// of its control socket (one forwarded with `ssh -L` too). With none live: the newest
    /// finished run.
    pub run: Option<String>,
    /// A run's TCP control address (a run started with --control ADDR), like
    /// http://127.0.0.1:7600; the token comes from VOLLEY_TOKEN.
    #[arg(long = "connect", value_name = "URL")]
    pub connect: Option<String>,
    /// With an https --connect: the SHA-256 fingerprint of the run's certificate to pin.
    #[arg(long = "fingerprint", value_name = "HEX")]
    pub fingerprint: Option<String>,
    /// Console theme: dark, light, high-contrast, or a TOML file overriding some roles.
    #[arg(long = "theme", value_name = "NAME|PATH")]
    pub theme: Option<String>,
    /// Console frames per second.
    #[arg(long = "fps", default_value_t = 8)]
    pub fps: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_takes_durations_and_bare_seconds_from_100ms() {
        assert_eq!(progress_arg("1"), Ok(Duration::from_secs(1)));
        assert_eq!(progress_arg("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(progress_arg("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(progress_arg("100ms"), Ok(MIN_PROGRESS));
        for bad in ["0s", "0", "1us", "99ms", "0.05", "-1", "NaN", "inf"] {
            let e = progress_arg(bad).unwrap_err();
            assert!(e.contains(bad), "{bad}: {e}");
        }
        assert!(progress_arg("soon")
            .unwrap_err()
            .contains("invalid duration"));
    }
}
