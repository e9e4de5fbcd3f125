// The firmware (and software) dashboard: ThingsBoard's four cards and device table, with
// filters, a stuck view, each device's history, two charts, CSV export, and live updates
// pushed by the server (Server-Sent Events): the page never polls for data.

import { api, ApiError, idOf, withQuery } from "../api.js";
import { durationChart, timelineChart } from "../charts.js";
import {
  announce, clear, errorBox, field, formatDuration, formatTime, h, openDialog, pageTitle, pager, select,
} from "../ui.js";

const TYPES = [["FIRMWARE", "Firmware"], ["SOFTWARE", "Software"]];
const CARDS = [
  ["waiting", "Waiting", "Queued"],
  ["updating", "Updating", "Initiated to updating"],
  ["updated", "Updated", "Done"],
  ["failed", "Failed", "Need attention"],
];
const TAB_OF = {
  QUEUED: "waiting",
  INITIATED: "updating",
  DOWNLOADING: "updating",
  DOWNLOADED: "updating",
  VERIFIED: "updating",
  UPDATING: "updating",
  UPDATED: "updated",
  FAILED: "failed",
};
const PERIODS = [["3600000", "Last hour"], ["21600000", "Last 6 hours"], ["86400000", "Last 24 hours"], ["604800000", "Last 7 days"]];
const PAGE_SIZES = ["10", "20", "50", "100"];
const RELOAD_GAP_MS = 1000; // the table is re-read at most once a second
const KEPT_EVENTS = 1000;
const DURATIONS_GAP_MS = 10000;

// Kept while the console is open, so coming back to the dashboard shows what was chosen.
const remembered = {
  type: "FIRMWARE", packageId: "", profileId: "", tab: "", search: "", pageSize: 20,
  sort: { property: "", order: "DESC" }, stuck: false, staleMinutes: 30, period: "86400000",
};

function clockText(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}

function packageText(title, version) {
  if (title === null || title === undefined || title === "") return "";
  return version === null || version === undefined || version === "" ? String(title) : `${title} ${version}`;
}

function liveRecord() {
  window.otakitLive ??= { events: [] };
  return window.otakitLive;
}

export async function render(main, { user }) {
  const state = { ...remembered, sort: { ...remembered.sort }, page: 0 };
  const customer = user.authority === "CUSTOMER_USER";
  let stopped = false;
  let source = null;
  let reopenTimer = null;
  let reloadTimer = null;
  let searchTimer = null;
  let lastReload = 0;
  let tableSeq = 0;
  let sseSeen = false; // a pushed count is newer than any count read by a request
  let rows = []; // the table page as shown
  const rowElements = new Map(); // device id -> <tr>
  let timeline = null;
  let counts = null;
  let packages = [];
  let profiles = [];

  const keep = () => Object.assign(remembered, { ...state, sort: { ...state.sort } });
  const filterQuery = () => ({
    type: state.type, otaPackageId: state.packageId, deviceProfileId: state.profileId,
  });
  const staleForMs = () => (state.stuck ? Math.max(1, Math.round(Number(state.staleMinutes || 0) * 60000)) : "");
  const listQuery = () => ({
    ...filterQuery(),
    tab: state.tab,
    textSearch: state.search.trim(),
    staleForMs: staleForMs(),
  });

  // ---- the head: title, live indicator, export ----
  const liveState = h("span", { class: "live-state" }, "Connecting…");
  const liveTime = h("span", { class: "live-time", "aria-hidden": "true" });
  const liveSaid = h("span", { class: "visually-hidden" });
  const live = h("p", { class: "live connecting", role: "status", "aria-live": "polite" },
    h("span", { class: "dot", "aria-hidden": "true" }), liveState, liveTime, liveSaid);
  const exportLink = h("a", { class: "button", download: "ota-devices.csv", href: "#" }, "Export CSV");
  const title = h("h1", {}, "Firmware dashboard");
  const head = h("div", { class: "page-head" }, title, h("div", { class: "actions" }, live, exportLink));

  // ---- filters ----
  const typeSelect = select(TYPES, state.type, { name: "type" });
  const packageSelect = select([["", "All packages"]], "", { name: "package" });
  const profileSelect = select([["", "All profiles"]], "", { name: "profile" });
  const filters = h("form", { class: "toolbar dash-filters", "aria-label": "Filters", onsubmit: (e) => e.preventDefault() },
    field("Package type", typeSelect), field("Package", packageSelect),
    customer ? null : field("Device profile", profileSelect));

  // ---- cards ----
  const cardCounts = {};
  const cardButtons = {};
  const cards = h("div", { class: "cards dash-cards" }, CARDS.map(([tab, label, hint]) => {
    cardCounts[tab] = h("span", { class: "count" }, "–");
    cardButtons[tab] = h("button", {
      type: "button", class: `card ${tab}`, "aria-pressed": "false",
      onclick: () => setTab(state.tab === tab ? "" : tab),
    }, h("span", { class: "label" }, label), " ", cardCounts[tab], h("small", { class: "hint" }, hint));
    return cardButtons[tab];
  }));
  const total = h("p", { class: "total" });

  // ---- table tools ----
  const searchInput = h("input", { type: "search", name: "search", value: state.search, autocomplete: "off" });
  const stuckBox = h("input", { type: "checkbox", name: "stuck", checked: state.stuck });
  const staleInput = h("input", { type: "number", name: "stale", min: "0", step: "any", value: String(state.staleMinutes), inputmode: "decimal" });
  const sizeSelect = select(PAGE_SIZES, String(state.pageSize), { name: "pageSize" });
  const stuckId = `stuck-${Math.random().toString(36).slice(2, 8)}`;
  stuckBox.id = stuckId;
  const tools = h("form", { class: "toolbar dash-tools", "aria-label": "Device table", onsubmit: (e) => { e.preventDefault(); reloadNow(0); } },
    field("Search device name", searchInput),
    h("div", { class: "field check" }, h("span", { class: "check-row" }, stuckBox, h("label", { for: stuckId }, "Only stuck devices"))),
    field("Unchanged for at least (minutes)", staleInput),
    field("Rows per page", sizeSelect));
  const tableHeading = h("h2", { id: "dash-table-title" }, "Devices");
  const showAll = h("button", { type: "button", class: "show-all", hidden: true, onclick: () => setTab("") }, "Show all devices");
  const tableProblem = h("div", {});
  const tableHost = h("div", {});
  const pagerHost = h("div", {});

  // ---- charts ----
  const periodSelect = select(PERIODS, state.period, { name: "period" });
  const timelineHost = h("div", { class: "chart-host" }, h("p", { class: "muted" }, "Loading the chart…"));
  const durationHost = h("div", { class: "chart-host" }, h("p", { class: "muted" }, "Loading the chart…"));
  const charts = h("section", { class: "charts", "aria-labelledby": "dash-charts-title" },
    h("div", { class: "page-head" }, h("h2", { id: "dash-charts-title" }, "Trends"),
      h("div", { class: "toolbar" }, field("Period", periodSelect))),
    h("div", { class: "chart-grid" }, h("div", { class: "panel" }, timelineHost), h("div", { class: "panel" }, durationHost)));

  clear(main, head, filters, cards, total,
    h("section", { class: "dash-devices", "aria-labelledby": "dash-table-title" },
      h("div", { class: "page-head" }, tableHeading, showAll), tools, tableProblem, tableHost, pagerHost),
    charts);

  // ---- cards and counts ----
  function setCounts(found) {
    counts = found;
    for (const [tab] of CARDS) {
      const value = found[tab] ?? 0;
      cardCounts[tab].textContent = String(value);
      if (tab === "failed") cardButtons[tab].classList.toggle("alert", value > 0);
    }
    const all = found.total ?? 0;
    total.textContent = `${all} device${all === 1 ? "" : "s"} with a ${state.type === "SOFTWARE" ? "software" : "firmware"} update status`;
  }

  function markTab() {
    for (const [tab, label] of CARDS) {
      cardButtons[tab].setAttribute("aria-pressed", String(state.tab === tab));
      cardButtons[tab].classList.toggle("selected", state.tab === tab);
      if (state.tab === tab) tableHeading.textContent = `Devices: ${label.toLowerCase()}`;
    }
    if (!state.tab) tableHeading.textContent = state.stuck ? "Devices: stuck" : "Devices";
    else if (state.stuck) tableHeading.textContent += ", stuck";
    showAll.hidden = !state.tab;
  }

  function setTab(tab) {
    state.tab = tab;
    markTab();
    reloadNow(0);
  }

  function updateExport() {
    exportLink.href = withQuery("/api/ota/dashboard/devices.csv", listQuery());
  }

  // ---- the table ----
  const columns = [
    { label: "Device", sort: "deviceName", cell: (row) => h("span", { class: "device-name" }, row.deviceName) },
    { label: "Current", cell: (row) => packageText(row.currentTitle, row.currentVersion) },
    { label: "Target", cell: (row) => packageText(row.targetTitle, row.targetVersion) },
    { label: "Last change", sort: "lastChange", cell: (row) => (row.lastChange ? h("time", { datetime: new Date(row.lastChange).toISOString() }, formatTime(row.lastChange)) : "") },
    { label: "Progress", sort: "progress", cell: progressCell },
    { label: "Status", sort: "status", cell: (row) => row.status ? h("span", { class: `status status-${TAB_OF[row.status] || "other"}` }, row.status) : "" },
    { label: "Error", cell: (row) => row.error ? h("span", { class: "error-text" }, row.error) : "" },
    { label: "Retries", sort: "retries", cell: (row) => String(row.retries ?? 0) },
    { label: "History", cell: (row) => h("button", { type: "button", class: "history", onclick: () => showHistory(row) },
      "History", h("span", { class: "visually-hidden" }, ` of ${row.deviceName}`)) },
  ];

  function progressCell(row) {
    if (row.progress === null || row.progress === undefined) return "";
    const failed = row.status === "FAILED";
    return h("span", { class: `progress${failed ? " failed" : ""}` },
      h("progress", { max: 100, value: row.progress, "aria-label": `Progress of ${row.deviceName}` }),
      h("span", { class: "percent" }, `${row.progress} %`));
  }

  function rowElement(row) {
    return h("tr", { dataset: { device: idOf(row.deviceId) || "", status: row.status || "" } },
      columns.map((column, i) => (i === 0
        ? h("th", { scope: "row", "data-label": column.label }, column.cell(row))
        : h("td", { "data-label": column.label }, column.cell(row)))));
  }

  function headerCell(column) {
    if (!column.sort) return h("th", { scope: "col" }, column.label);
    const active = state.sort.property === column.sort;
    const order = active ? (state.sort.order === "ASC" ? "ascending" : "descending") : "none";
    return h("th", { scope: "col", "aria-sort": order },
      h("button", { class: "sort", type: "button", onclick: () => sortBy(column.sort) },
        column.label, active ? (state.sort.order === "ASC" ? " ▲" : " ▼") : ""));
  }

  function sortBy(property) {
    if (state.sort.property === property) state.sort.order = state.sort.order === "ASC" ? "DESC" : "ASC";
    else state.sort = { property, order: property === "deviceName" ? "ASC" : "DESC" };
    reloadNow(0);
  }

  function drawTable(page) {
    rows = page.data;
    rowElements.clear();
    const body = h("tbody", {});
    for (const row of rows) {
      const tr = rowElement(row);
      rowElements.set(idOf(row.deviceId), tr);
      body.append(tr);
    }
    if (!rows.length) {
      body.append(h("tr", {}, h("td", { colspan: columns.length, class: "empty" },
        state.stuck ? "No device is stuck for that long." : "No device matches.")));
    }
    clear(tableHost, h("div", { class: "table-wrap" }, h("table", { class: "dash-table" },
      h("caption", {}, `${page.totalElements} device${page.totalElements === 1 ? "" : "s"}`
        + (state.tab ? ` in ${state.tab}` : "") + (state.stuck ? ", not changed for a while" : "")
        + (state.sort.property ? "" : ", latest change first")),
      h("thead", {}, h("tr", {}, columns.map(headerCell))), body)));
    clear(pagerHost, pager({ page: state.page, totalPages: page.totalPages, totalElements: page.totalElements, onPage: (n) => reloadNow(n) }));
  }

  async function loadTable() {
    const seq = ++tableSeq;
    lastReload = Date.now();
    updateExport();
    const query = { ...listQuery(), pageSize: state.pageSize, page: state.page };
    if (state.sort.property) Object.assign(query, { sortProperty: state.sort.property, sortOrder: state.sort.order });
    try {
      const page = await api("/api/ota/dashboard/devices", { query });
      if (stopped || seq !== tableSeq) return;
      clear(tableProblem);
      drawTable(page);
    } catch (error) {
      if (stopped || seq !== tableSeq) return;
      clear(tableProblem, errorBox(error));
    }
  }

  function reloadNow(page = state.page) {
    state.page = page;
    keep();
    clearTimeout(reloadTimer);
    reloadTimer = null;
    return loadTable();
  }

  // A pushed change may need the page read again: at most once a second, the last one kept.
  function reloadSoon() {
    if (reloadTimer) return;
    const wait = Math.max(0, lastReload + RELOAD_GAP_MS - Date.now());
    reloadTimer = setTimeout(() => { reloadTimer = null; if (!stopped) loadTable(); }, wait);
  }

  function inView(row) {
    if (state.tab && TAB_OF[row.status] !== state.tab) return false;
    const search = state.search.trim().toLowerCase();
    return !search || String(row.deviceName).toLowerCase().includes(search);
  }

  function applyChange(data) {
    let reread = Boolean(data.truncated);
    for (const row of data.devices || []) {
      const id = idOf(row.deviceId);
      const tr = rowElements.get(id);
      if (tr) {
        if (state.stuck || !inView(row)) { reread = true; continue; }
        const fresh = rowElement(row);
        tr.replaceWith(fresh);
        rowElements.set(id, fresh);
        rows = rows.map((old) => (idOf(old.deviceId) === id ? row : old));
      } else if (!state.stuck && inView(row)) {
        reread = true;
      }
    }
    if (reread) reloadSoon();
  }

  // ---- live feed ----
  // What a benchmark reads (benchmarks/console.py): per event, the fleet's total and how long
  // after the server took each change the page had it (the server and browser clocks agree
  // when both run on one machine).
  function record(data) {
    const log = liveRecord();
    const received = Date.now();
    const rows = data.devices || [];
    log.events.push({
      at: data.at,
      received,
      devices: rows.length,
      total: data.counts ? data.counts.total : null,
      lags: rows.filter((row) => row.lastChange).map((row) => received - row.lastChange),
    });
    if (log.events.length > KEPT_EVENTS) log.events.splice(0, log.events.length - KEPT_EVENTS);
  }

  function showLive(connected, at) {
    const text = connected ? "Live" : "Reconnecting…";
    if (liveState.textContent !== text) {
      liveState.textContent = text;
      // Said only when the connection changes, not at every update.
      liveSaid.textContent = connected ? " updates arrive as they happen" : " live updates paused";
    }
    live.classList.toggle("connected", connected);
    live.classList.toggle("reconnecting", !connected);
    live.classList.remove("connecting");
    if (at) liveTime.textContent = ` · updated ${clockText(at)}`;
  }

  function onEvent(message, change) {
    if (stopped) return;
    let data;
    try { data = JSON.parse(message.data); } catch { return; }
    sseSeen = true;
    record(data);
    showLive(true, data.at || Date.now());
    if (data.counts) {
      const before = counts;
      setCounts(data.counts);
      liveTimeline(data.counts, data.at);
      if (before && before.updated !== data.counts.updated) durationsSoon();
    }
    if (change) applyChange(data);
  }

  function openFeed() {
    closeFeed();
    if (stopped) return;
    const feed = new EventSource(withQuery("/api/ota/dashboard/events", filterQuery()));
    source = feed;
    feed.addEventListener("counts", (m) => onEvent(m, false));
    feed.addEventListener("change", (m) => onEvent(m, true));
    feed.addEventListener("open", () => { if (!stopped) showLive(true); });
    feed.addEventListener("error", () => {
      if (stopped || source !== feed) return;
      showLive(false);
      // EventSource retries by itself after a dropped stream; after a refused one (an expired
      // login, a server restarting) it gives up, so the page opens a new one.
      if (feed.readyState === EventSource.CLOSED) {
        clearTimeout(reopenTimer);
        reopenTimer = setTimeout(async () => {
          try {
            await api("/api/auth/user"); // renews an expired login from its refresh cookie
          } catch (error) {
            if (error instanceof ApiError && error.status === 401) return;
          }
          if (!stopped && source === feed) openFeed();
        }, 3000);
      }
    });
  }

  function closeFeed() {
    clearTimeout(reopenTimer);
    if (source) source.close();
    source = null;
  }

  // ---- counts read once (the feed's first event brings them too) ----
  let countsSeq = 0;
  async function loadCounts() {
    const seq = ++countsSeq;
    try {
      const found = await api("/api/ota/dashboard/counts", { query: filterQuery() });
      if (!stopped && seq === countsSeq && !sseSeen) setCounts(found);
    } catch (error) {
      if (!stopped && seq === countsSeq) clear(tableProblem, errorBox(error));
    }
  }

  // ---- charts (after the table and the cards) ----
  function drawTimeline() {
    if (timeline) clear(timelineHost, timelineChart(timeline));
  }

  let timelineDrawn = 0;
  let timelineTimer = null;
  function liveTimeline(found, at) {
    if (!timeline || !timeline.points.length) return;
    const points = timeline.points;
    const now = at || Date.now();
    points[points.length - 1] = { ts: Math.max(points[points.length - 1].ts, now), ...pick(found) };
    timeline.endTs = Math.max(timeline.endTs, now);
    // Redrawn at most once a second.
    if (timelineTimer) return;
    const wait = Math.max(0, timelineDrawn + 1000 - Date.now());
    timelineTimer = setTimeout(() => { timelineTimer = null; timelineDrawn = Date.now(); if (!stopped) drawTimeline(); }, wait);
  }

  const pick = (found) => ({ waiting: found.waiting, updating: found.updating, updated: found.updated, failed: found.failed });

  // More devices updated: the time-to-update figures are read again, at most every 10 s.
  let durationsTimer = null;
  let durationsRead = 0;
  function durationsSoon() {
    if (durationsTimer) return;
    const wait = Math.max(0, durationsRead + DURATIONS_GAP_MS - Date.now());
    durationsTimer = setTimeout(async () => {
      durationsTimer = null;
      durationsRead = Date.now();
      const seq = chartsSeq;
      try {
        const spread = await api("/api/ota/dashboard/durations", { query: filterQuery() });
        if (!stopped && seq === chartsSeq) clear(durationHost, durationChart(spread));
      } catch {
        // the figures shown stay; the next change tries again
      }
    }, wait);
  }

  let chartsSeq = 0;
  async function loadCharts() {
    const seq = ++chartsSeq;
    timeline = null;
    durationsRead = Date.now();
    const endTs = Date.now();
    const startTs = endTs - Number(state.period);
    const query = filterQuery();
    const [line, spread] = await Promise.allSettled([
      api("/api/ota/dashboard/timeline", { query: { ...query, startTs, endTs, buckets: 60 } }),
      api("/api/ota/dashboard/durations", { query }),
    ]);
    if (stopped || seq !== chartsSeq) return;
    if (line.status === "fulfilled") {
      timeline = line.value;
      if (counts && timeline.points.length) liveTimeline(counts, null);
      drawTimeline();
    } else clear(timelineHost, errorBox(line.reason));
    if (spread.status === "fulfilled") clear(durationHost, durationChart(spread.value));
    else clear(durationHost, errorBox(spread.reason));
  }

  // ---- the history dialog ----
  async function showHistory(row) {
    const id = idOf(row.deviceId);
    const body = h("div", { class: "history-body" }, h("p", {}, "Loading…"));
    openDialog(`Update history of ${row.deviceName}`, body);
    try {
      const entries = await api(`/api/ota/device/${encodeURIComponent(id)}/history`, { query: { type: state.type } });
      clear(body, historyTable(entries));
    } catch (error) {
      clear(body, errorBox(error));
    }
  }

  function historyTable(entries) {
    if (!entries.length) return h("p", {}, "This device has reported no status yet.");
    return h("div", { class: "table-wrap" }, h("table", { class: "history-table" },
      h("caption", {}, `${entries.length} status${entries.length === 1 ? "" : "es"}, oldest first`),
      h("thead", {}, h("tr", {}, ["Time", "Status", "Package", "Time in this state", "Error"].map((text) => h("th", { scope: "col" }, text)))),
      h("tbody", {}, entries.map((entry) => h("tr", { dataset: { status: entry.status } },
        h("th", { scope: "row", "data-label": "Time" }, h("time", { datetime: new Date(entry.ts).toISOString() }, formatTime(entry.ts))),
        h("td", { "data-label": "Status" }, h("span", { class: `status status-${TAB_OF[entry.status] || "other"}` }, entry.status)),
        h("td", { "data-label": "Package" }, packageText(entry.title, entry.version)),
        h("td", { "data-label": "Time in this state" }, entry.durationMs === null || entry.durationMs === undefined ? "until now" : formatDuration(entry.durationMs)),
        h("td", { "data-label": "Error" }, entry.error ? h("span", { class: "error-text" }, entry.error) : ""))))));
  }

  // ---- filter choices ----
  function fillPackages() {
    const shown = packages.filter((p) => p.type === state.type
      && (!state.profileId || idOf(p.deviceProfileId) === state.profileId));
    if (!shown.some((p) => idOf(p.id) === state.packageId)) state.packageId = "";
    clear(packageSelect, h("option", { value: "" }, "All packages"),
      shown.map((p) => h("option", { value: idOf(p.id), selected: idOf(p.id) === state.packageId }, packageText(p.title, p.version))));
  }

  function fillProfiles() {
    if (!profiles.some((p) => idOf(p.id) === state.profileId)) state.profileId = "";
    clear(profileSelect, h("option", { value: "" }, "All profiles"),
      profiles.map((p) => h("option", { value: idOf(p.id), selected: idOf(p.id) === state.profileId }, p.name)));
  }

  async function loadChoices() {
    const [found, foundProfiles] = await Promise.allSettled([
      api("/api/otaPackages", { query: { pageSize: 1000, page: 0, sortProperty: "title", sortOrder: "ASC" } }),
      customer ? Promise.resolve({ data: [] })
        : api("/api/deviceProfileInfos", { query: { pageSize: 1000, page: 0, sortProperty: "name", sortOrder: "ASC" } }),
    ]);
    if (stopped) return;
    packages = found.status === "fulfilled" ? found.value.data : [];
    profiles = foundProfiles.status === "fulfilled" ? foundProfiles.value.data : [];
    fillProfiles();
    fillPackages();
  }

  function filtersChanged() {
    state.page = 0;
    title.textContent = state.type === "SOFTWARE" ? "Software dashboard" : "Firmware dashboard";
    keep();
    sseSeen = false;
    openFeed();
    loadCounts();
    reloadNow(0);
    loadCharts();
  }

  typeSelect.addEventListener("change", () => { state.type = typeSelect.value; fillPackages(); filtersChanged(); });
  packageSelect.addEventListener("change", () => { state.packageId = packageSelect.value; filtersChanged(); });
  profileSelect.addEventListener("change", () => { state.profileId = profileSelect.value; fillPackages(); filtersChanged(); });
  searchInput.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => { state.search = searchInput.value; reloadNow(0); }, 300);
  });
  stuckBox.addEventListener("change", () => { state.stuck = stuckBox.checked; markTab(); reloadNow(0); });
  staleInput.addEventListener("change", () => {
    const minutes = Number(staleInput.value);
    state.staleMinutes = Number.isFinite(minutes) && minutes >= 0 ? minutes : 0;
    if (state.stuck) reloadNow(0); else { keep(); updateExport(); }
  });
  sizeSelect.addEventListener("change", () => { state.pageSize = Number(sizeSelect.value); reloadNow(0); });
  periodSelect.addEventListener("change", () => { state.period = periodSelect.value; keep(); loadCharts(); });

  // ---- first view: one page of rows and the counts; the rest after ----
  title.textContent = state.type === "SOFTWARE" ? "Software dashboard" : "Firmware dashboard";
  markTab();
  updateExport();
  openFeed();
  await Promise.all([loadTable(), loadCounts(), loadChoices()]);
  if (!stopped) {
    announce(`${title.textContent} loaded`);
    loadCharts();
  }

  return () => {
    stopped = true;
    closeFeed();
    clearTimeout(reloadTimer);
    clearTimeout(searchTimer);
    clearTimeout(timelineTimer);
    clearTimeout(durationsTimer);
  };
}
