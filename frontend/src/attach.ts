// Whisperer attachment from the cluster map: the selected workload or pod, a time to live, and
// the Controller's attachments with their pods, detach, and each Whisperer's log.

import { Api } from './api';
import { formatTime } from './columns';
import type { WorkloadRef } from './graph-model';

/** What an attachment targets, as the gateway takes it. */
export type AttachTarget = { target: 'workload'; namespace: string; kind: string; name: string } | { target: 'pod'; namespace: string; name: string };

/** Kinds a Whisperer can be attached to as a whole (every replica, new ones included). */
const WORKLOAD_KINDS = ['Deployment', 'DaemonSet', 'StatefulSet', 'Job', 'CronJob'];

/** The attachment target of a usage-map node, or null (a namespace, a node, an IP class). */
export function targetOf(ref: WorkloadRef | null | undefined, mode: 'nls' | 'nps'): AttachTarget | null {
  if (!ref?.namespace || !ref.kind) return null;
  if (mode === 'nps' || ref.kind === 'Pod') return ref.pod ? { target: 'pod', namespace: ref.namespace, name: ref.pod } : null;
  if (WORKLOAD_KINDS.includes(ref.kind) && ref.workload) return { target: 'workload', namespace: ref.namespace, kind: ref.kind, name: ref.workload };
  return null;
}

/** `Deployment shop/web`, `pod shop/web-1`. */
export function describeTarget(target: AttachTarget): string {
  return target.target === 'workload' ? `${target.kind} ${target.namespace}/${target.name}` : `pod ${target.namespace}/${target.name}`;
}

/** Minutes typed by the user → seconds for the API; null when not a whole number from 1 to a week. */
export function ttlSeconds(minutes: string): number | null {
  const value = Number(minutes);
  return Number.isInteger(value) && value >= 1 && value <= 7 * 24 * 60 ? value * 60 : null;
}

export class AttachPanel {
  private controllers: string[] = [];
  private controller: string | null = null;
  private target: AttachTarget | null = null;
  private timer: number | undefined;

  constructor(private root: HTMLElement, private api: Api) {}

  async start(): Promise<void> {
    this.root.innerHTML = '<h3>Whisperers</h3><div class="attach-controllers"></div><div class="attach-form"></div><div class="attach-message"></div><table class="attachments"></table><pre class="attach-log" hidden></pre>';
    try {
      const agents = (await this.api.get('/api/v1/agents')).items as any[];
      this.controllers = agents.filter((a) => a.info.kind === 'controller' && a.connected).map((a) => a.info.name);
    } catch (error) {
      this.message(`Cannot list Controllers: ${(error as Error).message}`);
      return;
    }
    const place = this.root.querySelector('.attach-controllers') as HTMLElement;
    if (!this.controllers.length) {
      place.textContent = 'No Controller is connected: attaching Whisperers needs one in the cluster.';
      return;
    }
    this.controller = this.controllers[0]!;
    const select = document.createElement('select');
    select.className = 'attach-controller';
    for (const name of this.controllers) select.append(new Option(name, name));
    select.addEventListener('change', () => {
      this.controller = select.value;
      void this.refresh();
    });
    place.append('Controller ', select);
    this.drawForm();
    await this.refresh();
    this.timer = window.setInterval(() => void this.refresh(), 2000);
  }

  stop(): void {
    window.clearInterval(this.timer);
  }

  select(target: AttachTarget | null): void {
    this.target = target;
    this.drawForm();
  }

  private message(text: string): void {
    (this.root.querySelector('.attach-message') as HTMLElement).textContent = text;
  }

  private drawForm(): void {
    const form = this.root.querySelector('.attach-form') as HTMLElement | null;
    if (!form || !this.controller) return;
    if (!this.target) {
      form.textContent = 'Click a workload (NLS) or a pod (NPS) to attach a Whisperer to it.';
      return;
    }
    form.innerHTML = '<div class="attach-target"></div><label>Time to live (minutes) <input class="attach-ttl" type="number" min="1" value="30"></label> <button type="button" class="attach-go">Attach Whisperer</button>';
    (form.querySelector('.attach-target') as HTMLElement).textContent = describeTarget(this.target);
    form.querySelector('.attach-go')!.addEventListener('click', () => void this.attach());
  }

  private async attach(): Promise<void> {
    if (!this.target || !this.controller) return;
    const ttl = ttlSeconds((this.root.querySelector('.attach-ttl') as HTMLInputElement).value);
    if (ttl === null) {
      this.message('The time to live is a whole number of minutes, from 1 to a week.');
      return;
    }
    try {
      const created = await this.api.send('POST', `/api/v1/controllers/${encodeURIComponent(this.controller)}/attachments`, { target: this.target, ttl_seconds: ttl });
      this.message(`Attached ${created.id} to ${describeTarget(this.target)}`);
      await this.refresh();
    } catch (error) {
      this.message((error as Error).message);
    }
  }

  private async refresh(): Promise<void> {
    if (!this.controller) return;
    const table = this.root.querySelector('table.attachments') as HTMLTableElement | null;
    if (!table) return;
    let list: any[];
    try {
      list = (await this.api.get(`/api/v1/controllers/${encodeURIComponent(this.controller)}/attachments`)).items;
    } catch (error) {
      this.message(`Cannot list attachments: ${(error as Error).message}`);
      return;
    }
    const rows: HTMLTableRowElement[] = [];
    const header = document.createElement('tr');
    header.innerHTML = '<th>Id</th><th>Target</th><th>Pod</th><th>State</th><th>Expires</th><th></th>';
    rows.push(header);
    for (const attachment of list) {
      const target = attachment.request.target as AttachTarget;
      const pods = attachment.pods.length ? attachment.pods : [null];
      pods.forEach((pod: any, index: number) => {
        const tr = document.createElement('tr');
        tr.className = 'attachment';
        tr.dataset.id = attachment.request.id;
        tr.innerHTML = '<td></td><td></td><td class="pod"></td><td class="state"></td><td></td><td></td>';
        const cells = tr.children as HTMLCollectionOf<HTMLElement>;
        if (index === 0) {
          cells[0]!.textContent = attachment.request.id;
          cells[1]!.textContent = describeTarget(target);
          cells[4]!.textContent = attachment.expires ? formatTime(attachment.expires) : 'never';
          const detach = document.createElement('button');
          detach.type = 'button';
          detach.className = 'detach';
          detach.textContent = 'Detach';
          detach.addEventListener('click', () => void this.detach(attachment.request.id));
          cells[5]!.append(detach);
        }
        if (pod) {
          cells[2]!.textContent = `${pod.namespace}/${pod.pod}`;
          cells[3]!.textContent = pod.failures ? `${pod.state} (${pod.failures} failures)` : pod.state;
          const logs = document.createElement('button');
          logs.type = 'button';
          logs.className = 'logs';
          logs.textContent = 'Log';
          logs.addEventListener('click', () => void this.showLog(pod.namespace, pod.pod, pod.containers[pod.containers.length - 1]));
          cells[5]!.append(' ', logs);
        } else {
          cells[3]!.textContent = 'no pod yet';
        }
        rows.push(tr);
      });
    }
    table.replaceChildren(...rows);
  }

  private async detach(id: string): Promise<void> {
    if (!this.controller) return;
    try {
      await this.api.raw(`/api/v1/controllers/${encodeURIComponent(this.controller)}/attachments/${encodeURIComponent(id)}`, { method: 'DELETE' });
      this.message(`Detached ${id}`);
      await this.refresh();
    } catch (error) {
      this.message((error as Error).message);
    }
  }

  private async showLog(namespace: string, pod: string, container: string): Promise<void> {
    if (!this.controller) return;
    const pre = this.root.querySelector('.attach-log') as HTMLElement;
    pre.hidden = false;
    try {
      const answer = await this.api.get(`/api/v1/controllers/${encodeURIComponent(this.controller)}/logs`, { namespace, pod, container, tail: 200 });
      pre.textContent = `${namespace}/${pod} ${container}\n${answer.log}`;
    } catch (error) {
      pre.textContent = `Cannot read the log of ${namespace}/${pod} ${container}: ${(error as Error).message}`;
    }
  }
}
