#!/usr/bin/env python3
"""Checks of deploy/ that no schema validator makes (run by scripts/test-deploy.sh).

  check_deploy.py manifests --spider BIN [--complete] [--dockerfile F] [--external-secret S]... FILE...
  check_deploy.py units --spider BIN --env-dir DIR UNIT...
  check_deploy.py dockerfile --spider BIN --root DIR DOCKERFILE

manifests: every container of a Spider image runs a role whose command line `spider` accepts
(`spider ARGS --help` exits 0: flags exist, values parse), every $(VAR) in its arguments is
defined, its security context is the one its role needs and no more (backend, gateway, Controller:
non-root, no capability; Whisperer: root with CAP_NET_RAW only; Gocipher: root with CAP_BPF,
CAP_PERFMON, CAP_NET_ADMIN only, the cgroup hierarchy read-only as its only host path), paths
given as arguments exist in a volume or in the image, and one backend replica at most. With
--complete (an overlay or an example, applied as is): every namespaced object names its
namespace, and referenced Services, ConfigMaps, Secrets and the backend's data folder exist.

units: ExecStart of each unit, with its Environment= and the example EnvironmentFile (DIR/NAME.env)
expanded as systemd expands them, is accepted by `spider ... --help`; capabilities are the role's
and no more; the stop signal is SIGINT (the only one on which the binary stops cleanly).

dockerfile: COPY sources exist, stages exist, the entry point is the copied binary, and the
runtime stage installs the Debian package of every shared library the built binary needs.

Exit status 1 and a FAIL line per problem; an `ok` line per check passed.
"""

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib

import yaml

FAILURES = []


def fail(message):
    FAILURES.append(message)
    print(f"FAIL {message}")


def ok(message):
    print(f"ok   {message}")


# ---- the binary -------------------------------------------------------------------------------

ROLES = {"backend", "gateway", "controller", "whisperer", "gocipher", "up", "analyze"}


def accepts(spider, args, where):
    """`spider ARGS --help` exits 0: clap parsed every flag and value before the help."""
    result = subprocess.run(
        [spider, *args, "--help"], capture_output=True, text=True, timeout=30
    )
    if result.returncode != 0:
        error = (result.stderr or result.stdout).strip().splitlines()
        fail(f"{where}: `spider {shlex.join(args)}` is refused: {' / '.join(error[:3])}")
        return False
    ok(f"{where}: spider {shlex.join(args)}")
    return True


# ---- manifests --------------------------------------------------------------------------------

NAMESPACED_EXCEPTIONS = {
    "Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass",
    "CustomResourceDefinition", "PriorityClass",
}
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"}
# Flags whose value is a path the process reads (r) or writes (w).
PATH_FLAGS = {
    "--config": "r", "--token-file": "r", "--ui": "r", "--kubeconfig": "r", "--pcap": "r",
    "--spill-dir": "w", "--cgroup": "r",
    "--tls-cert": "r", "--tls-key": "r", "--tls-ca": "r",
    # Paths of the backend's TOML, checked the same way.
    "[tls] cert": "r", "[tls] key": "r", "[tls] peer_ca": "r",
}
# Roles that serve Cap'n Proto (and so may hold a private key); agents and the gateway only
# verify the server and must get its certificate alone.
SERVING_ROLES = {"backend", "controller"}
LOOPBACK = ("127.", "localhost", "[::1]")
EXPECTED_CAPS = {
    "backend": set(), "gateway": set(), "controller": set(),
    "whisperer": {"NET_RAW"}, "gocipher": {"BPF", "PERFMON", "NET_ADMIN"},
}
ROOT_ROLES = {"whisperer", "gocipher"}
GOCIPHER_HOST_PATHS = {"/sys/fs/cgroup"}


def load_documents(paths):
    docs = []
    for path in paths:
        with open(path) as f:
            for doc in yaml.safe_load_all(f):
                if isinstance(doc, dict) and doc.get("kind"):
                    docs.append((path, doc))
    return docs


def repository(image):
    image = image.split("@", 1)[0]
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


def pod_spec(doc):
    kind = doc["kind"]
    if kind == "Pod":
        return doc.get("spec", {})
    if kind in WORKLOADS:
        return doc.get("spec", {}).get("template", {}).get("spec", {})
    if kind == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return None


def service_env_name(name):
    return name.upper().replace("-", "_").replace(".", "_")


class Index:
    def __init__(self, docs):
        self.services = {}
        self.configmaps = {}
        self.secrets = {}
        for _, doc in docs:
            meta = doc.get("metadata", {})
            key = (meta.get("namespace"), meta.get("name"))
            if doc["kind"] == "Service":
                self.services[key] = doc
            elif doc["kind"] == "ConfigMap":
                self.configmaps[key] = doc
            elif doc["kind"] == "Secret":
                self.secrets[key] = doc


def expand_vars(arg, env, links):
    """Kubernetes' $(VAR) expansion of container arguments; None and the name when undefined."""
    missing = []

    def sub(match):
        name = match.group(1)
        if name in env:
            return env[name]
        if name in links:
            return links[name]
        missing.append(name)
        return match.group(0)

    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", sub, arg), missing


def placeholder(name, var):
    """A plausible value for an environment variable set from the downward API or a secret."""
    if "valueFrom" not in var:
        return var.get("value", "")
    field = var["valueFrom"].get("fieldRef", {}).get("fieldPath", "")
    return {
        "spec.nodeName": "node-1",
        "metadata.name": "pod-1",
        "metadata.namespace": "ns-1",
        "status.podIP": "10.1.2.3",
        "status.hostIP": "10.0.0.1",
    }.get(field, f"value-of-{name.lower()}")


def service_links(index, namespace, spec):
    """The variables Kubernetes gives a container for each Service of its namespace."""
    if spec.get("enableServiceLinks") is False:
        return {}
    links = {}
    for (ns, name), service in index.services.items():
        if ns != namespace or service["spec"].get("clusterIP") == "None":
            continue
        prefix = service_env_name(name)
        links[f"{prefix}_SERVICE_HOST"] = "10.96.0.10"
        ports = service["spec"].get("ports", [])
        if ports:
            links[f"{prefix}_SERVICE_PORT"] = str(ports[0]["port"])
        for port in ports:
            if port.get("name"):
                links[f"{prefix}_SERVICE_PORT_{service_env_name(port['name'])}"] = str(port["port"])
    return links


def mount_for(path, container, volumes):
    """The volume mount (and its volume) under which `path` lies, the deepest one."""
    best = None
    for mount in container.get("volumeMounts", []):
        root = mount["mountPath"].rstrip("/") or "/"
        if path == root or path.startswith(root + "/"):
            if best is None or len(root) > len(best[0]["mountPath"]):
                best = (mount, volumes.get(mount["name"], {}))
    return best


def check_path(where, flag, path, container, volumes, index, namespace, image_paths, complete):
    mode = PATH_FLAGS[flag]
    found = mount_for(path, container, volumes)
    if found is None:
        if any(path == p or path.startswith(p.rstrip("/") + "/") for p in image_paths):
            ok(f"{where}: {flag} {path} is in the image")
        elif image_paths:
            fail(f"{where}: {flag} {path} is neither in a volume nor in the image")
        return
    mount, volume = found
    if mode == "w" and mount.get("readOnly"):
        fail(f"{where}: {flag} {path} must be writable, its volume is mounted read-only")
        return
    relative = os.path.relpath(path, mount["mountPath"])
    if "configMap" in volume and complete:
        name = volume["configMap"]["name"]
        cm = index.configmaps.get((namespace, name))
        if cm is None:
            fail(f"{where}: {flag} {path}: no ConfigMap {namespace}/{name}")
        elif relative not in cm.get("data", {}):
            fail(f"{where}: {flag} {path}: ConfigMap {name} has no key {relative}")
        else:
            ok(f"{where}: {flag} {path} is key {relative} of ConfigMap {name}")
    elif "secret" in volume:
        items = volume["secret"].get("items")
        if items is not None and relative not in {item["path"] for item in items}:
            fail(f"{where}: {flag} {path}: the secret volume holds no {relative}")
        else:
            ok(f"{where}: {flag} {path} is in secret {volume['secret']['secretName']}")
    else:
        ok(f"{where}: {flag} {path} is in volume {mount['name']}")


def security_of(spec, container):
    pod = spec.get("securityContext", {}) or {}
    own = container.get("securityContext", {}) or {}

    def get(key):
        return own.get(key, pod.get(key))

    return own, get


def check_security(where, role, spec, container, volumes):
    own, get = security_of(spec, container)
    problems = []
    caps = own.get("capabilities", {}) or {}
    if [c.upper() for c in caps.get("drop", [])] != ["ALL"]:
        problems.append("capabilities.drop must be [ALL]")
    added = {c.upper().removeprefix("CAP_") for c in caps.get("add", []) or []}
    if added != EXPECTED_CAPS[role]:
        problems.append(
            f"capabilities.add must be {sorted(EXPECTED_CAPS[role]) or 'empty'}, not {sorted(added)}"
        )
    if own.get("privileged"):
        problems.append("privileged")
    if own.get("allowPrivilegeEscalation") is not False:
        problems.append("allowPrivilegeEscalation must be false")
    if own.get("readOnlyRootFilesystem") is not True:
        problems.append("readOnlyRootFilesystem must be true")
    seccomp = (get("seccompProfile") or {}).get("type")
    if seccomp != "RuntimeDefault":
        problems.append(f"seccompProfile must be RuntimeDefault, not {seccomp}")
    if role in ROOT_ROLES:
        if get("runAsUser") not in (0, None) or get("runAsNonRoot"):
            problems.append("must run as root (capabilities reach root only)")
    else:
        if get("runAsNonRoot") is not True or get("runAsUser") in (0, None):
            problems.append("must run as a non-root uid (runAsNonRoot, runAsUser)")
    if spec.get("hostPID") or spec.get("hostIPC"):
        problems.append("hostPID/hostIPC")
    if spec.get("hostNetwork") and role != "gocipher":
        problems.append("hostNetwork")
    for mount in container.get("volumeMounts", []):
        host = volumes.get(mount["name"], {}).get("hostPath")
        if host is None:
            continue
        if role != "gocipher" or host["path"] not in GOCIPHER_HOST_PATHS:
            problems.append(f"host path {host['path']}")
        elif not mount.get("readOnly"):
            problems.append(f"host path {host['path']} must be mounted read-only")
    resources = container.get("resources", {})
    if not resources.get("requests") or "memory" not in resources.get("limits", {}):
        problems.append("needs resource requests and a memory limit")
    if problems:
        for problem in problems:
            fail(f"{where} ({role}): {problem}")
    else:
        ok(f"{where} ({role}): security context and resources")


def check_backend_config(where, container, volumes, index, namespace, ports, replicas=1):
    """The backend's TOML (from its ConfigMap): data_dir on a writable volume, listen on its port;
    several replicas are a cluster: etcd, one local shard per group, each pod its own node name
    and address."""
    args = container.get("args", [])
    if "--config" not in args:
        return
    path = args[args.index("--config") + 1]
    found = mount_for(path, container, volumes)
    if not found or "configMap" not in found[1]:
        return
    cm = index.configmaps.get((namespace, found[1]["configMap"]["name"]))
    if cm is None:
        return
    text = cm.get("data", {}).get(os.path.relpath(path, found[0]["mountPath"]))
    if text is None:
        return
    try:
        config = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        fail(f"{where}: {path} is not TOML: {error}")
        return
    if "admin_token" in config:
        fail(f"{where}: {path} holds the admin token: it belongs in the Secret")
    if replicas > 1:
        cluster = config.get("cluster", {})
        env = {e["name"] for e in container.get("env", [])}
        if not cluster.get("etcd"):
            fail(f"{where}: {replicas} backend nodes without [cluster] etcd: each would own "
                 f"every shard")
        elif config.get("local_shards") != cluster.get("groups", 16):
            fail(f"{where}: a cluster node needs local_shards = [cluster] groups")
        elif not {"SPIDER_BACKEND_NODE", "SPIDER_BACKEND_ADVERTISE"} <= env:
            fail(f"{where}: cluster nodes need SPIDER_BACKEND_NODE and SPIDER_BACKEND_ADVERTISE "
                 f"per pod")
        else:
            ok(f"{where}: {replicas} nodes joining through {cluster['etcd']}")
    data = config.get("data_dir", "./spider-data")
    data_mount = mount_for(data, container, volumes)
    if data_mount is None or data_mount[0].get("readOnly"):
        fail(f"{where}: data_dir {data} is not on a writable volume")
    else:
        ok(f"{where}: data_dir {data} is on volume {data_mount[0]['name']}")
    listen = config.get("listen", "127.0.0.1:7070")
    tls = config.get("tls", {})
    if tls.get("cert") and tls.get("key"):
        for key in ("cert", "key", "peer_ca"):
            if tls.get(key):
                check_path(where, f"[tls] {key}", tls[key], container, volumes, index, namespace,
                           [], True)
    elif not listen.startswith(LOOPBACK) and not tls.get("insecure_plaintext"):
        fail(f"{where}: listen {listen} in plaintext: the node refuses to start (give [tls] cert "
             f"and key, or insecure_plaintext = true)")
    host, _, port = listen.rpartition(":")
    if host in ("127.0.0.1", "localhost", "[::1]"):
        fail(f"{where}: listen {listen} is unreachable from other pods")
    elif int(port) not in ports:
        fail(f"{where}: listen {listen}: the container declares ports {sorted(ports)}")
    else:
        ok(f"{where}: listen {listen} matches a container port")


def check_transport(where, role, args, container, volumes):
    """A Controller's agents' listener is TLS (or explicitly plaintext), as the binary demands;
    a role that does not serve holds no private key."""
    if role == "controller" and "--backend" in args:
        listen = args[args.index("--listen") + 1] if "--listen" in args else "0.0.0.0:7400"
        if not listen.startswith(LOOPBACK) and "--tls-cert" not in args \
                and "--insecure-plaintext" not in args:
            fail(f"{where}: --listen {listen} in plaintext: the Controller refuses to start "
                 f"(--tls-cert/--tls-key, or --insecure-plaintext)")
        elif "--tls-cert" in args:
            ok(f"{where}: the agents' listener is TLS")
    if role in SERVING_ROLES:
        return
    for mount in container.get("volumeMounts", []):
        secret = volumes.get(mount["name"], {}).get("secret")
        if not secret:
            continue
        keys = {item["key"] for item in secret["items"]} if secret.get("items") else None
        if keys is None and secret["secretName"].endswith("-tls"):
            fail(f"{where}: mounts every key of Secret {secret['secretName']}: a {role} needs "
                 f"its tls.crt only (items)")
        elif keys is not None and "tls.key" in keys:
            fail(f"{where}: mounts tls.key of Secret {secret['secretName']}: a {role} serves nothing")


def check_backend_address(where, args, index, complete):
    """Every upstream an agent names (--backend, --controller) is a rendered Service and port."""
    if not complete:
        return
    for flag in ("--backend", "--controller"):
        if flag not in args:
            continue
        value = args[args.index(flag) + 1]
        host, _, port = value.rpartition(":")
        parts = host.split(".")
        if len(parts) >= 3 and parts[2] == "svc":
            service = index.services.get((parts[1], parts[0]))
            if service is None:
                fail(f"{where}: {flag} {value}: no Service {parts[0]} in namespace {parts[1]}")
            elif int(port) not in {p["port"] for p in service["spec"].get("ports", [])}:
                fail(f"{where}: {flag} {value}: Service {parts[0]} has no port {port}")
            else:
                ok(f"{where}: {flag} {value} is Service {parts[1]}/{parts[0]}")


def manifests(options):
    docs = load_documents(options.files)
    index = Index(docs)
    image_paths = dockerfile_paths(options.dockerfile) if options.dockerfile else []
    spider_containers = 0
    for path, doc in docs:
        kind, meta = doc["kind"], doc.get("metadata", {})
        name = meta.get("name")
        namespace = meta.get("namespace")
        where = f"{os.path.basename(path)}: {kind}/{name}"
        if options.complete and kind not in NAMESPACED_EXCEPTIONS and not namespace:
            fail(f"{where}: no namespace (it would land in the current one)")
        spec = pod_spec(doc)
        if spec is None:
            continue
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        if options.complete:
            for volume in volumes.values():
                if "configMap" in volume and (namespace, volume["configMap"]["name"]) not in index.configmaps:
                    fail(f"{where}: ConfigMap {volume['configMap']['name']} is not defined")
                secret = volume.get("secret", {}).get("secretName")
                if secret and (namespace, secret) not in index.secrets and secret not in options.external_secret:
                    fail(f"{where}: Secret {secret} is neither defined nor one the operator creates")
        links = service_links(index, namespace, spec)
        for container in spec.get("initContainers", []) + spec.get("containers", []):
            image = container.get("image", "")
            if repository(image) not in ("spider", "spider-gateway"):
                continue
            spider_containers += 1
            cwhere = f"{where}/{container['name']}"
            if container.get("command"):
                fail(f"{cwhere}: sets `command`: the image's entry point (dumb-init, spider) is needed")
                continue
            raw = [str(a) for a in container.get("args", [])]
            if not raw or raw[0] not in ROLES:
                fail(f"{cwhere}: the first argument must be the role, not {raw[:1]}")
                continue
            role = raw[0]
            env = {v["name"]: placeholder(v["name"], v) for v in container.get("env", [])}
            for var in container.get("env", []):
                ref = var.get("valueFrom", {}).get("secretKeyRef")
                if options.complete and ref and (namespace, ref["name"]) not in index.secrets \
                        and ref["name"] not in options.external_secret:
                    fail(f"{cwhere}: Secret {ref['name']} is neither defined nor one the operator creates")
            args = []
            for arg in raw:
                value, missing = expand_vars(arg, env, links)
                for var in missing:
                    fail(f"{cwhere}: $({var}) is neither in the container's env nor a Service's variable")
                args.append(value)
            accepts(options.spider, args, cwhere)
            for i, arg in enumerate(args[:-1]):
                if arg in PATH_FLAGS:
                    check_path(cwhere, arg, args[i + 1], container, volumes, index, namespace,
                               image_paths, options.complete)
            if role in EXPECTED_CAPS:
                check_security(cwhere, role, spec, container, volumes)
            check_transport(cwhere, role, args, container, volumes)
            check_backend_address(cwhere, args, index, options.complete)
            if role == "backend" and options.complete:
                ports = {p["containerPort"] for p in container.get("ports", [])}
                replicas = doc.get("spec", {}).get("replicas", 1)
                check_backend_config(cwhere, container, volumes, index, namespace, ports, replicas)
    if spider_containers == 0 and options.expect_containers:
        fail(f"no Spider container in {', '.join(options.files)}")


# ---- systemd units ----------------------------------------------------------------------------

UNIT_CAPS = {
    "whisperer": {"CAP_NET_RAW"},
    "gocipher": {"CAP_BPF", "CAP_PERFMON", "CAP_NET_ADMIN"},
    "backend": set(),
    "gateway": set(),
}


def parse_unit(path):
    entries = []
    section = None
    with open(path) as f:
        text = f.read().replace("\\\n", " ")
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        entries.append((section, key.strip(), value.strip()))
    return entries


def parse_env_file(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(("#", ";")):
                continue
            key, _, value = line.partition("=")
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            env[key.strip()] = value
    return env


def expand_exec(unit, tokens, env):
    specifiers = {
        "%d": f"/run/credentials/{unit}", "%C": "/var/cache", "%S": "/var/lib", "%t": "/run",
        "%n": unit, "%N": unit.removesuffix(".service"), "%%": "%",
    }
    out, missing = [], []

    def specifier(token):
        return re.sub(r"%[dCStnN%]", lambda m: specifiers[m.group(0)], token)

    for token in tokens:
        bare = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", token)
        if bare:
            name = bare.group(1)
            if name not in env:
                missing.append(name)
            out.extend(env.get(name, "").split())
            continue

        def sub(match):
            name = match.group(1)
            if name not in env:
                missing.append(name)
            return env.get(name, "")

        out.append(specifier(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", sub, token)))
    return out, missing


def units(options):
    for path in options.files:
        before = len(FAILURES)
        unit = os.path.basename(path)
        role = unit.removeprefix("spider-").removesuffix(".service")
        entries = parse_unit(path)
        service = [(k, v) for s, k, v in entries if s == "Service"]
        env = {}
        for key, value in service:
            if key == "Environment":
                for assignment in shlex.split(value):
                    name, _, val = assignment.partition("=")
                    env[name] = val
            elif key == "EnvironmentFile":
                example = os.path.join(options.env_dir, os.path.basename(value.lstrip("-")))
                if os.path.exists(example):
                    env.update(parse_env_file(example))
                    ok(f"{unit}: example environment {os.path.relpath(example)}")
                elif not value.startswith("-"):
                    fail(f"{unit}: EnvironmentFile {value} has no example {example}")
        execs = [v for k, v in service if k == "ExecStart"]
        if len(execs) != 1:
            fail(f"{unit}: {len(execs)} ExecStart lines")
            continue
        tokens = shlex.split(execs[0])
        if tokens[0] != "/usr/local/bin/spider":
            fail(f"{unit}: runs {tokens[0]}, not /usr/local/bin/spider (the install steps' path)")
        args, missing = expand_exec(unit, tokens[1:], env)
        for name in missing:
            fail(f"{unit}: ExecStart uses ${name}, set by neither Environment= nor the example file")
        if not args or args[0] != role:
            fail(f"{unit}: runs `spider {args[:1]}`, not the role {role}")
        accepts(options.spider, args, unit)
        values = {}
        for key, value in service:
            values.setdefault(key, []).append(value)
        bounding = set(" ".join(values.get("CapabilityBoundingSet", [""])).split())
        if role in UNIT_CAPS and bounding != UNIT_CAPS[role]:
            fail(f"{unit}: CapabilityBoundingSet must be {sorted(UNIT_CAPS[role]) or 'empty'}, not {sorted(bounding)}")
        ambient = set(" ".join(values.get("AmbientCapabilities", [""])).split())
        user = values.get("User", [""])[-1]
        if role in UNIT_CAPS and user != "root" and ambient != UNIT_CAPS[role]:
            fail(f"{unit}: AmbientCapabilities must be {sorted(UNIT_CAPS[role]) or 'empty'} (not root)")
        for key, expected in (("KillSignal", "SIGINT"), ("NoNewPrivileges", "yes"),
                              ("ProtectSystem", "strict")):
            if values.get(key, [""])[-1] != expected:
                fail(f"{unit}: {key}={expected} is needed")
        if role != "gocipher" and values.get("DynamicUser", [""])[-1] != "yes":
            fail(f"{unit}: DynamicUser=yes is needed (only the Gocipher must be root)")
        if len(FAILURES) == before:
            ok(f"{unit}: capabilities, user, stop signal, sandbox")


# ---- Dockerfile -------------------------------------------------------------------------------


def dockerfile_instructions(path):
    with open(path) as f:
        text = f.read()
    text = re.sub(r"\\\n", " ", text)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def dockerfile_paths(path):
    """What the images hold: destinations of COPY and of `install -d`."""
    paths = []
    for word, rest in dockerfile_instructions(path):
        if word == "COPY" and shlex.split(rest)[-1].startswith("/"):
            paths.append(shlex.split(rest)[-1])
        elif word == "RUN":
            for match in re.finditer(r"install -d(?: -\S+ \S+)* (/\S+)", rest):
                paths.append(match.group(1))
    return paths


def dockerfile(options):
    path = options.files[0]
    instructions = dockerfile_instructions(path)
    stages, current, runtime_packages, entrypoint, copies = [], None, [], None, []
    args = {}
    for word, rest in instructions:
        if word == "ARG":
            name, _, default = rest.partition("=")
            args[name] = default
        elif word == "FROM":
            parts = rest.split()
            current = parts[-1] if len(parts) >= 3 and parts[-2].upper() == "AS" else None
            base = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), ""), parts[0])
            if parts[0].split(":")[0] not in stages and "/" not in base and ":" not in base:
                fail(f"Dockerfile: FROM {parts[0]}: neither a stage nor a tagged image")
            if current:
                stages.append(current)
        elif word == "COPY":
            tokens = shlex.split(rest)
            flags = [t for t in tokens if t.startswith("--")]
            sources = [t for t in tokens if not t.startswith("--")][:-1]
            source_stage = next((f.split("=", 1)[1] for f in flags if f.startswith("--from=")), None)
            if source_stage is not None:
                if source_stage not in stages:
                    fail(f"Dockerfile: COPY --from={source_stage}: no such stage before it")
            else:
                for source in sources:
                    if not os.path.exists(os.path.join(options.root, source)):
                        fail(f"Dockerfile: COPY {source}: not in the build context")
            copies.append(tokens[-1])
        elif word == "RUN" and current == "runtime":
            for match in re.finditer(r"apt-get install ((?:-\S+ )*)(.*?)(?:&&|$)", rest):
                runtime_packages += [p for p in match.group(2).split() if not p.startswith("-")]
        elif word == "ENTRYPOINT":
            entrypoint = yaml.safe_load(rest)
    for stage in ("runtime", "gateway", "spider"):
        if stage not in stages:
            fail(f"Dockerfile: no stage {stage}")
    if stages and stages[-1] != "spider":
        fail("Dockerfile: the last stage (the default image) must be `spider`")
    if not entrypoint or "/usr/local/bin/spider" not in entrypoint:
        fail(f"Dockerfile: the entry point {entrypoint} does not run /usr/local/bin/spider")
    elif "/usr/local/bin/spider" not in copies:
        fail("Dockerfile: nothing is copied to /usr/local/bin/spider")
    else:
        ok(f"Dockerfile: stages {', '.join(stages)}; entry point {' '.join(entrypoint)}")
    if entrypoint and "--rewrite" in entrypoint and "15:2" not in entrypoint:
        fail("Dockerfile: dumb-init must turn SIGTERM (15) into SIGINT (2)")
    # The libraries of the binary, by Debian package, against what the runtime stage installs.
    release = args.get("DEBIAN_RELEASE", "")
    try:
        with open("/etc/os-release") as f:
            codename = dict(
                line.strip().split("=", 1) for line in f if "=" in line
            ).get("VERSION_CODENAME", "").strip('"')
    except OSError:
        codename = ""
    if codename != release or not shutil.which("dpkg") or not shutil.which("readelf"):
        print(f"skip Dockerfile runtime libraries: this host is not Debian {release} with dpkg")
        return
    needed = subprocess.run(["readelf", "-d", options.spider], capture_output=True, text=True,
                            check=True).stdout
    base = {"libc6", "libgcc-s1"}  # in debian:*-slim
    for lib in re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", needed):
        owners = subprocess.run(["dpkg", "-S", f"*/{lib}"], capture_output=True, text=True).stdout
        packages = {
            line.split(":")[0] for line in owners.splitlines()
            if not re.search(r"-dev|i386|lib32|libx32", line)
        }
        if not packages:
            fail(f"Dockerfile: no Debian package holds {lib} on this host")
        elif packages & (set(runtime_packages) | base):
            ok(f"Dockerfile: {lib} comes with {', '.join(sorted(packages))}")
        else:
            fail(f"Dockerfile: the runtime stage lacks {lib} (package {', '.join(sorted(packages))})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["manifests", "units", "dockerfile"])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--spider", required=True)
    parser.add_argument("--complete", action="store_true")
    parser.add_argument("--expect-containers", action="store_true")
    parser.add_argument("--dockerfile")
    parser.add_argument("--external-secret", action="append", default=[])
    parser.add_argument("--env-dir", default=".")
    parser.add_argument("--root", default=".")
    options = parser.parse_args()
    {"manifests": manifests, "units": units, "dockerfile": dockerfile}[options.what](options)
    if FAILURES:
        print(f"{len(FAILURES)} problem(s)")
        sys.exit(1)


if __name__ == "__main__":
    main()
