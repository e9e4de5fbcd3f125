// The console's one way to the REST API: same origin, the session cookie, the CSRF header on
// every change, and the API's one error shape turned into an ApiError with its message.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

export function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...value] = part.trim().split("=");
    if (key === name) return decodeURIComponent(value.join("="));
  }
  return "";
}

function csrfHeaders(method) {
  return SAFE.has(method) ? {} : { "X-CSRF-Token": cookie("otakit_csrf") };
}

export function withQuery(path, query) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

async function errorOf(response) {
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body && body.message) message = body.message;
  } catch {
    // not JSON: the status line says enough
  }
  return new ApiError(response.status, message);
}

let refreshing = null;

// An expired access token is renewed once from the refresh cookie; if that fails too the
// console shows the login form.
async function refresh() {
  refreshing ??= fetch("/api/web/session/refresh", {
    method: "POST",
    headers: csrfHeaders("POST"),
    credentials: "same-origin",
  }).then((response) => response.ok).finally(() => { refreshing = null; });
  return refreshing;
}

export async function api(path, { method = "GET", body, query, raw = false } = {}) {
  const send = () => fetch(withQuery(path, query), {
    method,
    credentials: "same-origin",
    headers: {
      ...csrfHeaders(method),
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      Accept: "application/json",
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let response = await send();
  if (response.status === 401 && !path.startsWith("/api/web/session")) {
    if (await refresh()) {
      response = await send();
    }
    if (response.status === 401) {
      window.dispatchEvent(new CustomEvent("otakit:signed-out"));
    }
  }
  if (!response.ok) throw await errorOf(response);
  if (raw) return response;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

// A file sent as ThingsBoard's multipart upload, with its progress (0..1) reported as it goes:
// fetch() cannot report upload progress, XMLHttpRequest can.
export function upload(path, query, file, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", withQuery(path, query));
    request.setRequestHeader("X-CSRF-Token", cookie("otakit_csrf"));
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    request.addEventListener("load", () => {
      let body = null;
      try { body = JSON.parse(request.responseText); } catch { body = null; }
      if (request.status >= 200 && request.status < 300) {
        onProgress(1);
        resolve(body);
      } else {
        reject(new ApiError(request.status, (body && body.message) || `${request.status}`));
      }
    });
    request.addEventListener("error", () => reject(new ApiError(0, "The upload was interrupted")));
    const form = new FormData();
    form.append("file", file, file.name);
    request.send(form);
  });
}

export const session = {
  user: () => api("/api/auth/user"),
  login: (username, password) => api("/api/web/session", {
    method: "POST", body: { username, password },
  }),
  logout: () => api("/api/web/session", { method: "DELETE" }),
};

// ThingsBoard's entity ids are objects: {"entityType": "OTA_PACKAGE", "id": "..."}.
export const idOf = (entityId) => (entityId && entityId.id) || null;
