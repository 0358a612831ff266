// Pure graph models for the two maps: the network map (HTTP: who calls whom) and the cluster map
// (usage: NLS namespaces → workloads, NPS nodes → namespaces → pods).

export interface MapNode { ip: string; names: string[]; requests_out: number; requests_in: number }
export interface MapEdge { client: string; server: string; requests: number; client_errors: number; server_errors: number; no_response: number; latency_mean_ns: number | null }

export interface GraphNode { id: string; label: string; parent?: string; role: string; size: number; color: string; compound?: boolean }
export interface GraphEdge { id: string; source: string; target: string; width: number; color: string; stops?: string; positions?: string; label: string; title: string }

/** Mixes green → red by a ratio 0..1. */
export function redder(ratio: number): string {
  const r = Math.max(0, Math.min(1, ratio));
  const from = [63, 120, 200];
  const to = [217, 83, 79];
  const c = from.map((f, i) => Math.round(f + (to[i]! - f) * r));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/** The network map: servers blue, clients yellow, size by volume, redder with errors; edges split by
 * success / client errors / server errors, the mean latency on the slowest `slowest` edges. */
export function networkGraph(nodes: MapNode[], edges: MapEdge[], slowest = 5): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const errorsOf = new Map<string, number>();
  const volume = new Map<string, number>();
  for (const e of edges) {
    const errors = e.client_errors + e.server_errors + e.no_response;
    errorsOf.set(e.server, (errorsOf.get(e.server) ?? 0) + errors);
    volume.set(e.server, (volume.get(e.server) ?? 0) + e.requests);
    volume.set(e.client, (volume.get(e.client) ?? 0) + e.requests);
  }
  const maxVolume = Math.max(1, ...volume.values());
  const graphNodes = nodes.map((n) => {
    const isServer = n.requests_in > 0;
    const total = volume.get(n.ip) ?? 0;
    const errorRatio = n.requests_in ? (errorsOf.get(n.ip) ?? 0) / n.requests_in : 0;
    return {
      id: n.ip,
      label: n.names[0] ? `${n.names[0]}\n${n.ip}` : n.ip,
      role: isServer ? 'server' : 'client',
      size: 20 + 40 * Math.sqrt(total / maxVolume),
      color: isServer ? (errorRatio > 0 ? redder(0.3 + 0.7 * errorRatio) : '#3f78c8') : '#e3b341',
    };
  });
  const latencies = edges.map((e) => e.latency_mean_ns ?? -1).sort((a, b) => b - a);
  const threshold = latencies[Math.min(slowest, latencies.length) - 1] ?? Infinity;
  const maxRequests = Math.max(1, ...edges.map((e) => e.requests));
  const graphEdges = edges.map((e) => {
    const ok = Math.max(0, e.requests - e.client_errors - e.server_errors - e.no_response);
    const parts: [string, number][] = [['#3fa66b', ok], ['#e0a030', e.client_errors], ['#d9534f', e.server_errors + e.no_response]];
    const total = Math.max(1, e.requests);
    let at = 0;
    const colors: string[] = [];
    const positions: string[] = [];
    for (const [color, count] of parts) {
      if (count <= 0) continue;
      colors.push(color, color);
      positions.push(`${Math.round((at / total) * 100)}%`, `${Math.round(((at + count) / total) * 100)}%`);
      at += count;
    }
    const latency = e.latency_mean_ns !== null && e.latency_mean_ns >= 0 && e.latency_mean_ns >= threshold ? `${(e.latency_mean_ns / 1e6).toFixed(1)} ms` : '';
    return {
      id: `${e.client}->${e.server}`,
      source: e.client,
      target: e.server,
      width: 1 + 6 * Math.sqrt(e.requests / maxRequests),
      color: colors[0] ?? '#3fa66b',
      stops: colors.join(' '),
      positions: positions.join(' '),
      label: latency,
      title: `${e.requests} requests · ${e.client_errors} 4xx · ${e.server_errors} 5xx · ${e.no_response} no response`,
    };
  });
  return { nodes: graphNodes, edges: graphEdges };
}

export interface WorkloadRef { namespace?: string | null; kind?: string | null; workload?: string | null; pod?: string | null; node?: string | null }
export interface UsageRow { src: string; dst: string; bytes: number; messages: number; src_workload?: WorkloadRef | null; dst_workload?: WorkloadRef | null }
export interface UsageOptions { mode: 'nls' | 'nps'; selected: string | null; intraNamespace: boolean; node: boolean; external: boolean; collapseOver: number }

/** Where one end of a usage row goes in the cluster map: [leaf id, label, parents outermost first, class]. */
export function placeOf(ip: string, ref: WorkloadRef | null | undefined, mode: 'nls' | 'nps'): { id: string; label: string; parents: [string, string][]; cls: string } {
  const kind = ref?.kind ?? null;
  if (!ref || kind === 'external') return { id: kind === 'external' ? 'cloud' : `ip:${ip}`, label: kind === 'external' ? 'external (cloud)' : ip, parents: [], cls: kind === 'external' ? 'external' : 'internal' };
  if (kind === 'internal_unidentified') return { id: 'internal', label: 'internal, unidentified', parents: [], cls: 'internal' };
  if (kind === 'node') return { id: `node:${ref.node ?? ip}`, label: ref.node ?? ip, parents: [], cls: 'node' };
  // A Gocipher on a plain host (no Controller) names its end by host and process or container.
  if (kind === 'Process' || kind === 'Container') {
    const host = ref.node ?? ip;
    const name = ref.workload ?? ip;
    return { id: `proc:${host}/${name}`, label: name, parents: [[`node:${host}`, host]], cls: kind.toLowerCase() };
  }
  const ns = ref.namespace ?? '(none)';
  if (mode === 'nls') {
    const name = ref.workload ?? ref.pod ?? ip;
    return { id: `wl:${ns}/${name}`, label: name, parents: [[`ns:${ns}`, ns]], cls: (kind ?? 'pod').toLowerCase() };
  }
  const node = ref.node ?? '(unknown node)';
  return { id: `pod:${ns}/${ref.pod ?? ip}`, label: ref.pod ?? ip, parents: [[`node:${node}`, node], [`nsn:${node}/${ns}`, ns]], cls: 'pod' };
}

/** The cluster map: compound nodes, >collapseOver workloads of an unselected namespace collapsed into one,
 * external and internal-unidentified IPs as their own icons, edges redder with more bytes, toggles. */
export function usageGraph(rows: UsageRow[], options: UsageOptions): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const nodes = new Map<string, GraphNode>();
  const leavesOf = new Map<string, Set<string>>();
  const ends = rows.map((row) => [placeOf(row.src, row.src_workload, options.mode), placeOf(row.dst, row.dst_workload, options.mode)] as const);
  for (const pair of ends) {
    for (const place of pair) {
      const parent = place.parents[place.parents.length - 1]?.[0];
      if (parent) {
        if (!leavesOf.has(parent)) leavesOf.set(parent, new Set());
        leavesOf.get(parent)!.add(place.id);
      }
    }
  }
  const collapsed = new Set<string>();
  for (const [parent, leaves] of leavesOf) {
    if (leaves.size > options.collapseOver && parent !== `ns:${options.selected}` && !parent.endsWith(`/${options.selected}`)) collapsed.add(parent);
  }
  const resolve = (place: ReturnType<typeof placeOf>): string => {
    const parent = place.parents[place.parents.length - 1]?.[0];
    if (parent && collapsed.has(parent)) {
      const id = `${parent}#all`;
      nodes.set(id, { id, label: `${leavesOf.get(parent)!.size} workloads`, parent, role: 'collapsed', size: 40, color: '#7a869a' });
      return id;
    }
    nodes.set(place.id, { id: place.id, label: place.label, parent, role: place.cls, size: 30, color: place.cls === 'external' ? '#5aa0d8' : place.cls === 'internal' ? '#a0a0a0' : place.cls === 'node' ? '#6c8ebf' : '#326ce5' });
    return place.id;
  };
  const totals = new Map<string, { source: string; target: string; bytes: number; messages: number }>();
  ends.forEach(([src, dst], index) => {
    const row = rows[index]!;
    const srcNs = src.parents[src.parents.length - 1]?.[0];
    const dstNs = dst.parents[dst.parents.length - 1]?.[0];
    if (!options.intraNamespace && srcNs && srcNs === dstNs) return;
    if (!options.node && (src.cls === 'node' || dst.cls === 'node')) return;
    if (!options.external && (src.cls === 'external' || dst.cls === 'external')) return;
    for (const place of [src, dst]) {
      for (const [id, label] of place.parents) {
        const outer = place.parents[place.parents.findIndex(([p]) => p === id) - 1]?.[0];
        nodes.set(id, { id, label, parent: outer, role: 'group', size: 0, color: 'transparent', compound: true });
      }
    }
    const source = resolve(src);
    const target = resolve(dst);
    const key = `${source}->${target}`;
    const total = totals.get(key) ?? { source, target, bytes: 0, messages: 0 };
    total.bytes += row.bytes;
    total.messages += row.messages;
    totals.set(key, total);
  });
  const maxBytes = Math.max(1, ...[...totals.values()].map((t) => t.bytes));
  const edges = [...totals.entries()].map(([id, t]) => ({
    id,
    source: t.source,
    target: t.target,
    width: 1 + 5 * Math.sqrt(t.bytes / maxBytes),
    color: redder(t.bytes / maxBytes),
    label: '',
    title: `${t.bytes} bytes · ${t.messages} messages`,
  }));
  return { nodes: [...nodes.values()], edges };
}
