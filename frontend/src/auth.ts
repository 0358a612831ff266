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
