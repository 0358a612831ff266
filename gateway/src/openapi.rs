//! The OpenAPI 3.0 document of the REST API, served at `/api/v1/openapi.json`.

use serde_json::{json, Value};

fn param(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": {"type": "string"}})
}

fn path_param(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": description, "schema": {"type": "string"}})
}

fn list_params() -> Vec<Value> {
    vec![
        param(
            "q",
            "A query in the search language (see /api/v1/query/fields).",
        ),
        param(
            "from",
            "Start of the range: RFC 3339 or epoch milliseconds. Default: the beginning.",
        ),
        param(
            "to",
            "End of the range (excluded): RFC 3339 or epoch milliseconds. Default: the end.",
        ),
        param("limit", "Items per page, 1 to 1000 (default 100)."),
        param("cursor", "The `next` of the previous page."),
        param(
            "whisperer",
            "Only these Whisperers (names separated by commas).",
        ),
    ]
}

fn errors() -> Value {
    let error = json!({"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    json!({
        "400": error, "401": error, "403": error, "404": error, "502": error, "504": error,
    })
}

fn ok(description: &str, schema: Value) -> Value {
    let mut responses = errors();
    responses["200"] =
        json!({"description": description, "content": {"application/json": {"schema": schema}}});
    responses
}

fn get(summary: &str, parameters: Vec<Value>, responses: Value) -> Value {
    json!({"get": {"summary": summary, "parameters": parameters, "responses": responses}})
}

fn page_of(item: &str) -> Value {
    json!({
        "type": "object",
        "required": ["items", "next"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}},
            "next": {"type": "string", "nullable": true},
            "missing_shards": {"type": "array", "items": {"type": "integer"}},
        }
    })
}

fn record(kind: &str, required: &[&str]) -> Value {
    json!({
        "type": "object",
        "description": format!("A `{kind}` record in its model JSON form (its full JSON Schema: GET /api/v1/schema/{kind} or `spider schema {kind}`)."),
        "required": required,
        "additionalProperties": true,
        "properties": {"kind": {"type": "string", "enum": [kind]}, "whisperer": {"type": "string"}},
    })
}

/// The document.
pub fn document() -> Value {
    let mut paths = serde_json::Map::new();
    let mut health = get(
        "Liveness (no token needed).",
        vec![],
        ok(
            "up",
            json!({"type": "object", "properties": {"status": {"type": "string"}}}),
        ),
    );
    health["get"]["security"] = json!([]);
    paths.insert("/api/v1/health".into(), health);
    let mut openapi = get(
        "This document (no token needed).",
        vec![],
        ok("the OpenAPI document", json!({"type": "object"})),
    );
    openapi["get"]["security"] = json!([]);
    paths.insert("/api/v1/openapi.json".into(), openapi);
    paths.insert(
        "/api/v1/http".into(),
        get(
            "HTTP exchanges, newest first, one page.",
            list_params(),
            ok("a page", page_of("HttpRecord")),
        ),
    );
    let mut har_responses = errors();
    har_responses["200"] = json!({"description": "a HAR 1.2 document", "content": {"application/json": {"schema": {"type": "object", "required": ["log"]}}}});
    let mut har_params = list_params();
    har_params.retain(|p| p["name"] != "cursor");
    paths.insert(
        "/api/v1/http/har".into(),
        get(
            "HTTP exchanges of a query as HAR 1.2 (up to `limit`, 10000 at most).",
            har_params,
            har_responses,
        ),
    );
    let mut selection_responses = errors();
    selection_responses["200"] = json!({"description": "the packets of the sessions of the matching exchanges", "content": {"application/x-pcapng": {"schema": {"type": "string", "format": "binary"}}}});
    let mut selection_params = list_params();
    selection_params.retain(|p| p["name"] != "cursor" && p["name"] != "limit");
    paths.insert("/api/v1/http/pcapng".into(), get("The packets of the TCP sessions of the matching HTTP exchanges (without q: every packet of the range) as pcapng.", selection_params, selection_responses));
    paths.insert("/api/v1/agents".into(), get("Every agent the backend knows (Whisperers, Gociphers, Controllers).", vec![], ok("agents", json!({"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object"}}}}))));
    paths.insert(
        "/api/v1/sessions".into(),
        get(
            "TCP sessions, newest first, one page.",
            list_params(),
            ok("a page", page_of("TcpSessionRecord")),
        ),
    );
    paths.insert(
        "/api/v1/packets".into(),
        get(
            "Packets, newest first, one page (by time range and Whisperer only: `q` is refused).",
            list_params(),
            ok("a page", page_of("PacketRecord")),
        ),
    );
    let mut pcapng_responses = errors();
    pcapng_responses["200"] = json!({"description": "the session's packets", "content": {"application/x-pcapng": {"schema": {"type": "string", "format": "binary"}}}});
    paths.insert(
        "/api/v1/sessions/{whisperer}/{id}/pcapng".into(),
        get(
            "The packets of one TCP session as pcapng.",
            vec![
                path_param("whisperer", "The Whisperer."),
                path_param("id", "The session id (an integer)."),
            ],
            pcapng_responses,
        ),
    );
    let range = vec![
        param("from", "Start: RFC 3339 or epoch ms."),
        param("to", "End: RFC 3339 or epoch ms."),
        param("limit", "At most this many (1 to 1000)."),
    ];
    paths.insert(
        "/api/v1/hosts".into(),
        get(
            "Host names known in the range.",
            range,
            ok("hosts", page_of("HostRecord")),
        ),
    );
    let mut timeline_params = list_params();
    timeline_params.retain(|p| p["name"] != "cursor" && p["name"] != "limit");
    timeline_params.push(param(
        "buckets",
        "How many buckets, 1 to 10000 (default 120).",
    ));
    paths.insert("/api/v1/timeline".into(), get("HTTP exchanges per time bucket, by status class. Without from/to, the range of the data.", timeline_params.clone(), ok("the timeline", json!({"$ref": "#/components/schemas/Timeline"}))));
    let mut extent_params = list_params();
    extent_params.retain(|p| p["name"] != "cursor" && p["name"] != "limit");
    paths.insert("/api/v1/extent".into(), get("The time range that holds the matching HTTP exchanges.", extent_params, ok("the range", json!({"type": "object", "properties": {"from": {"type": "integer", "nullable": true}, "to": {"type": "integer", "nullable": true}}}))));
    paths.insert(
        "/api/v1/schema/{kind}".into(),
        get(
            "The JSON Schema of a record kind.",
            vec![path_param("kind", "http, tcp_session, host, dns")],
            ok("a JSON Schema", json!({"type": "object"})),
        ),
    );
    let query_params = vec![
        param("q", "The query typed so far."),
        param("kind", "http (default), tcp_session or host."),
        param(
            "cursor",
            "The cursor position in characters (default: the end).",
        ),
    ];
    paths.insert("/api/v1/query/complete".into(), get("Completions at the cursor.", query_params.clone(), ok("completions", json!({"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Completion"}}}}))));
    paths.insert("/api/v1/query/validate".into(), get("Whether a query parses; its canonical form or the error with its column.", query_params[..2].to_vec(), ok("the verdict", json!({"type": "object", "required": ["valid"], "properties": {"valid": {"type": "boolean"}, "canonical": {"type": "string"}, "error": {"type": "object"}}}))));
    paths.insert("/api/v1/query/fields".into(), get("The fields a query may name.", vec![param("kind", "http (default), tcp_session or host.")], ok("fields", json!({"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object"}}}}))));
    let items = ok(
        "the items",
        json!({"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": {"type": "object"}}}}),
    );
    paths.insert(
        "/api/v1/whisperers".into(),
        get(
            "The Whisperers with their status, counters and drops.",
            vec![],
            items.clone(),
        ),
    );
    let mut usage_params = vec![
        param("from", "Start: RFC 3339 or epoch ms."),
        param("to", "End: RFC 3339 or epoch ms."),
    ];
    usage_params.push(param(
        "group",
        "connection (default), ip, workload, namespace, pod or node.",
    ));
    usage_params.push(param(
        "bucket",
        "Bucket width in seconds, 60 (default) to 2678400.",
    ));
    usage_params.push(param("limit", "Rows per page, 1 to 10000 (default 1000)."));
    usage_params.push(param("cursor", "The `next` of the previous page."));
    paths.insert(
        "/api/v1/usage".into(),
        get(
            "Network usage: one row per direction of each IP pair (or group) and bucket.",
            usage_params,
            items,
        ),
    );
    let mut map_params = list_params();
    map_params.retain(|p| p["name"] != "cursor" && p["name"] != "limit");
    paths.insert("/api/v1/network-map".into(), get("Who calls whom over HTTP: hosts, and edges with requests, errors and latency.", map_params, ok("the map", json!({"type": "object", "required": ["nodes", "edges"], "properties": {"nodes": {"type": "array", "items": {"type": "object"}}, "edges": {"type": "array", "items": {"type": "object"}}}}))));
    let mut acked = errors();
    acked["200"] = json!({"description": "the agent's answer", "content": {"application/json": {"schema": {"type": "object"}}}});
    acked["413"] = json!({"description": "too large", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    paths.insert("/api/v1/whisperers/{name}/config".into(), json!({"put": {"summary": "Replace a Whisperer's capture settings (the `settings` of GET /api/v1/whisperers, or an exported document).", "parameters": [path_param("name", "The Whisperer.")],
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}}}, "responses": acked.clone()}}));
    paths.insert("/api/v1/whisperers/{name}/running".into(), json!({"put": {"summary": "Start or stop a connected Whisperer's capture.", "parameters": [path_param("name", "The Whisperer.")],
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["running"], "properties": {"running": {"type": "boolean"}}}}}}, "responses": acked}}));
    let mut import_responses = errors();
    import_responses["201"] = json!({"description": "imported", "content": {"application/json": {"schema": {"type": "object", "required": ["whisperer", "frames"], "properties": {"whisperer": {"type": "string"}, "frames": {"type": "integer"}, "batches": {"type": "integer"}}}}}});
    import_responses["413"] = json!({"description": "too large", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    paths.insert("/api/v1/import".into(), json!({"post": {
        "summary": "Upload a pcap or pcapng file: it becomes the Whisperer `upload-NAME`.",
        "parameters": [param("name", "The name of the upload (letters, digits, '-', '_', '.').")],
        "requestBody": {"required": true, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
        "responses": import_responses,
    }}));
    let mut live = get(
        "WebSocket of new HTTP exchanges (upgrade; `access_token` may carry the token).",
        vec![
            param("access_token", "The API token."),
            param("q", "A query."),
            param("whisperer", "Whisperers."),
        ],
        errors(),
    );
    live["get"]["responses"]["101"] = json!({"description": "switching to the WebSocket protocol"});
    paths.insert("/api/v1/live".into(), live);
    controller_paths(&mut paths);
    let mut metrics_responses = errors();
    metrics_responses["200"] = json!({"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}});
    paths.insert("/metrics".into(), json!({"get": {"summary": "Metrics in the Prometheus text format (a token with scope `metrics`; admins have every scope).", "responses": metrics_responses}}));
    session_paths(&mut paths);
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Spider API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "REST/JSON API of the Spider gateway. Every endpoint but health, this document, login and refresh needs `Authorization: Bearer TOKEN`: a configured admin token, an API token (`spider identity token add`; its scopes: `query` reads, `agents` changes agents and attachments, `ingest` imports, `metrics` reads /metrics, `admin` everything) or a user's access token (`POST /api/v1/login`). A viewer reads the data of its teams; writes need an admin (403 otherwise). A revoked or expired token gets 401 at once. Times are epoch nanoseconds in records; in query parameters RFC 3339 or epoch milliseconds. Errors: `{\"error\": {\"code\", \"message\"}}`.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": Value::Object(paths),
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
                    "code": {"type": "string"}, "message": {"type": "string"}, "column": {"type": "integer"}, "span": {"type": "array", "items": {"type": "integer"}}}}}},
                "HttpRecord": record("http", &["kind", "method", "uri", "status", "session_id", "whisperer"]),
                "TcpSessionRecord": record("tcp_session", &["kind", "id", "client", "server", "state", "whisperer"]),
                "PacketRecord": {"type": "object", "required": ["whisperer", "session_id", "time", "frame"], "additionalProperties": true, "properties": {
                    "whisperer": {"type": "string"}, "session_id": {"type": "integer"}, "time": {"type": "integer"}, "frame": {"type": "string", "description": "the frame's bytes, base64"}}},
                "HostRecord": record("host", &["kind", "ip", "name", "source"]),
                "Completion": {"type": "object", "required": ["text", "kind", "replace"], "properties": {
                    "text": {"type": "string"}, "detail": {"type": "string"}, "kind": {"type": "string", "enum": ["field", "value", "operator"]},
                    "replace": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2}}},
                "Timeline": {"type": "object", "required": ["buckets"], "properties": {
                    "from": {"type": "integer", "nullable": true}, "to": {"type": "integer", "nullable": true}, "bucket_ns": {"type": "integer", "nullable": true},
                    "buckets": {"type": "array", "items": {"type": "object", "required": ["start", "count", "by_class"], "properties": {
                        "start": {"type": "integer"}, "count": {"type": "integer"}, "by_class": {"type": "object", "additionalProperties": {"type": "integer"}}}}}}},
            }
        }
    })
}

/// Users' sessions: login, refresh, logout, whoami.
fn session_paths(paths: &mut serde_json::Map<String, Value>) {
    let tokens = json!({"type": "object", "required": ["user", "access_token", "expires_at", "refresh_token"], "properties": {
        "user": {"type": "string"}, "token_type": {"type": "string", "enum": ["Bearer"]},
        "access_token": {"type": "string", "description": "Short-lived (15 minutes): send it as `Authorization: Bearer`."},
        "expires_at": {"type": "integer", "description": "epoch ms"},
        "refresh_token": {"type": "string", "description": "Used once, at POST /api/v1/refresh."},
        "refresh_expires_at": {"type": "integer", "description": "epoch ms"}}});
    let body = |properties: Value, required: &[&str]| json!({"required": true, "content": {"application/json": {"schema": {"type": "object", "required": required, "properties": properties}}}});
    let mut login_responses = ok("the tokens", tokens.clone());
    login_responses["429"] = json!({"description": "five failed logins for this name in five minutes: locked until the window ends", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    paths.insert("/api/v1/login".into(), json!({"post": {"summary": "A local user's login: an access token and a refresh token (401 for a wrong name or password, 429 after five failures).", "security": [],
        "requestBody": body(json!({"name": {"type": "string"}, "password": {"type": "string"}}), &["name", "password"]),
        "responses": login_responses}}));
    paths.insert("/api/v1/refresh".into(), json!({"post": {"summary": "New tokens for a refresh token, which is used up.", "security": [],
        "requestBody": body(json!({"refresh_token": {"type": "string"}}), &["refresh_token"]),
        "responses": ok("the tokens", tokens)}}));
    let mut logout = errors();
    logout["204"] =
        json!({"description": "the session ended: its access and refresh tokens stop working"});
    paths.insert("/api/v1/logout".into(), json!({"post": {"summary": "Ends the session of the bearer access token (and of `refresh_token` in the body, if given).", "responses": logout}}));
    paths.insert("/api/v1/whoami".into(), get("Who the bearer token stands for: name, role, kind, scopes, teams (null: every team), expiry.", vec![], ok("the caller", json!({"type": "object", "required": ["name", "role", "kind", "scopes"], "properties": {
        "name": {"type": "string"}, "role": {"type": "string", "enum": ["admin", "agent", "reader"]}, "kind": {"type": "string"},
        "scopes": {"type": "array", "items": {"type": "string"}}, "teams": {"type": "array", "nullable": true, "items": {"type": "string"}},
        "expires_at": {"type": "integer", "description": "epoch ms; 0: does not expire"}}}))));
}

/// The clusters' inventories and the Controllers' commands.
fn controller_paths(paths: &mut serde_json::Map<String, Value>) {
    let items = ok(
        "the items",
        json!({"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": {"type": "object"}}}}),
    );
    let with_conflict = |mut responses: Value| {
        responses["409"] = json!({"description": "the Controller is not connected", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
        responses
    };
    let name = path_param("name", "The Controller's agent name.");
    paths.insert("/api/v1/inventory".into(), get("The inventory of each cluster (nodes, namespaces, workloads, pods, services) as its Controller last sent it.", vec![], ok("inventories", json!({"type": "object", "required": ["items"], "properties": {
        "items": {"type": "array", "items": {"type": "object", "required": ["controller", "cluster", "time", "objects"]}},
        "missing_shards": {"type": "array", "items": {"type": "integer"}}}}))));
    let target = json!({"oneOf": [
        {"type": "object", "required": ["target", "namespace", "name"], "properties": {"target": {"type": "string", "enum": ["pod"]}, "namespace": {"type": "string"}, "name": {"type": "string"}}},
        {"type": "object", "required": ["target", "namespace", "kind", "name"], "properties": {"target": {"type": "string", "enum": ["workload"]}, "namespace": {"type": "string"},
            "kind": {"type": "string", "enum": ["Deployment", "DaemonSet", "StatefulSet", "Job", "CronJob"]}, "name": {"type": "string"}}}]});
    let mut created = with_conflict(errors());
    created["201"] = json!({"description": "the attachment asked for", "content": {"application/json": {"schema": {"type": "object"}}}});
    created["413"] = json!({"description": "too large", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let mut attachments = get(
        "A Controller's attachments: what each targets, its pods and their Whisperers' states.",
        vec![name.clone()],
        with_conflict(items.clone()),
    );
    attachments["post"] = json!({"summary": "Attach a Whisperer (an ephemeral container) to a pod, or to every pod of a workload including new replicas, for a time to live.",
        "parameters": [name.clone()],
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["target"], "additionalProperties": false, "properties": {
            "id": {"type": "string", "description": "a DNS label; default: made up"}, "target": target,
            "ttl_seconds": {"type": "integer", "minimum": 1, "maximum": 604800},
            "image": {"type": "string"}, "command": {"type": "array", "items": {"type": "string"}}, "args": {"type": "array", "items": {"type": "string"}}}}}}},
        "responses": created});
    paths.insert("/api/v1/controllers/{name}/attachments".into(), attachments);
    paths.insert("/api/v1/controllers/{name}/attachments/{id}".into(), json!({"delete": {"summary": "Detach: no Whisperer is added any more; running ones exit.",
        "parameters": [name.clone(), path_param("id", "The attachment.")], "responses": with_conflict(ok("detached", json!({"type": "object"})))}}));
    paths.insert("/api/v1/controllers/{name}/agents".into(), get("Spider's agents the Controller found among the pods (sidecar Whisperers, Gocipher pods).", vec![name.clone()], with_conflict(items)));
    let log_params = vec![
        name,
        json!({"name": "namespace", "in": "query", "required": true, "schema": {"type": "string"}}),
        json!({"name": "pod", "in": "query", "required": true, "schema": {"type": "string"}}),
        json!({"name": "container", "in": "query", "required": true, "schema": {"type": "string"}}),
        param("tail", "The last lines only (default 1000, at most 10000)."),
    ];
    paths.insert("/api/v1/controllers/{name}/logs".into(), get("The log of an agent's container, read through its Controller.", log_params, with_conflict(ok("the log", json!({"type": "object", "required": ["log"], "properties": {"log": {"type": "string"}}})))));
}
