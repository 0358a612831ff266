//! A kubelet for ephemeral containers that runs them: each container added through the
//! `ephemeralcontainers` subresource is started as a local process (its command and arguments,
//! its environment), its output becomes the container's log (`pods/log`), and its exit is
//! reported in the pod's status as the kubelet would (`terminated`, exit code). Off by default
//! (`ServerConfig::run_ephemeral`): the plain simulation only reports containers running.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;

use serde_json::{json, Value};

use crate::{ephemeral, resources, time, Shared};

/// The names of a pod's ephemeral containers, in order.
pub fn ephemeral_names(pod: &Value) -> Vec<String> {
    pod.pointer("/spec/ephemeralContainers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect()
}

/// The containers of `updated` that `current` did not have.
pub(crate) fn added(current: &Value, updated: &Value) -> Vec<Value> {
    let before = ephemeral_names(current);
    updated
        .pointer("/spec/ephemeralContainers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| {
            c["name"]
                .as_str()
                .is_some_and(|n| !before.iter().any(|b| b == n))
        })
        .cloned()
        .collect()
}

/// Starts `container` of pod `namespace/pod` as a process; a thread follows it to its end.
pub(crate) fn start(shared: Arc<Shared>, namespace: String, pod: String, container: Value) {
    let name = container["name"].as_str().unwrap_or_default().to_string();
    let words: Vec<String> = container["command"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(container["args"].as_array().into_iter().flatten())
        .filter_map(|w| w.as_str().map(str::to_string))
        .collect();
    let Some((program, args)) = words.split_first() else {
        finish(&shared, &namespace, &pod, &name, 128, "no command to run\n");
        return;
    };
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for variable in container["env"].as_array().into_iter().flatten() {
        if let (Some(key), Some(value)) = (variable["name"].as_str(), variable["value"].as_str()) {
            command.env(key, value);
        }
    }
    command.env("HOSTNAME", &pod);
    let spawned = command.spawn();
    let program = program.clone();
    std::thread::spawn(move || match spawned {
        Err(error) => finish(
            &shared,
            &namespace,
            &pod,
            &name,
            127,
            &format!("cannot start {program}: {error}\n"),
        ),
        Ok(mut child) => {
            let mut log = String::new();
            let stderr = child.stderr.take();
            let stdout = child.stdout.take();
            let out_thread = std::thread::spawn(move || {
                let mut text = String::new();
                if let Some(stdout) = stdout {
                    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                        text.push_str(&line);
                        text.push('\n');
                    }
                }
                text
            });
            if let Some(stderr) = stderr {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    log.push_str(&line);
                    log.push('\n');
                    shared.store.set_log(&namespace, &pod, &name, &log);
                }
            }
            log.push_str(&out_thread.join().unwrap_or_default());
            let code = child.wait().ok().and_then(|s| s.code()).unwrap_or(137);
            finish(&shared, &namespace, &pod, &name, code, &log);
        }
    });
}

fn finish(shared: &Shared, namespace: &str, pod: &str, container: &str, code: i32, log: &str) {
    shared.store.set_log(namespace, pod, container, log);
    if let Err(error) = terminated(shared, namespace, pod, container, code) {
        tracing::warn!(%error, namespace, pod, container, "cannot report a container's end");
    }
}

/// Reports that ephemeral container `container` of a pod ended with `exit_code`.
pub(crate) fn terminated(
    shared: &Shared,
    namespace: &str,
    pod: &str,
    container: &str,
    exit_code: i32,
) -> Result<Value, crate::store::ApiError> {
    let resource = resources::by_kind("v1", "Pod")
        .ok_or_else(|| crate::store::ApiError::bad_request("no pods"))?;
    shared.store.update_with(resource, namespace, pod, |current| {
        let mut updated = current.clone();
        let now = time::now_rfc3339();
        ephemeral::set_status(
            &mut updated,
            container,
            json!({"terminated": {"exitCode": exit_code, "reason": if exit_code == 0 { "Completed" } else { "Error" },
                                  "startedAt": now, "finishedAt": now}}),
        );
        Ok(updated)
    })
}
