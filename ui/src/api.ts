// Thin fetch wrapper. Every API error is {"error":{"code","message"}}; it becomes an ApiError
// whose message is the server's plain sentence.

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public retryAfter: number | null = null,
  ) {
    super(message);
  }
}

async function toError(res: Response): Promise<ApiError> {
  let code = 'http_' + res.status;
  let message = res.statusText || 'request failed';
  try {
    const j = await res.json();
    if (j && j.error) {
      code = j.error.code || code;
      message = j.error.message || message;
    }
  } catch {
    /* not JSON */
  }
  if (res.status === 413 && code.startsWith('http_')) message = 'the upload is too large (10 MiB at most)';
  const ra = res.headers.get('Retry-After');
  return new ApiError(res.status, code, message, ra ? parseInt(ra, 10) || null : null);
}

/** Called when the session is gone (401 on an API call): the page goes to the login form. */
let onUnauthorized: () => void = () => {};
export function setUnauthorizedHandler(f: () => void) {
  onUnauthorized = f;
}

export async function api<T = unknown>(
  method: string,
  path: string,
  body?: unknown,
  opts: { noAuthRedirect?: boolean } = {},
): Promise<T> {
  const init: RequestInit = { method, credentials: 'same-origin', headers: {} };
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    (init.headers as Record<string, string>)['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'network', 'the daemon cannot be reached');
  }
  if (!res.ok) {
    const e = await toError(res);
    if (res.status === 401 && !opts.noAuthRedirect) onUnauthorized();
    throw e;
  }
  if (res.status === 204) return undefined as T;
  const ct = res.headers.get('Content-Type') || '';
  if (ct.includes('json')) return (await res.json()) as T;
  return undefined as T;
}

export const get = <T>(p: string) => api<T>('GET', p);
export const post = <T>(p: string, b?: unknown) => api<T>('POST', p, b);
export const patch = <T>(p: string, b?: unknown) => api<T>('PATCH', p, b);
export const del = <T>(p: string) => api<T>('DELETE', p);
export const put = <T>(p: string, b?: unknown) => api<T>('PUT', p, b);

export function errText(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

/** Runs `f` over `items` with at most `n` in flight; returns the errors by item. */
export async function pool<T>(items: T[], n: number, f: (x: T) => Promise<unknown>) {
  const errors: { item: T; error: unknown }[] = [];
  let i = 0;
  const worker = async () => {
    while (i < items.length) {
      const item = items[i++];
      try {
        await f(item);
      } catch (error) {
        errors.push({ item, error });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return errors;
}
