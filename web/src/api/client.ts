// How the UI talks to the server: same-origin fetch with the session cookie, the CSRF header on
// every request that changes state, errors as `ApiError` with the server's `{error: {code,
// message, details}}`.
import type { ErrorBody } from './types';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  constructor(status: number, code: string, message: string, details: unknown) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

let csrfToken: string | null = null;

/** Set by the session layer after login (or after reading the session on load). */
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

export const API = '/api/v1';

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RequestOptions {
  body?: unknown;
  /** Send `body` (a string) as YAML instead of JSON. */
  yaml?: boolean;
  query?: Record<string, string | number | undefined>;
  signal?: AbortSignal;
}

function isErrorBody(v: unknown): v is ErrorBody {
  return typeof v === 'object' && v !== null && 'error' in v;
}

export function queryString(query: RequestOptions['query']): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== '') params.set(k, String(v));
  }
  const s = params.toString();
  return s ? `?${s}` : '';
}

export async function request<T>(method: Method, path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  let body: string | undefined;
  if (opts.body !== undefined) {
    if (opts.yaml) {
      headers['Content-Type'] = 'application/yaml';
      body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    } else {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }
  }
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  const init: RequestInit = { method, headers, credentials: 'same-origin' };
  if (body !== undefined) init.body = body;
  if (opts.signal) init.signal = opts.signal;
  const res = await fetch(`${API}${path}${queryString(opts.query)}`, init);
  const text = await res.text();
  let json: unknown = null;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
  }
  if (!res.ok) {
    if (isErrorBody(json)) {
      throw new ApiError(res.status, json.error.code, json.error.message, json.error.details);
    }
    throw new ApiError(res.status, 'http', `${res.status} ${res.statusText}`, null);
  }
  return json as T;
}

export const api = {
  get: <T>(path: string, opts?: RequestOptions) => request<T>('GET', path, opts),
  post: <T>(path: string, opts?: RequestOptions) => request<T>('POST', path, opts),
  put: <T>(path: string, opts?: RequestOptions) => request<T>('PUT', path, opts),
  del: <T>(path: string, opts?: RequestOptions) => request<T>('DELETE', path, opts),
};

export function enc(s: string): string {
  return encodeURIComponent(s);
}
