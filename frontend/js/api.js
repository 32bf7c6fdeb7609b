// JSON API client: same-origin cookies, the CSRF token on every state-changing call.

let csrfToken = null;

export class ApiError extends Error {
  constructor(status, body, retryAfter = null) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.code = (body && body.error) || "http_error";
    this.detail = (body && body.detail) || null;
    // Seconds to wait before trying again (a 429's or 503's Retry-After), or null.
    this.retryAfter = retryAfter === null ? null : Number(retryAfter);
  }
}

export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && method !== "HEAD" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) throw new ApiError(response.status, data, response.headers.get("Retry-After"));
  return data;
}

function setCsrf(token) {
  csrfToken = token || null;
}

/** The logged-in user ({user, csrf_token}), or null when not logged in. */
export async function me() {
  try {
    const data = await api("GET", "/api/me");
    setCsrf(data.csrf_token);
    return data;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}

/** The user, or a redirect to the login page (which comes back here). */
export async function requireLogin() {
  const who = await me();
  if (!who) {
    const next = location.pathname + location.search;
    location.assign(`/login?next=${encodeURIComponent(next)}`);
    throw new Error("redirecting to login");
  }
  return who;
}

export async function logout() {
  await api("POST", "/api/logout");
  location.assign("/login");
}

/** A field-level message from a 422 (loc joined by dots), for form errors. */
export function fieldErrors(error) {
  const out = {};
  for (const item of (error && error.detail) || []) {
    const loc = (item.loc || []).filter((p) => p !== "body").join(".");
    out[loc] = item.msg;
  }
  return out;
}
