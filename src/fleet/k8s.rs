//! `volley k8s manifest`: the Kubernetes objects that run one scenario as a fleet.
//!
//! Kubernetes schedules, places and cleans up; volley adds only its own protocol. The
//! manifest holds, all labelled `volley.dev/run=<id>`:
//! - a ConfigMap with the scenario and the data files it reads, mounted at `/scenario`;
//! - a Secret with the run's token (256 random bits, made when the manifest is written);
//! - the coordinator: a Job (one pod) and a Service in front of its control port;
//! - the workers: an Indexed Job (`completionMode: Indexed`, `completions = parallelism =
//!   N`), each pod's index (`JOB_COMPLETION_INDEX`) being its segment of the run, with
//!   `backoffLimit: 0`, `restartPolicy: Never` and a pod failure policy that fails the
//!   whole Job on a worker's failure: a restarted worker would replay its segment from
//!   zero, so none is restarted.
//!
//! Static YAML cannot hold owner references (they need the owner's UID), so the Jobs
//! carry `ttlSecondsAfterFinished` and the label: `kubectl delete all,configmap,secret -l
//! volley.dev/run=<id>` removes everything.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

/// The port the coordinator serves workers and consoles on.
pub const CONTROL_PORT: u16 = 7600;

/// What the manifest is made from.
#[derive(Debug, Clone)]
pub struct ManifestSpec {
    /// The scenario file.
    pub scenario: PathBuf,
    /// Its text.
    pub text: String,
    /// Data files it reads: path as written in the scenario -> contents.
    pub data: BTreeMap<String, String>,
    pub workers: u32,
    pub image: String,
    pub namespace: String,
    /// Short id naming every object (`volley-<id>-...`).
    pub run_id: String,
    /// The run's bearer token.
    pub token: String,
    /// The coordinator's TLS certificate (made with the manifest): pods talk over the
    /// cluster network, so the coordinator serves TLS and the workers pin it.
    pub tls: ManifestTls,
}

/// The coordinator's certificate and key (PEM), and the fingerprint the workers pin.
#[derive(Debug, Clone)]
pub struct ManifestTls {
    pub cert_pem: String,
    pub key_pem: String,
    pub fingerprint: String,
}

/// Why a manifest cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("--workers must be at least 1")]
    NoWorkers,
    #[error("{path}: a data file the scenario reads cannot be read: {source}")]
    Data {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{scenario}:{line}: [[data]] file = \"{path}\": the manifest mounts data files beside the scenario, so the path must be relative and stay in the scenario's folder (no '..'); move the file there")]
    DataPath {
        scenario: String,
        line: usize,
        path: String,
    },
    #[error("the scenario and its data files are {size} bytes: a ConfigMap holds at most 1 MiB ({MAX_CONFIGMAP} bytes); use smaller data files, or bake them into the image")]
    TooBig { size: usize },
    #[error("{0}: the scenario's path has no file name")]
    NoName(PathBuf),
    #[error("cannot read random bytes for the token: {0}")]
    Random(std::io::Error),
    #[error("cannot write YAML: {0}")]
    Yaml(String),
}

/// The data files a scenario names (`[[data]] file = "..."`), as written.
pub fn data_files(text: &str) -> Vec<String> {
    let Ok(v) = text.parse::<toml::Table>() else {
        return Vec::new();
    };
    v.get("data")
        .and_then(|d| d.as_array())
        .into_iter()
        .flatten()
        .filter_map(|d| d.get("file").and_then(|f| f.as_str()).map(str::to_string))
        .collect()
}

/// What a ConfigMap holds at most (its data together, keys included).
pub const MAX_CONFIGMAP: usize = 1 << 20;

/// Whether a data file's path can be mounted beside the scenario: relative, and inside
/// its folder.
fn mountable(path: &str) -> bool {
    let p = Path::new(path);
    !path.is_empty()
        && p.components().all(|c| {
            matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        })
}

/// Reads the data files next to the scenario.
pub fn read_data(scenario: &Path, text: &str) -> Result<BTreeMap<String, String>, ManifestError> {
    let dir = scenario.parent().unwrap_or(Path::new("."));
    let files = data_files(text);
    if let Some(bad) = files.iter().find(|f| !mountable(f)) {
        let at = text.find(&format!("\"{bad}\"")).unwrap_or(0);
        return Err(ManifestError::DataPath {
            scenario: scenario.display().to_string(),
            line: text[..at].matches('\n').count() + 1,
            path: bad.clone(),
        });
    }
    files
        .into_iter()
        .map(|f| {
            std::fs::read_to_string(dir.join(&f))
                .map(|c| (f.clone(), c))
                .map_err(|source| ManifestError::Data { path: f, source })
        })
        .collect()
}

/// 32 random bytes from the system's generator, as 64 hex digits.
pub fn random_token() -> Result<String, ManifestError> {
    let mut b = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(ManifestError::Random)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// A short run id: 6 lowercase letters and digits (valid in every object name).
pub fn run_id(token: &str) -> String {
    // The token is random: its first bytes make an id without a second source.
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    token
        .as_bytes()
        .chunks(2)
        .take(6)
        .map(|c| {
            let v = u8::from_str_radix(std::str::from_utf8(c).unwrap_or("0"), 16).unwrap_or(0);
            ALPHABET[(v % 32) as usize] as char
        })
        .collect()
}

/// A ConfigMap key for a data file's path (keys cannot hold `/`).
fn key_of(path: &str) -> String {
    path.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The objects, in the order `kubectl apply` should create them.
pub fn objects(spec: &ManifestSpec) -> Result<Vec<Value>, ManifestError> {
    if spec.workers == 0 {
        return Err(ManifestError::NoWorkers);
    }
    let file = spec
        .scenario
        .file_name()
        .and_then(|f| f.to_str())
        .ok_or_else(|| ManifestError::NoName(spec.scenario.clone()))?
        .to_string();
    let name = |part: &str| format!("volley-{}-{part}", spec.run_id);
    let labels = |role: &str| {
        json!({
            "app.kubernetes.io/name": "volley",
            "app.kubernetes.io/component": role,
            "volley.dev/run": spec.run_id,
        })
    };
    let meta = |part: &str, role: &str| json!({"name": name(part), "namespace": spec.namespace, "labels": labels(role)});
    let mut data = BTreeMap::new();
    data.insert(key_of(&file), spec.text.clone());
    let mut items = vec![json!({"key": key_of(&file), "path": file})];
    for (path, contents) in &spec.data {
        // Paths that differ can make the same key (`a/b.csv`, `a-b.csv`): one each.
        let base = key_of(path);
        let mut key = base.clone();
        let mut n = 1;
        while data.contains_key(&key) {
            n += 1;
            key = format!("{n}-{base}");
        }
        data.insert(key.clone(), contents.clone());
        items.push(json!({"key": key, "path": path}));
    }
    let size: usize = data.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_CONFIGMAP {
        return Err(ManifestError::TooBig { size });
    }
    let scenario_path = format!("/scenario/{file}");
    // The coordinator gets the token and its TLS key; the workers only the token.
    let volumes = json!([
        {"name": "scenario", "configMap": {"name": name("scenario"), "items": items}},
        {"name": "token", "secret": {"secretName": name("token"), "defaultMode": 0o400}},
        {"name": "tmp", "emptyDir": {}},
    ]);
    let worker_volumes = json!([
        {"name": "scenario", "configMap": {"name": name("scenario"), "items": items}},
        {"name": "token", "secret": {"secretName": name("token"), "defaultMode": 0o400,
            "items": [{"key": "token", "path": "token"}]}},
        {"name": "tmp", "emptyDir": {}},
    ]);
    // The root filesystem is read-only: the run directory and results go to /tmp.
    let env = json!([{"name": "VOLLEY_RUN_DIR", "value": "/tmp/volley-runs"}]);
    let mounts = json!([
        {"name": "scenario", "mountPath": "/scenario", "readOnly": true},
        {"name": "token", "mountPath": "/var/run/volley", "readOnly": true},
        {"name": "tmp", "mountPath": "/tmp"},
    ]);
    let security = json!({
        "runAsNonRoot": true,
        "runAsUser": 65532,
        "allowPrivilegeEscalation": false,
        "readOnlyRootFilesystem": true,
        "capabilities": {"drop": ["ALL"]},
    });
    let coordinator_addr = format!(
        "https://{}.{}.svc:{CONTROL_PORT}",
        name("coordinator"),
        spec.namespace
    );
    Ok(vec![
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta("scenario", "scenario"),
            "data": data,
        }),
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": meta("token", "token"),
            "type": "Opaque",
            "stringData": {
                "token": spec.token,
                "tls.crt": spec.tls.cert_pem,
                "tls.key": spec.tls.key_pem,
            },
        }),
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta("coordinator", "coordinator"),
            "spec": {
                "selector": labels("coordinator"),
                "ports": [{"name": "control", "port": CONTROL_PORT, "targetPort": "control", "protocol": "TCP"}],
            },
        }),
        json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": meta("coordinator", "coordinator"),
            "spec": {
                "backoffLimit": 0,
                "ttlSecondsAfterFinished": 86400,
                "template": {
                    "metadata": {"labels": labels("coordinator")},
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{
                            "name": "coordinator",
                            "image": spec.image,
                            "args": [
                                "coordinator", scenario_path,
                                "--workers", spec.workers.to_string(),
                                "--listen", format!("0.0.0.0:{CONTROL_PORT}"),
                                "--token-file", "/var/run/volley/token",
                                "--control-cert", "/var/run/volley/tls.crt",
                                "--control-key", "/var/run/volley/tls.key",
                                "--headless",
                                "--out", "json=/tmp/results.json",
                            ],
                            "ports": [{"name": "control", "containerPort": CONTROL_PORT}],
                            "env": env,
                            "volumeMounts": mounts,
                            "securityContext": security,
                        }],
                        "volumes": volumes,
                    },
                },
            },
        }),
        json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": meta("workers", "worker"),
            "spec": {
                "completionMode": "Indexed",
                "completions": spec.workers,
                "parallelism": spec.workers,
                "backoffLimit": 0,
                "ttlSecondsAfterFinished": 86400,
                "podFailurePolicy": {
                    "rules": [{
                        "action": "FailJob",
                        "onExitCodes": {"containerName": "worker", "operator": "NotIn", "values": [0]},
                    }],
                },
                "template": {
                    "metadata": {"labels": labels("worker")},
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{
                            "name": "worker",
                            "image": spec.image,
                            "args": [
                                "worker", scenario_path,
                                "--coordinator", coordinator_addr,
                                "--fingerprint", spec.tls.fingerprint,
                                "--token-file", "/var/run/volley/token",
                                "--out", "json=/tmp/results.json",
                            ],
                            "env": env,
                            "volumeMounts": mounts,
                            "securityContext": security,
                        }],
                        "volumes": worker_volumes,
                    },
                },
            },
        }),
    ])
}

/// `volley k8s manifest FILE --workers N [--image IMG] [--namespace NS] [-o FILE]`.
pub fn command(args: &crate::cli::K8sArgs) -> Result<i32, crate::error::Error> {
    use crate::error::Error;
    let crate::cli::K8sCommand::Manifest {
        file,
        workers,
        image,
        namespace,
        output,
    } = &args.command;
    // The scenario must be valid before it is shipped anywhere.
    crate::scenario::load(file)?;
    let text = std::fs::read_to_string(file)
        .map_err(|e| Error::Usage(format!("cannot read '{}': {e}", file.display())))?;
    let data = read_data(file, &text).map_err(|e| Error::Usage(e.to_string()))?;
    let token = random_token().map_err(|e| Error::Usage(e.to_string()))?;
    let id = run_id(&token);
    let host = format!("volley-{id}-coordinator.{namespace}.svc");
    let (cert_pem, key_pem, fingerprint) =
        crate::control::tls::self_signed_pem(&[host]).map_err(Error::Usage)?;
    let spec = ManifestSpec {
        scenario: file.clone(),
        text,
        data,
        workers: *workers,
        image: image.clone(),
        namespace: namespace.clone(),
        run_id: id,
        token,
        tls: ManifestTls {
            cert_pem,
            key_pem,
            fingerprint,
        },
    };
    let text = yaml(&spec).map_err(|e| Error::Usage(e.to_string()))?;
    match output {
        Some(path) => {
            std::fs::write(path, &text)
                .map_err(|e| Error::io(format!("cannot write '{}'", path.display()), e))?;
            say!(
                "volley: wrote {} (run {}; kubectl apply -f {})",
                path.display(),
                spec.run_id,
                path.display()
            );
        }
        None => {
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|_| out.flush())
                .map_err(|e| Error::io("stdout", e))?;
        }
    }
    Ok(crate::error::exit::OK)
}

/// The manifest as YAML documents separated by `---`, with a header saying how to use it.
pub fn yaml(spec: &ManifestSpec) -> Result<String, ManifestError> {
    let mut out = format!(
        "# volley fleet: scenario {}, {} workers, run {}\n\
         # kubectl apply -f THIS_FILE\n\
         # kubectl -n {ns} port-forward service/volley-{id}-coordinator {port}:{port}\n\
         # clean up: kubectl -n {ns} delete all,configmap,secret -l volley.dev/run={id}\n",
        spec.scenario.display(),
        spec.workers,
        spec.run_id,
        ns = spec.namespace,
        id = spec.run_id,
        port = CONTROL_PORT,
    );
    for o in objects(spec)? {
        out.push_str("---\n");
        out.push_str(&yaml_serde::to_string(&o).map_err(|e| ManifestError::Yaml(e.to_string()))?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(workers: u32) -> ManifestSpec {
        ManifestSpec {
            scenario: PathBuf::from("scenarios/mixed.toml"),
            text: "name = \"mixed\"\n".into(),
            data: [("data/users.csv".to_string(), "id\n1\n".to_string())].into(),
            workers,
            image: "ghcr.io/example/volley:1".into(),
            namespace: "load".into(),
            run_id: "abc234".into(),
            token: "t".repeat(64),
            tls: ManifestTls {
                cert_pem: "CERT".into(),
                key_pem: "KEY".into(),
                fingerprint: "AB:CD".into(),
            },
        }
    }

    #[test]
    fn workers_are_an_indexed_job_that_fails_as_a_whole() {
        let objs = objects(&spec(4)).unwrap();
        let kinds: Vec<&str> = objs.iter().map(|o| o["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["ConfigMap", "Secret", "Service", "Job", "Job"]);
        let w = &objs[4]["spec"];
        assert_eq!(w["completionMode"], "Indexed");
        assert_eq!(w["completions"], 4);
        assert_eq!(w["parallelism"], 4);
        assert_eq!(w["backoffLimit"], 0);
        assert_eq!(w["template"]["spec"]["restartPolicy"], "Never");
        assert_eq!(w["podFailurePolicy"]["rules"][0]["action"], "FailJob");
        // The workers dial the coordinator's Service; they never listen.
        let args = &w["template"]["spec"]["containers"][0]["args"];
        assert_eq!(args[1], "/scenario/mixed.toml");
        assert_eq!(args[3], "https://volley-abc234-coordinator.load.svc:7600");
        assert_eq!(args[5], "AB:CD");
        // The workers' Secret volume holds the token, not the coordinator's TLS key.
        let vol = &w["template"]["spec"]["volumes"][1]["secret"]["items"];
        assert_eq!(vol[0]["key"], "token");
        assert!(w["template"]["spec"]["containers"][0]
            .get("ports")
            .is_none());
    }

    #[test]
    fn the_scenario_and_its_data_are_mounted_at_their_paths() {
        let objs = objects(&spec(1)).unwrap();
        assert_eq!(objs[0]["data"]["mixed.toml"], "name = \"mixed\"\n");
        assert_eq!(objs[0]["data"]["data-users.csv"], "id\n1\n");
        let vol = &objs[3]["spec"]["template"]["spec"]["volumes"][0]["configMap"]["items"];
        assert_eq!(vol[1]["path"], "data/users.csv");
        assert_eq!(
            objs[3]["spec"]["template"]["spec"]["containers"][0]["args"][1],
            "/scenario/mixed.toml"
        );
    }

    #[test]
    fn data_paths_outside_the_scenarios_folder_are_refused() {
        let t = "name = \"x\"\n[[data]]\nname = \"u\"\nfile = \"../users.csv\"\n";
        let e = read_data(Path::new("s/x.toml"), t).unwrap_err().to_string();
        assert!(
            e.starts_with("s/x.toml:4: [[data]] file = \"../users.csv\""),
            "{e}"
        );
        let t = "name = \"x\"\n[[data]]\nname = \"u\"\nfile = \"/srv/users.csv\"\n";
        assert!(read_data(Path::new("x.toml"), t).is_err());
        assert!(mountable("data/users.csv") && mountable("./u.csv"));
        assert!(!mountable("a/../../u.csv") && !mountable(""));
    }

    #[test]
    fn data_files_get_a_key_each_and_the_configmap_its_limit() {
        let mut s = spec(2);
        s.data = [
            ("a/b.csv".to_string(), "x\n1\n".to_string()),
            ("a-b.csv".to_string(), "y\n2\n".to_string()),
        ]
        .into();
        let objs = objects(&s).unwrap();
        let data = objs[0]["data"].as_object().unwrap();
        assert_eq!(data.len(), 3, "{data:?}");
        assert_eq!(data["a-b.csv"], "y\n2\n");
        assert_eq!(data["2-a-b.csv"], "x\n1\n");
        s.data = [("big.csv".to_string(), "x".repeat(MAX_CONFIGMAP))].into();
        assert!(matches!(objects(&s), Err(ManifestError::TooBig { .. })));
    }

    #[test]
    fn data_files_are_read_from_the_scenario() {
        let t = "name = \"x\"\n[[data]]\nname = \"u\"\nfile = \"data/users.csv\"\n[[data]]\nname = \"v\"\nfile = \"more.csv\"\n";
        assert_eq!(data_files(t), ["data/users.csv", "more.csv"]);
        assert!(data_files("not toml [").is_empty());
    }

    #[test]
    fn tokens_are_random_and_ids_fit_object_names() {
        let (a, b) = (random_token().unwrap(), random_token().unwrap());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        let id = run_id(&a);
        assert_eq!(id.len(), 6);
        assert!(id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
        assert!(matches!(objects(&spec(0)), Err(ManifestError::NoWorkers)));
    }
}
