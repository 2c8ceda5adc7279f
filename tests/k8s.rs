//! The Kubernetes manifest of a fleet run: byte-for-byte the checked-in golden file (for a
//! fixed token and id), and valid against the Kubernetes API schemas, checked offline by
//! `kubernetes-validate` (`.ci/run` installs it in a venv and names it in
//! `VOLLEY_KUBERNETES_VALIDATE`; without it the validation is skipped with a message).

use std::path::{Path, PathBuf};
use std::process::Command;

use volley::fleet::k8s::{read_data, yaml, ManifestSpec, ManifestTls};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn manifest() -> String {
    let scenario = PathBuf::from("scenarios/mixed.toml");
    let text = std::fs::read_to_string(root().join(&scenario)).unwrap();
    let data = read_data(&root().join(&scenario), &text).unwrap();
    assert!(!data.is_empty(), "mixed.toml reads a data file");
    yaml(&ManifestSpec {
        scenario,
        text,
        data,
        workers: 4,
        image: "ghcr.io/volley/volley:0.1.0".into(),
        namespace: "load".into(),
        run_id: "k7q2xa".into(),
        token: "0".repeat(64),
        tls: ManifestTls {
            cert_pem: "-----BEGIN CERTIFICATE-----\nTEST\n-----END CERTIFICATE-----\n".into(),
            key_pem: "-----BEGIN PRIVATE KEY-----\nTEST\n-----END PRIVATE KEY-----\n".into(),
            fingerprint: "00:11:22:33".into(),
        },
    })
    .unwrap()
}

#[test]
fn the_manifest_is_the_golden_one() {
    let got = manifest();
    let path = root().join("tests/golden/fleet-k8s.yaml");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &got).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        got == want,
        "{} differs (UPDATE_GOLDEN=1 cargo test --test k8s to accept):\n{got}",
        path.display()
    );
}

#[test]
fn the_manifest_is_valid_against_the_kubernetes_schemas() {
    let Some(validator) = std::env::var_os("VOLLEY_KUBERNETES_VALIDATE") else {
        eprintln!("VOLLEY_KUBERNETES_VALIDATE is not set: the manifest is not validated (.ci/run sets it)");
        return;
    };
    let dir = std::env::temp_dir().join(format!("volley-k8s-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("fleet.yaml");
    std::fs::write(&file, manifest()).unwrap();
    let out = Command::new(&validator)
        .args(["--strict", "--no-warn"])
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", Path::new(&validator).display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "kubernetes-validate failed:\n{text}");
    // One line per object, each valid.
    assert_eq!(text.matches(" passed for resource ").count(), 5, "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
