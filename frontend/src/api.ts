// The gateway's REST API, with the bearer token and JSON errors.

export class ApiError extends Error {
  constructor(public status: number, public code: string, message: string, public column?: number, public span?: [number, number]) {
    super(message);
  }
}

export class Api {
  constructor(public token: string, private base = '') {}

  private headers(): Record<string, string> {
    return { authorization: `Bearer ${this.token}` };
  }

  async raw(path: string, init: RequestInit = {}): Promise<Response> {
    const response = await fetch(this.base + path, { ...init, headers: { ...this.headers(), ...(init.headers as any) } });
    if (!response.ok) {
      let body: any = null;
      try {
        body = await response.json();
      } catch {
        /* not JSON */
      }
      const error = body?.error;
      throw new ApiError(response.status, error?.code ?? 'http_error', error?.message ?? `HTTP ${response.status}`, error?.column, error?.span);
    }
    return response;
  }

  async get<T = any>(path: string, params: Record<string, string | number | null | undefined> = {}): Promise<T> {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      if (value !== null && value !== undefined && value !== '') search.set(key, String(value));
    }
    const text = search.toString();
    return (await this.raw(text ? `${path}?${text}` : path)).json();
  }

  async send<T = any>(method: string, path: string, body: unknown): Promise<T> {
    return (await this.raw(path, { method, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } })).json();
  }
}

/** Saves a blob as a file download. */
export function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export async function download(api: Api, path: string, name: string): Promise<void> {
  const response = await api.raw(path);
  saveBlob(await response.blob(), name);
}
