// The console's frame: who is signed in, the menu their role allows, and the page the address's
// hash names (#/packages/FIRMWARE...). Each page is a module under pages/ whose
// render(main, context) draws it and may return a function that stops what it started.

import { ApiError, session } from "./api.js";
import { announce, clear, errorBox, field, h } from "./ui.js";

// What each role may open, as ThingsBoard allows it: a customer user watches its devices,
// the system administrator manages tenants.
const MENUS = {
  TENANT_ADMIN: [
    ["dashboard", "Dashboard"],
    ["packages/FIRMWARE", "Firmware"],
    ["packages/SOFTWARE", "Software"],
    ["profiles", "Device profiles"],
    ["devices", "Devices"],
    ["audit", "Audit log"],
  ],
  CUSTOMER_USER: [["dashboard", "Dashboard"], ["devices", "Devices"]],
  SYS_ADMIN: [["tenants", "Tenants"]],
};

const PAGES = new Set(["dashboard", "packages", "package", "profiles", "devices", "audit", "tenants"]);

// `shown` counts navigations: a page that finishes loading after the address moved on draws
// nothing, so a slow page can never cover the one asked for after it.
const state = { user: null, stop: null, shown: 0 };

function route() {
  const [name = "", ...params] = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  return { name, params };
}

export function navigate(path) {
  location.hash = `#/${path}`;
}

function renderNav() {
  const nav = document.getElementById("nav");
  const account = document.getElementById("account");
  if (!state.user) {
    clear(nav);
    clear(account);
    return;
  }
  const current = location.hash.replace(/^#\/?/, "");
  clear(nav, h("ul", {}, (MENUS[state.user.authority] || []).map(([path, label]) =>
    h("li", {}, h("a", {
      href: `#/${path}`,
      "aria-current": current === path || current.startsWith(`${path}/`) ? "page" : null,
    }, label)))));
  clear(account,
    h("span", { class: "who" }, state.user.email),
    h("button", { type: "button", onclick: signOut }, "Log out"));
}

async function signOut() {
  try {
    await session.logout();
  } finally {
    showLogin();
  }
}

function showLogin(message) {
  stopPage();
  state.shown += 1;
  state.user = null;
  renderNav();
  const main = document.getElementById("main");
  const email = h("input", { type: "email", name: "username", autocomplete: "username", required: true });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const problem = h("div", {});
  const form = h("form", { class: "login", onsubmit: async (event) => {
    event.preventDefault();
    clear(problem);
    try {
      state.user = await session.login(email.value, password.value);
      announce(`Signed in as ${state.user.email}`);
      if (!route().name || !allowed(route().name)) navigate(home());
      else await show();
    } catch (error) {
      clear(problem, errorBox(error));
    }
  } },
  h("h1", {}, "Log in to otakit"),
  message ? h("p", { class: "error", role: "alert" }, message) : null,
  field("Email", email),
  field("Password", password),
  problem,
  h("button", { type: "submit", class: "primary" }, "Log in"));
  clear(main, form);
  email.focus();
}

function home() {
  return (MENUS[state.user.authority] || [["dashboard"]])[0][0];
}

function allowed(name) {
  const menu = MENUS[state.user.authority] || [];
  if (name === "package") return menu.some(([path]) => path.startsWith("packages"));
  return menu.some(([path]) => path.split("/")[0] === name);
}

function stopPage() {
  if (state.stop) {
    try { state.stop(); } catch { /* the page is going anyway */ }
    state.stop = null;
  }
}

async function show() {
  stopPage();
  const { name, params } = route();
  if (!state.user) return showLogin();
  if (!PAGES.has(name) || !allowed(name)) return navigate(home());
  renderNav();
  const shown = ++state.shown;
  // Each page draws into a box of its own: once the address moves on, a late page's drawing
  // lands in a box no longer on screen.
  const canvas = h("div", { class: "page" }, h("p", {}, "Loading…"));
  clear(document.getElementById("main"), canvas);
  try {
    const page = await import(`./pages/${name}.js`);
    const stop = await page.render(canvas, { user: state.user, params, navigate });
    if (shown !== state.shown) {
      if (typeof stop === "function") stop();
      return undefined;
    }
    state.stop = typeof stop === "function" ? stop : null;
  } catch (error) {
    if (shown !== state.shown) return undefined;
    if (error instanceof ApiError && error.status === 401) return showLogin("Your session ended: log in again.");
    clear(canvas, errorBox(error));
  }
  return undefined;
}

window.addEventListener("hashchange", show);
window.addEventListener("otakit:signed-out", () => showLogin("Your session ended: log in again."));

async function start() {
  try {
    state.user = await session.user();
  } catch {
    return showLogin();
  }
  if (!route().name) return navigate(home());
  return show();
}

start();
