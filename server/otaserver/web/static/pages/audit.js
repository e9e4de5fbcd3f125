// #/audit: the tenant's audit log, newest first, filtered by action, user, time and entity name.
//
// The user filter lists who can have entries: the signed-in administrator, the users of every
// customer (GET /api/customer/{id}/users) and whoever appears in the latest 1000 entries (a
// tenant administrator may not list the tenant's other administrators: like ThingsBoard's
// /api/tenant/{id}/users, that is the system administrator's). Choosing one reads
// /api/audit/logs/user/{userId}, so the filter is exact, not a text match.

import { api } from "../api.js";
import {
  allPages, clear, dataTable, errorBox, field, formatTime, h, nextSort, pageTitle, pager, select,
} from "../ui.js";

const PAGE_SIZE = 25;
// The server's ActionType enum (server/otaserver/domain/enums.py).
export const ACTION_TYPES = [
  "ADDED", "UPDATED", "DELETED", "ASSIGNED_TO_CUSTOMER", "UNASSIGNED_FROM_CUSTOMER",
  "OTA_PACKAGE_UPLOADED", "OTA_PACKAGE_ASSIGNED", "OTA_PACKAGE_UNASSIGNED", "CREDENTIALS_UPDATED", "LOGIN",
];
const words = (name) => (name.charAt(0) + name.slice(1).toLowerCase().replaceAll("_", " "))
  .replace(/\bota\b/gi, "OTA");

async function knownUsers(me) {
  const users = new Map([[me.id.id, me.email]]);
  try {
    const recent = await api("/api/audit/logs", { query: { pageSize: 1000, page: 0, sortProperty: "createdTime", sortOrder: "DESC" } });
    for (const entry of recent.data) {
      if (entry.userId && entry.userName) users.set(entry.userId.id, entry.userName);
    }
    const customers = await allPages((page) => api("/api/customers", { query: { pageSize: 1000, page } }));
    for (const customer of customers) {
      const members = await allPages((page) => api(`/api/customer/${customer.id.id}/users`, { query: { pageSize: 1000, page } }));
      for (const member of members) users.set(member.id.id, `${member.email} (${customer.title})`);
    }
  } catch { /* the list is a convenience: the log itself still shows */ }
  return [...users].sort((a, b) => a[1].localeCompare(b[1]));
}

function toMs(value) {
  const ms = value ? new Date(value).getTime() : NaN;
  return Number.isNaN(ms) ? null : ms;
}

export async function render(main, { user }) {
  const state = { page: 0, sort: { property: "createdTime", order: "DESC" } };
  const list = h("section", { "aria-label": "Audit entries" });
  const action = select([["", "All actions"], ...ACTION_TYPES.map((a) => [a, words(a)])], "", { name: "actionType" });
  const who = select([["", "All users"], ...(await knownUsers(user))], "", { name: "user" });
  const from = h("input", { type: "datetime-local", name: "startTime", step: 1 });
  const until = h("input", { type: "datetime-local", name: "endTime", step: 1 });
  const search = h("input", { type: "search", name: "entityName" });
  let alive = true;
  // Only the latest load draws: an older answer arriving late must not replace a newer one.
  let loads = 0;

  async function load() {
    const ticket = ++loads;
    const path = who.value ? `/api/audit/logs/user/${who.value}` : "/api/audit/logs";
    let result;
    try {
      result = await api(path, {
        query: {
          pageSize: PAGE_SIZE, page: state.page, sortProperty: state.sort.property, sortOrder: state.sort.order,
          actionTypes: action.value, startTime: toMs(from.value), endTime: toMs(until.value),
          textSearch: search.value.trim(),
        },
      });
    } catch (error) {
      if (alive && ticket === loads) clear(list, errorBox(error));
      return;
    }
    if (!alive || ticket !== loads) return;
    clear(list,
      dataTable({
        caption: "Audit log entries, newest first unless sorted otherwise",
        columns: [
          { label: "Time", sort: "createdTime", render: (e) => formatTime(e.createdTime) },
          { label: "Entity type", sort: "entityType", render: (e) => (e.entityId ? words(e.entityId.entityType) : "") },
          { label: "Entity name", sort: "entityName", render: (e) => e.entityName || "" },
          { label: "User", sort: "userName", render: (e) => e.userName || "" },
          { label: "Action", sort: "type", render: (e) => words(e.actionType) },
          { label: "Status", sort: "status", render: (e) => h("span", {
            class: e.actionStatus === "SUCCESS" ? "tag ok" : "tag bad" }, words(e.actionStatus)) },
          { label: "Failure details", render: (e) => e.actionFailureDetails || "" },
        ],
        rows: result.data,
        sort: state.sort,
        onSort: (property) => { state.sort = nextSort(state.sort, property); load(); },
        empty: "No entries match these filters.",
        rowProps: (e) => ({ dataset: { action: e.actionType } }),
      }),
      pager({ page: state.page, totalPages: result.totalPages, totalElements: result.totalElements,
        onPage: (page) => { state.page = page; load(); } }));
  }

  const refilter = () => { state.page = 0; load(); };
  for (const control of [action, who, from, until]) control.addEventListener("change", refilter);
  let timer = null;
  search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(refilter, 300); });
  const filters = h("form", { class: "filters", "aria-label": "Filters", onsubmit: (event) => {
    event.preventDefault();
    refilter();
  } },
  field("Action", action),
  field("User", who),
  field("From", from),
  field("Until", until),
  field("Entity name", search),
  h("div", { class: "field" }, h("button", { type: "submit" }, "Apply")));

  clear(main, pageTitle("Audit log"), filters, list);
  await load();
  return () => { alive = false; clearTimeout(timer); };
}
