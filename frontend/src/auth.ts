// The API token: accepted once from `?token=`, then kept in sessionStorage and removed from the URL.

export const TOKEN_KEY = 'spider.token';

export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** Takes `token` out of a query string: the token (if any) and the query string without it. */
export function takeToken(search: string): { token: string | null; rest: string } {
  const params = new URLSearchParams(search);
  const token = params.get('token');
  params.delete('token');
  const rest = params.toString();
  return { token: token && token.trim() ? token.trim() : null, rest: rest ? `?${rest}` : '' };
}

/** The token to use: a fresh one from the URL (then stored), else the stored one. */
export function resolveToken(search: string, storage: StorageLike): { token: string | null; rest: string; fromUrl: boolean } {
  const { token, rest } = takeToken(search);
  if (token) {
    storage.setItem(TOKEN_KEY, token);
    return { token, rest, fromUrl: true };
  }
  return { token: storage.getItem(TOKEN_KEY), rest, fromUrl: false };
}

/** Where a user's refresh token is kept for the session (its access token is under TOKEN_KEY). */
export const REFRESH_KEY = 'spider.refresh';

/** What `POST /api/v1/login` and `/api/v1/refresh` answer. */
export interface UserTokens {
  accessToken: string;
  /** Epoch ms. */
  expiresAt: number;
  refreshToken: string;
  user: string;
}

/** Reads a login or refresh answer; `null` when it is not one. */
export function parseTokens(body: unknown): UserTokens | null {
  const value = body as Record<string, unknown> | null;
  if (!value || typeof value.access_token !== 'string' || typeof value.refresh_token !== 'string') return null;
  return {
    accessToken: value.access_token,
    expiresAt: typeof value.expires_at === 'number' ? value.expires_at : 0,
    refreshToken: value.refresh_token,
    user: typeof value.user === 'string' ? value.user : '',
  };
}

/** How long to wait before renewing an access token: a minute before it expires, at least 5 s. */
export function refreshDelay(expiresAt: number, now: number): number {
  return Math.max(5_000, expiresAt - now - 60_000);
}

/** Whether `GET /api/v1/whoami`'s caller may change configuration (scope `admin` or `agents`). */
export function canWrite(me: { scopes?: unknown } | null): boolean {
  const scopes = Array.isArray(me?.scopes) ? (me.scopes as unknown[]) : [];
  return scopes.includes('admin') || scopes.includes('agents');
}
