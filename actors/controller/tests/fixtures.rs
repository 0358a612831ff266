//! The fixtures are real API objects: each validates (strictly) against the Kubernetes schemas
//! with `kubernetes-validate` (PyPI), and so does the Controller's RBAC as kustomize renders it.

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn validate(files: &[PathBuf]) {
    let output = Command::new("kubernetes-validate")
        .args(["--strict", "--quiet", "-k", "1.33"])
        .args(files)
        .output()
        .expect("kubernetes-validate (pip install kubernetes-validate) must be installed");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn fixtures_validate_against_the_kubernetes_schemas() {
    let mut files = Vec::new();
    for set in ["cluster", "rollout", "scale", "ipreuse", "agents"] {
        let dir = root().join("testdata/k8s").join(set);
        for entry in std::fs::read_dir(&dir).expect("fixture folder") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "json") {
                files.push(path);
            }
        }
    }
    assert!(files.len() >= 40, "{} fixtures", files.len());
    validate(&files);
}

#[test]
fn rbac_renders_and_validates() {
    let output = Command::new("kubectl")
        .args(["kustomize"])
        .arg(root().join("deploy/controller"))
        .output()
        .expect("kubectl must be installed");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rendered = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(rendered.contains("pods/ephemeralcontainers"));
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("rbac.yaml");
    std::fs::write(&file, rendered).expect("write");
    validate(&[file]);
}
