// The HTTP API, as any client uses it: Bearer token, JSON, Problem Details on errors.

const KEY = "deconf.token";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }

  // Every finding: the detail, then each named field (an import lists all its bad rows).
  describe() {
    const lines = [this.message];
    for (const e of this.problem.errors || []) lines.push(`${e.field}: ${e.message}`);
    return [...new Set(lines)].join("\n");
  }
}

export const session = {
  get token() { return sessionStorage.getItem(KEY); },
  set token(value) {
    if (value) sessionStorage.setItem(KEY, value);
    else sessionStorage.removeItem(KEY);
  },
};

export function headers(extra = {}) {
  return { Authorization: `Bearer ${session.token}`, ...extra };
}

async function problemOf(response) {
  try {
    return await response.json();
  } catch {
    return { title: response.statusText, detail: `HTTP ${response.status}` };
  }
}

export async function request(method, path, { body, query, ifMatch, raw } = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  const extra = {};
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    extra["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  if (ifMatch !== undefined) extra["If-Match"] = `"${ifMatch}"`;
  const response = await fetch(url, { method, headers: headers(extra), body: payload });
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  if (raw) return response;
  if (response.status === 204) return null;
  return response.json();
}

export const get = (path, query) => request("GET", path, { query });
export const post = (path, body, opts = {}) => request("POST", path, { body, ...opts });

// Every page of a list that answers {features, next} or a plain array.
export async function features(path, query = {}) {
  const found = [];
  let after;
  for (let page = 0; page < 100; page++) {
    const body = await get(path, { ...query, after });
    found.push(...body.features);
    if (!body.next) break;
    after = body.next;
  }
  return found;
}
