// The JSON API client. The access token lives in memory only; the refresh token is an
// HttpOnly cookie that page scripts cannot read (docs/web.md, "Browser sessions").

const SESSION = "/api/v1/auth/web";
let access = null; // {token, expiresAt (ms)}
let refreshing = null;

/** An error answer of the API: `status`, the server's `code` and its message in words. */
export class ApiError extends Error {
  constructor(status, code, message, body = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

/** Remember the access token of a session answer ({accessToken, expiresAt}). */
export function setAccess(answer) {
  access = answer && answer.accessToken
    ? { token: answer.accessToken, expiresAt: Date.parse(answer.expiresAt) }
    : null;
}

/** Whether an access token is held (the user is signed in in this tab). */
export function hasAccess() {
  return access !== null;
}

/** The Authorization header for the current session ({} when signed out). */
export async function authHeaders() {
  if (access && access.expiresAt - Date.now() < 30_000) await refresh();
  return access ? { Authorization: `Bearer ${access.token}` } : {};
}

/** Exchange the refresh cookie for a new access token; resolves to the session answer
 * ({user, accessToken, expiresAt}) or null when there is no session. One at a time. */
export function refresh() {
  if (!refreshing) {
    refreshing = fetch(`${SESSION}/refresh`, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(async (r) => {
        if (!r.ok) {
          access = null;
          return null;
        }
        const answer = await r.json();
        setAccess(answer);
        return answer;
      })
      .catch(() => null)
      .finally(() => {
        refreshing = null;
      });
  }
  return refreshing;
}

async function errorOf(response) {
  let body = {};
  try {
    body = await response.json();
  } catch {
    body = {};
  }
  const message = body.error || response.statusText || "The server did not answer";
  return new ApiError(response.status, body.code || "http_error", message, body);
}

/** Call the API: `api("/api/v1/files", {method, body, query, raw, signal})`. `body` is
 * sent as JSON unless `raw` is set (a Blob or File, sent as is with its type). Answers
 * the parsed JSON (null for 204), or throws ApiError with the server's message. */
export async function api(path, options = {}) {
  const { method = "GET", body, query, raw, signal, headers = {} } = options;
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  }
  const send = async () => {
    const h = { Accept: "application/json", ...(await authHeaders()), ...headers };
    let payload;
    if (raw !== undefined) {
      payload = raw;
      if (raw && raw.type && !h["Content-Type"]) h["Content-Type"] = raw.type;
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
      h["Content-Type"] = "application/json";
    }
    return fetch(url, { method, headers: h, body: payload, signal, credentials: "same-origin" });
  };
  let response = await send();
  if (response.status === 401 && access) {
    // The access token expired or was revoked: one refresh, one retry.
    if (await refresh()) response = await send();
  }
  if (!response.ok) throw await errorOf(response);
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.blob();
}

/** Upload `body` with progress (fetch has no upload progress): resolves to the JSON
 * answer, rejects with ApiError, or with an AbortError when `signal` aborts (also when
 * it aborted before the request started). The access token goes only to this origin,
 * never to another host (a storage bucket's presigned URL). */
export function upload(url, { method = "PUT", body, headers = {}, onProgress, signal } = {}) {
  const own = new URL(url, location.origin).origin === location.origin;
  return (own ? authHeaders() : Promise.resolve({})).then(
    (auth) =>
      new Promise((resolve, reject) => {
        if (signal && signal.aborted) {
          reject(new DOMException("Upload cancelled", "AbortError"));
          return;
        }
        const xhr = new XMLHttpRequest();
        xhr.open(method, url);
        xhr.setRequestHeader("Accept", "application/json");
        for (const [k, v] of Object.entries({ ...auth, ...headers })) xhr.setRequestHeader(k, v);
        xhr.upload.onprogress = (e) => onProgress && e.lengthComputable && onProgress(e.loaded, e.total);
        xhr.onload = () => {
          let answer = {};
          try {
            answer = xhr.responseText ? JSON.parse(xhr.responseText) : {};
          } catch {
            answer = {};
          }
          if (xhr.status >= 200 && xhr.status < 300) resolve(answer);
          else reject(new ApiError(xhr.status, answer.code || "http_error", answer.error || `The server answered ${xhr.status}`, answer));
        };
        xhr.onerror = () => reject(new ApiError(0, "network_error", "The connection was lost"));
        xhr.onabort = () => reject(new DOMException("Upload cancelled", "AbortError"));
        if (signal) signal.addEventListener("abort", () => xhr.abort(), { once: true });
        xhr.send(body);
      }),
  );
}

/** Sign in, sign up or sign out through the cookie session endpoints. */
export async function session(action, body) {
  const response = await fetch(`${SESSION}/${action}`, {
    method: "POST",
    credentials: "same-origin",
    headers: { Accept: "application/json", "Content-Type": "application/json" },
    body: JSON.stringify(body || {}),
  });
  if (!response.ok) throw await errorOf(response);
  if (response.status === 204) {
    access = null;
    return null;
  }
  const answer = await response.json();
  setAccess(answer);
  return answer;
}
