mod common;
use common::*;
use std::path::Path;
use std::time::Duration;

async fn run(client: &str, think: &str, idle: u64) {
    let server = TestServer::start(ServerConfig::new().idle_timeout(Duration::from_millis(idle)));
    let toml = format!(r#"
name = "idle"
base_url = "{url}"
[load]
vus = 8
iterations = 400
think_time = "{think}"
[http]
client = "{client}"
[[request]]
name = "i"
path = "/i"
"#, url = server.url());
    let plan = volley::scenario::parse(Path::new("t.toml"), &toml).unwrap();
    let s = volley::engine::start(plan).wait().await;
    println!("{client} think {think} idle {idle}: reported {} ok {} errors {:?} server {} msgs {:?}", s.total.requests, s.total.ok, s.total.errors_by_kind, server.total(), s.total.recent_errors.iter().take(2).map(|e| e.message.clone()).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explore() {
    for c in ["hyper", "reqwest"] {
        run(c, "50ms", 50).await;
        run(c, "45ms..55ms", 50).await;
        run(c, "30ms..70ms", 50).await;
    }
}
