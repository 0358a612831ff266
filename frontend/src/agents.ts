// The agents view: Whisperers (and other agents) with status, counters and drops; settings editing
// with validation, export and import as JSON; start/stop.

import { Api, saveBlob } from './api';
import { formatBytes, formatTime } from './columns';

/** Checks a Whisperer settings document; the list of problems (empty when valid). */
export function validateSettings(settings: any): string[] {
  const problems: string[] = [];
  if (typeof settings !== 'object' || settings === null) return ['settings must be a JSON object'];
  if (settings.kind !== undefined && settings.kind !== 'whisperer') problems.push('kind must be "whisperer"');
  if (settings.capture !== undefined && typeof settings.capture !== 'boolean') problems.push('capture must be true or false');
  if (settings.filter !== undefined && settings.filter !== null && typeof settings.filter !== 'string') problems.push('filter must be a pcap filter string or null');
  if (typeof settings.filter === 'string' && settings.filter.length > 4096) problems.push('filter is longer than 4096 characters');
  for (const key of ['snaplen', 'throughput_limit', 'retention_ttl']) {
    if (settings[key] !== undefined && (!Number.isInteger(settings[key]) || settings[key] < 0)) problems.push(`${key} must be a non-negative integer`);
  }
  if (settings.cpu_budget !== undefined && (typeof settings.cpu_budget !== 'number' || settings.cpu_budget < 0 || settings.cpu_budget > 100)) problems.push('cpu_budget must be a percentage from 0 to 100');
  return problems;
}

export async function renderAgents(root: HTMLElement, api: Api, selected: string[], onSelect: (names: string[]) => void): Promise<void> {
  root.innerHTML = '<div class="agents-bar"><input type="search" placeholder="Filter agents" class="agent-filter"></div><div class="agents-list">loading…</div><div class="agent-editor" hidden></div>';
  const list = root.querySelector('.agents-list') as HTMLElement;
  const filter = root.querySelector('.agent-filter') as HTMLInputElement;
  const editor = root.querySelector('.agent-editor') as HTMLElement;
  let agents: any[] = [];
  try {
    agents = (await api.get('/api/v1/agents')).items;
  } catch (error) {
    list.textContent = `Cannot list agents: ${(error as Error).message}`;
    return;
  }
  const draw = () => {
    const text = filter.value.toLowerCase();
    const table = document.createElement('table');
    table.className = 'agents';
    table.innerHTML = '<tr><th></th><th>Name</th><th>Kind</th><th>State</th><th>Host</th><th>Packets</th><th>Bytes</th><th>Drops (kernel/own/limit)</th><th>Last seen</th><th></th></tr>';
    for (const agent of agents.filter((a) => JSON.stringify(a.info).toLowerCase().includes(text))) {
      const s = agent.status;
      const tr = document.createElement('tr');
      const name = agent.info.name;
      tr.innerHTML = `<td><input type="checkbox"></td><td class="name"></td><td>${agent.info.kind}</td><td class="state ${agent.connected ? 'up' : 'down'}">${s.state}${agent.connected ? '' : ' (disconnected)'}</td><td></td><td>${s.packets_seen}</td><td>${formatBytes(s.bytes_seen)}</td><td>${s.kernel_drops}/${s.own_drops}/${s.limit_drops}</td><td>${formatTime(agent.last_seen)}</td><td><button type="button" class="edit">Settings</button></td>`;
      (tr.querySelector('.name') as HTMLElement).textContent = name;
      (tr.children[4] as HTMLElement).textContent = agent.info.host;
      const box = tr.querySelector('input') as HTMLInputElement;
      box.checked = selected.includes(name);
      box.addEventListener('change', () => {
        selected = box.checked ? [...selected, name] : selected.filter((n) => n !== name);
        onSelect(selected);
      });
      tr.querySelector('.edit')!.addEventListener('click', () => edit(agent));
      table.append(tr);
    }
    list.replaceChildren(table);
    if (!agents.length) list.append('No agents have registered yet. Captures imported from files appear as Whisperers named upload-NAME in the HTTP view.');
  };
  const edit = (agent: any) => {
    editor.hidden = false;
    editor.innerHTML = `<h3></h3><textarea rows="14" spellcheck="false"></textarea><div class="problems"></div><button type="button" class="save">Apply</button> <button type="button" class="export">Export JSON</button> <label class="import">Import JSON <input type="file" accept="application/json"></label> <button type="button" class="start">Start</button> <button type="button" class="stop">Stop</button>`;
    editor.querySelector('h3')!.textContent = `Settings of ${agent.info.name}`;
    const area = editor.querySelector('textarea') as HTMLTextAreaElement;
    const problems = editor.querySelector('.problems') as HTMLElement;
    area.value = JSON.stringify(agent.config.settings, null, 2);
    const parse = (): any | null => {
      try {
        const value = JSON.parse(area.value);
        const found = validateSettings(value);
        problems.textContent = found.join('; ');
        return found.length ? null : value;
      } catch (error) {
        problems.textContent = `invalid JSON: ${(error as Error).message}`;
        return null;
      }
    };
    area.addEventListener('input', () => parse());
    editor.querySelector('.save')!.addEventListener('click', async () => {
      const value = parse();
      if (!value) return;
      try {
        const ack = await api.send('PUT', `/api/v1/whisperers/${encodeURIComponent(agent.info.name)}/config`, value);
        problems.textContent = ack.accepted ? `applied (generation ${ack.generation})` : `refused: ${ack.error}`;
      } catch (error) {
        problems.textContent = (error as Error).message;
      }
    });
    editor.querySelector('.export')!.addEventListener('click', () => saveBlob(new Blob([area.value], { type: 'application/json' }), `${agent.info.name}-settings.json`));
    editor.querySelector('.import input')!.addEventListener('change', async (event) => {
      const file = (event.target as HTMLInputElement).files?.[0];
      if (file) {
        area.value = await file.text();
        parse();
      }
    });
    for (const [cls, running] of [['start', true], ['stop', false]] as const) {
      editor.querySelector(`.${cls}`)!.addEventListener('click', async () => {
        try {
          await api.send('PUT', `/api/v1/whisperers/${encodeURIComponent(agent.info.name)}/running`, { running });
          problems.textContent = running ? 'started' : 'stopped';
        } catch (error) {
          problems.textContent = (error as Error).message;
        }
      });
    }
  };
  filter.addEventListener('input', draw);
  draw();
}
