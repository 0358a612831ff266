#!/usr/bin/env python3
"""Writes the Kubernetes fixtures of the Controller's tests (objects as an API server returns
them: metadata with uid, resourceVersion, creationTimestamp, owner references; spec and status
as the control plane and the kubelets fill them).

    python3 testdata/k8s/make_fixtures.py     # rewrites cluster/, rollout/, scale/, ipreuse/

The cluster: 3 nodes (node-a/b/c, 10.0.0.11-13, pod CIDRs 10.244.0-2.0/24); namespaces default,
kube-system, shop, batch; a Deployment (shop/web, 2 replicas through a ReplicaSet), a
StatefulSet (shop/db), DaemonSets (kube-system/node-agent; kube-system/kube-proxy on the host
network), a CronJob (batch/report) with its Job and pod, a Job of its own (batch/migrate), a
bare pod (default/debug), a mirror pod (kube-system/etcd-node-a), Services with their
EndpointSlices. rollout/: web's second revision. scale/: a third web replica. ipreuse/: a new
report pod that gets web-6b7f9c7d5-k2x8p's IP after that pod is gone. agents/: Spider's own
agents: a Gocipher DaemonSet (namespace spider) with a pod on node-a and node-b, a shop pod with a
Whisperer sidecar (Spider's image), one with a native sidecar (an init container that keeps
running), one labelled spider.dev/role=whisperer with an image of its own, and two look-alikes
that are not agents (a container named whisperer on busybox; Spider's image running the backend).
"""

import hashlib
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
T0 = "2025-04-23T12:00:00Z"
NODES = [("node-a", "10.0.0.11", "10.244.0.0/24"), ("node-b", "10.0.0.12", "10.244.1.0/24"),
         ("node-c", "10.0.0.13", "10.244.2.0/24")]
NODE_IP = {n: ip for n, ip, _ in NODES}
RV = [41000]


def uid(name):
    h = hashlib.sha1(name.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"


def meta(kind, name, namespace=None, labels=None, created=T0, owner=None, extra=None):
    RV[0] += 7
    m = {"name": name}
    if namespace:
        m["namespace"] = namespace
    m["uid"] = uid(f"{kind}/{namespace}/{name}")
    m["resourceVersion"] = str(RV[0])
    m["creationTimestamp"] = created
    if labels:
        m["labels"] = labels
    if owner:
        api, okind, oname, ons = owner
        m["ownerReferences"] = [{"apiVersion": api, "kind": okind, "name": oname,
                                 "uid": uid(f"{okind}/{ons}/{oname}"), "controller": True,
                                 "blockOwnerDeletion": True}]
    if extra:
        m.update(extra)
    return m


def node(name, ip, cidr):
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": meta("Node", name, labels={
                "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64"}, extra={"annotations": {
                    "node.alpha.kubernetes.io/ttl": "0",
                    "volumes.kubernetes.io/controller-managed-attach-detach": "true"}}),
            "spec": {"podCIDR": cidr, "podCIDRs": [cidr], "providerID": f"kind://docker/spider/{name}"},
            "status": {
                "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
                "allocatable": {"cpu": "4", "ephemeral-storage": "101430960Ki", "memory": "16283220Ki", "pods": "110"},
                "capacity": {"cpu": "4", "ephemeral-storage": "101430960Ki", "memory": "16385620Ki", "pods": "110"},
                "conditions": [
                    {"type": "MemoryPressure", "status": "False", "lastHeartbeatTime": T0, "lastTransitionTime": T0,
                     "reason": "KubeletHasSufficientMemory", "message": "kubelet has sufficient memory available"},
                    {"type": "DiskPressure", "status": "False", "lastHeartbeatTime": T0, "lastTransitionTime": T0,
                     "reason": "KubeletHasNoDiskPressure", "message": "kubelet has no disk pressure"},
                    {"type": "PIDPressure", "status": "False", "lastHeartbeatTime": T0, "lastTransitionTime": T0,
                     "reason": "KubeletHasSufficientPID", "message": "kubelet has sufficient PID available"},
                    {"type": "Ready", "status": "True", "lastHeartbeatTime": T0, "lastTransitionTime": T0,
                     "reason": "KubeletReady", "message": "kubelet is posting ready status"}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": {"machineID": hashlib.md5(name.encode()).hexdigest(),
                             "systemUUID": uid("sys" + name), "bootID": uid("boot" + name),
                             "kernelVersion": "6.12.0-1-amd64", "osImage": "Debian GNU/Linux 12 (bookworm)",
                             "containerRuntimeVersion": "containerd://2.0.3", "kubeletVersion": "v1.33.0",
                             "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": "amd64"}}}


def namespace(name):
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": meta("Namespace", name, labels={"kubernetes.io/metadata.name": name}),
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}


def container(name, image, port=None):
    c = {"name": name, "image": image, "resources": {}, "terminationMessagePath": "/dev/termination-log",
         "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"}
    if port:
        c["ports"] = [{"containerPort": port, "protocol": "TCP"}]
    return c


def pod_template(labels, image, port=None, name="main", host_network=False):
    spec = {"containers": [container(name, image, port)], "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst", "securityContext": {},
            "schedulerName": "default-scheduler"}
    if host_network:
        spec["hostNetwork"] = True
        spec["dnsPolicy"] = "ClusterFirstWithHostNet"
    return {"metadata": {"labels": labels}, "spec": spec}


def pod(name, ns, node_name, ip, labels, image, owner=None, port=None, created=T0, phase="Running",
        host_network=False, generate=None, extra_meta=None, cname="main"):
    host_ip = NODE_IP[node_name]
    ip = host_ip if host_network else ip
    extra = {"generateName": generate} if generate else {}
    if extra_meta:
        extra.update(extra_meta)
    spec = {"volumes": [{"name": "kube-api-access", "projected": {"sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}],
                "defaultMode": 420}}],
            "containers": [dict(container(cname, image, port), volumeMounts=[
                {"name": "kube-api-access", "readOnly": True,
                 "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}])],
            "restartPolicy": "Always" if not owner or owner[1] != "Job" else "Never",
            "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default", "serviceAccount": "default", "nodeName": node_name,
            "securityContext": {}, "schedulerName": "default-scheduler",
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}],
            "priority": 0, "enableServiceLinks": True, "preemptionPolicy": "PreemptLowerPriority"}
    if host_network:
        spec["hostNetwork"] = True
        spec["dnsPolicy"] = "ClusterFirstWithHostNet"
    ready = "True" if phase == "Running" else "False"
    status = {"phase": phase, "conditions": [
                {"type": "PodReadyToStartContainers", "status": "True", "lastProbeTime": None, "lastTransitionTime": created},
                {"type": "Initialized", "status": "True", "lastProbeTime": None, "lastTransitionTime": created},
                {"type": "Ready", "status": ready, "lastProbeTime": None, "lastTransitionTime": created},
                {"type": "ContainersReady", "status": ready, "lastProbeTime": None, "lastTransitionTime": created},
                {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": created}],
              "hostIP": host_ip, "hostIPs": [{"ip": host_ip}], "podIP": ip, "podIPs": [{"ip": ip}],
              "startTime": created,
              "containerStatuses": [{"name": cname, "state": {"running": {"startedAt": created}}, "lastState": {},
                                     "ready": phase == "Running", "restartCount": 0, "image": "docker.io/library/" + image,
                                     "imageID": "docker.io/library/" + image.split(":")[0] + "@sha256:" + hashlib.sha256(image.encode()).hexdigest(),
                                     "containerID": "containerd://" + hashlib.sha256((ns + name).encode()).hexdigest(),
                                     "started": phase == "Running"}],
              "qosClass": "BestEffort"}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": meta("Pod", name, ns, labels, created, owner, extra), "spec": spec, "status": status}


def replicaset(name, ns, deploy, labels, replicas, image, port, revision, created=T0):
    h = name.rsplit("-", 1)[1]
    lab = dict(labels, **{"pod-template-hash": h})
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": meta("ReplicaSet", name, ns, lab, created, ("apps/v1", "Deployment", deploy, ns),
                             {"annotations": {"deployment.kubernetes.io/desired-replicas": "2",
                                              "deployment.kubernetes.io/max-replicas": "3",
                                              "deployment.kubernetes.io/revision": str(revision)}, "generation": revision}),
            "spec": {"replicas": replicas, "selector": {"matchLabels": lab},
                     "template": pod_template(lab, image, port, "web")},
            "status": {"replicas": replicas, "fullyLabeledReplicas": replicas, "readyReplicas": replicas,
                       "availableReplicas": replicas, "observedGeneration": revision}}


def deployment(name, ns, labels, replicas, image, port, generation=1):
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": meta("Deployment", name, ns, labels, T0, None,
                             {"annotations": {"deployment.kubernetes.io/revision": str(generation)}, "generation": generation}),
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": pod_template(labels, image, port, "web"),
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                     "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600},
            "status": {"observedGeneration": generation, "replicas": replicas, "updatedReplicas": replicas,
                       "readyReplicas": replicas, "availableReplicas": replicas,
                       "conditions": [{"type": "Available", "status": "True", "lastUpdateTime": T0, "lastTransitionTime": T0,
                                       "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability."}]}}


def daemonset(name, ns, labels, image, host_network=False):
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": meta("DaemonSet", name, ns, labels, T0, None, {"generation": 1}),
            "spec": {"selector": {"matchLabels": labels}, "template": pod_template(labels, image, None, name, host_network),
                     "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
                     "revisionHistoryLimit": 10},
            "status": {"currentNumberScheduled": 3, "numberMisscheduled": 0, "desiredNumberScheduled": 3,
                       "numberReady": 3, "observedGeneration": 1, "updatedNumberScheduled": 3, "numberAvailable": 3}}


def statefulset(name, ns, labels, replicas, image, port):
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": meta("StatefulSet", name, ns, labels, T0, None, {"generation": 1}),
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "serviceName": name,
                     "template": pod_template(labels, image, port, name), "podManagementPolicy": "OrderedReady",
                     "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                     "revisionHistoryLimit": 10, "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"}},
            "status": {"observedGeneration": 1, "replicas": replicas, "readyReplicas": replicas, "currentReplicas": replicas,
                       "updatedReplicas": replicas, "currentRevision": f"{name}-7c9b5d8f6", "updateRevision": f"{name}-7c9b5d8f6",
                       "collisionCount": 0, "availableReplicas": replicas}}


def job_template(labels, image):
    t = pod_template(labels, image, None, "report")
    t["spec"]["restartPolicy"] = "Never"
    return t


def cronjob(name, ns, image):
    labels = {"app": name}
    return {"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": meta("CronJob", name, ns, labels, T0, None, {"generation": 1}),
            "spec": {"schedule": "*/30 * * * *", "concurrencyPolicy": "Allow", "suspend": False,
                     "jobTemplate": {"metadata": {}, "spec": {"template": job_template(labels, image)}},
                     "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1},
            "status": {"lastScheduleTime": T0}}


def job(name, ns, image, owner=None, created=T0):
    u = uid(f"Job/{ns}/{name}")
    labels = {"batch.kubernetes.io/controller-uid": u, "batch.kubernetes.io/job-name": name,
              "controller-uid": u, "job-name": name}
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": meta("Job", name, ns, labels, created, owner, {"generation": 1}),
            "spec": {"parallelism": 1, "completions": 1, "backoffLimit": 6, "completionMode": "NonIndexed",
                     "suspend": False, "podReplacementPolicy": "TerminatingOrFailed", "manualSelector": False,
                     "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": u}},
                     "template": job_template(labels, image)},
            "status": {"startTime": created, "active": 1, "ready": 1, "terminating": 0,
                       "uncountedTerminatedPods": {}}}


def service(name, ns, cluster_ip, port, target, selector, headless=False):
    spec = {"ports": [{"name": "http" if port != 443 else "https", "protocol": "TCP", "port": port, "targetPort": target}],
            "type": "ClusterIP", "sessionAffinity": "None", "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack", "internalTrafficPolicy": "Cluster"}
    if selector:
        spec["selector"] = selector
    spec["clusterIP"] = "None" if headless else cluster_ip
    spec["clusterIPs"] = ["None" if headless else cluster_ip]
    labels = {"component": "apiserver", "provider": "kubernetes"} if name == "kubernetes" else {"app": name}
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta("Service", name, ns, labels),
            "spec": spec, "status": {"loadBalancer": {}}}


def slice_(service_name, ns, port, pods):
    name = service_name + "-" + hashlib.sha1(service_name.encode()).hexdigest()[:5]
    endpoints = []
    for p in pods:
        e = {"addresses": [p["status"]["podIP"]],
             "conditions": {"ready": True, "serving": True, "terminating": False},
             "nodeName": p["spec"]["nodeName"]}
        if "metadata" in p:
            e["targetRef"] = {"kind": "Pod", "namespace": ns, "name": p["metadata"]["name"], "uid": p["metadata"]["uid"]}
        endpoints.append(e)
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": meta("EndpointSlice", name, ns,
                             {"endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                              "kubernetes.io/service-name": service_name},
                             T0, ("v1", "Service", service_name, ns),
                             {"generateName": service_name + "-", "generation": 1}),
            "addressType": "IPv4", "endpoints": endpoints,
            "ports": [{"name": "http" if port != 6443 else "https", "protocol": "TCP", "port": port}]}


def write(folder, name, obj):
    os.makedirs(os.path.join(HERE, folder), exist_ok=True)
    with open(os.path.join(HERE, folder, name + ".json"), "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def write_all(folder, prefix, items):
    """One object per file (so that each validates on its own), applied in file name order."""
    for obj in items:
        m = obj["metadata"]
        name = "-".join(p for p in [prefix, obj["kind"].lower(), m.get("namespace"), m["name"]] if p)
        write(folder, name, obj)


def main():
    web = {"app": "web"}
    rs1 = "web-6b7f9c7d5"
    rs2 = "web-5d8c6b9f4"
    web_pods = [pod(f"{rs1}-k2x8p", "shop", "node-a", "10.244.0.10", dict(web, **{"pod-template-hash": "6b7f9c7d5"}),
                    "nginx:1.27", ("apps/v1", "ReplicaSet", rs1, "shop"), 8080, generate=rs1 + "-", cname="web"),
                pod(f"{rs1}-q9z4m", "shop", "node-b", "10.244.1.10", dict(web, **{"pod-template-hash": "6b7f9c7d5"}),
                    "nginx:1.27", ("apps/v1", "ReplicaSet", rs1, "shop"), 8080, generate=rs1 + "-", cname="web")]
    db_pods = [pod(f"db-{i}", "shop", n, ip, {"app": "db", "apps.kubernetes.io/pod-index": str(i),
                                             "statefulset.kubernetes.io/pod-name": f"db-{i}",
                                             "controller-revision-hash": "db-7c9b5d8f6"},
                   "postgres:17", ("apps/v1", "StatefulSet", "db", "shop"), 5432, cname="db")
               for i, (n, ip) in enumerate([("node-b", "10.244.1.20"), ("node-c", "10.244.2.20")])]
    agents = [pod(f"node-agent-{s}", "kube-system", n, f"10.244.{i}.2",
                  {"app": "node-agent", "controller-revision-hash": "5f8d7b6c9d", "pod-template-generation": "1"},
                  "busybox:1.37", ("apps/v1", "DaemonSet", "node-agent", "kube-system"), generate="node-agent-", cname="node-agent")
              for i, (n, s) in enumerate([("node-a", "7hq2v"), ("node-b", "b4k9s"), ("node-c", "x2m8d")])]
    proxies = [pod(f"kube-proxy-{s}", "kube-system", n, None,
                   {"k8s-app": "kube-proxy", "controller-revision-hash": "6c8f9d7b5", "pod-template-generation": "1"},
                   "kube-proxy:v1.33.0", ("apps/v1", "DaemonSet", "kube-proxy", "kube-system"), host_network=True,
                   generate="kube-proxy-", cname="kube-proxy")
               for n, s in [("node-a", "p5w7r"), ("node-b", "t8c3n"), ("node-c", "z6j4f")]]
    etcd = pod("etcd-node-a", "kube-system", "node-a", None, {"component": "etcd", "tier": "control-plane"},
               "etcd:3.5.21-0", ("v1", "Node", "node-a", None), host_network=True,
               extra_meta={"annotations": {"kubernetes.io/config.source": "file", "kubernetes.io/config.mirror": "3b1f0c9a2e"}},
               cname="etcd")
    etcd["metadata"]["ownerReferences"][0]["uid"] = uid("Node/None/node-a")
    etcd["metadata"]["ownerReferences"][0].pop("blockOwnerDeletion")
    report_job = "report-29091600"
    report_pod = pod(f"{report_job}-7xk2p", "batch", "node-c", "10.244.2.30",
                     {"batch.kubernetes.io/controller-uid": uid(f"Job/batch/{report_job}"), "job-name": report_job,
                      "batch.kubernetes.io/job-name": report_job, "controller-uid": uid(f"Job/batch/{report_job}")},
                     "python:3.13", ("batch/v1", "Job", report_job, "batch"), generate=report_job + "-", cname="report")
    migrate_pod = pod("migrate-8fj3d", "batch", "node-a", "10.244.0.30",
                      {"batch.kubernetes.io/controller-uid": uid("Job/batch/migrate"), "job-name": "migrate",
                       "batch.kubernetes.io/job-name": "migrate", "controller-uid": uid("Job/batch/migrate")},
                      "python:3.13", ("batch/v1", "Job", "migrate", "batch"), generate="migrate-", cname="report")
    debug = pod("debug", "default", "node-c", "10.244.2.40", {"run": "debug"}, "busybox:1.37", cname="debug")

    write_all("cluster", "00", ([node(*n) for n in NODES]))
    write_all("cluster", "01", ([namespace(n) for n in ["default", "kube-system", "shop", "batch"]]))
    write_all("cluster", "10", ([
        deployment("web", "shop", web, 2, "nginx:1.27", 8080),
        replicaset(rs1, "shop", "web", web, 2, "nginx:1.27", 8080, 1),
        statefulset("db", "shop", {"app": "db"}, 2, "postgres:17", 5432),
        daemonset("node-agent", "kube-system", {"app": "node-agent"}, "busybox:1.37"),
        daemonset("kube-proxy", "kube-system", {"k8s-app": "kube-proxy"}, "kube-proxy:v1.33.0", True),
        cronjob("report", "batch", "python:3.13"),
        job(report_job, "batch", "python:3.13", ("batch/v1", "CronJob", "report", "batch")),
        job("migrate", "batch", "python:3.13")]))
    write_all("cluster", "20", (web_pods + db_pods + agents + proxies + [etcd, report_pod, migrate_pod, debug]))
    write_all("cluster", "30", ([
        service("kubernetes", "default", "10.96.0.1", 443, 6443, None),
        service("web", "shop", "10.96.100.10", 80, 8080, web),
        service("db", "shop", None, 5432, 5432, {"app": "db"}, headless=True),
        slice_("kubernetes", "default", 6443, [{"status": {"podIP": "10.0.0.11"}, "spec": {"nodeName": "node-a"}}]),
        slice_("web", "shop", 8080, web_pods),
        slice_("db", "shop", 5432, db_pods)]))

    # Revision 2 of web: a new ReplicaSet and its pods; the old pods go, the old ReplicaSet is scaled to 0.
    t1 = "2025-04-23T12:20:00Z"
    new_pods = [pod(f"{rs2}-{s}", "shop", n, ip, dict(web, **{"pod-template-hash": "5d8c6b9f4"}), "nginx:1.28",
                    ("apps/v1", "ReplicaSet", rs2, "shop"), 8080, created=t1, generate=rs2 + "-", cname="web")
                for n, ip, s in [("node-c", "10.244.2.11", "w8n4t"), ("node-a", "10.244.0.12", "c3v7x")]]
    write_all("rollout", "10", ([replicaset(rs2, "shop", "web", web, 2, "nginx:1.28", 8080, 2, t1),
                                           replicaset(rs1, "shop", "web", web, 0, "nginx:1.27", 8080, 1)]))
    write_all("rollout", "20", (new_pods))
    write_all("rollout", "30", [deployment("web", "shop", web, 2, "nginx:1.28", 8080, 2)])

    # A third replica of web (scale up to 3).
    write_all("scale", "20", ([pod(f"{rs1}-r7t2w", "shop", "node-c", "10.244.2.12",
                                       dict(web, **{"pod-template-hash": "6b7f9c7d5"}), "nginx:1.27",
                                       ("apps/v1", "ReplicaSet", rs1, "shop"), 8080, created="2025-04-23T12:05:00Z",
                                       generate=rs1 + "-", cname="web")]))
    # The next report Job's pod, scheduled on node-a, gets 10.244.0.10 (web-...-k2x8p's, gone at 12:10:20).
    t2 = "2025-04-23T12:30:05Z"
    job2 = "report-29091630"
    write_all("ipreuse", "10", [job(job2, "batch", "python:3.13", ("batch/v1", "CronJob", "report", "batch"), t2)])
    write_all("ipreuse", "20", [pod(f"{job2}-h5m2c", "batch", "node-a", "10.244.0.10",
                                   {"batch.kubernetes.io/controller-uid": uid(f"Job/batch/{job2}"), "job-name": job2,
                                    "batch.kubernetes.io/job-name": job2, "controller-uid": uid(f"Job/batch/{job2}")},
                                   "python:3.13", ("batch/v1", "Job", job2, "batch"), created=t2,
                                   generate=job2 + "-", cname="report")])

    # Spider's agents (written last: the resource versions above do not move).
    spider_image = "ghcr.io/acme/spider:0.1.0"

    def add_container(p, c, init=False):
        key = "initContainers" if init else "containers"
        p["spec"].setdefault(key, []).append(c)
        status_key = "initContainerStatuses" if init else "containerStatuses"
        p["status"].setdefault(status_key, []).append(
            {"name": c["name"], "state": {"running": {"startedAt": T0}}, "lastState": {}, "ready": True,
             "restartCount": 0, "image": c["image"],
             "imageID": c["image"].split(":")[0] + "@sha256:" + hashlib.sha256(c["image"].encode()).hexdigest(),
             "containerID": "containerd://" + hashlib.sha256((p["metadata"]["name"] + c["name"]).encode()).hexdigest(),
             "started": True})
        return p

    gocipher_labels = {"app.kubernetes.io/name": "spider-gocipher"}
    gociphers = []
    for n, sfx in [("node-a", "q7m2x"), ("node-b", "z4k8w")]:
        g = pod(f"spider-gocipher-{sfx}", "spider", n, None,
                dict(gocipher_labels, **{"controller-revision-hash": "7b9c5d6f8", "pod-template-generation": "1"}),
                spider_image, ("apps/v1", "DaemonSet", "spider-gocipher", "spider"), host_network=True,
                generate="spider-gocipher-", cname="gocipher")
        g["spec"]["containers"][0]["command"] = ["spider", "gocipher"]
        g["spec"]["containers"][0]["args"] = ["--controller", "spider-controller.spider:7100"]
        gociphers.append(g)
    gds = daemonset("spider-gocipher", "spider", gocipher_labels, spider_image, True)
    gds["spec"]["template"]["spec"]["containers"][0]["command"] = ["spider", "gocipher"]

    def whisperer(name="whisperer", image=spider_image):
        return dict(container(name, image), args=["whisperer", "--backend", "spider-backend.spider:7000"])

    sidecar = add_container(pod("checkout", "shop", "node-a", "10.244.0.50", {"app": "checkout"}, "nginx:1.27",
                                port=8080, cname="checkout"), whisperer())
    native = add_container(pod("cart", "shop", "node-b", "10.244.1.50", {"app": "cart"}, "nginx:1.27", port=8080,
                               cname="cart"),
                           dict(container("spider", spider_image), command=["/usr/local/bin/spider", "whisperer"],
                                restartPolicy="Always"), init=True)
    labelled = add_container(pod("search", "shop", "node-c", "10.244.2.50",
                                 {"app": "search", "spider.dev/role": "whisperer"}, "nginx:1.27", port=8080,
                                 cname="search"),
                             container("spider-whisperer", "registry.example.com/ops/capture:2.3"))
    lookalike = add_container(pod("ledger", "shop", "node-c", "10.244.2.51", {"app": "ledger"}, "nginx:1.27",
                                  port=8080, cname="ledger"), container("whisperer", "busybox:1.37"))
    backend = pod("spider-backend-0", "spider", "node-a", "10.244.0.51", {"app": "spider-backend"}, spider_image,
                  port=7000, cname="backend")
    backend["spec"]["containers"][0]["args"] = ["backend", "--listen", "0.0.0.0:7000"]
    write_all("agents", "01", [namespace("spider")])
    write_all("agents", "10", [gds])
    write_all("agents", "20", gociphers + [sidecar, native, labelled, lookalike, backend])


if __name__ == "__main__":
    main()
