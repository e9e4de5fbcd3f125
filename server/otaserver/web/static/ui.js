// Small DOM helpers shared by every page. Text always goes in as text (never as HTML), so a
// package title or an error message cannot inject markup.

export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") element.className = value;
    else if (key === "text") element.textContent = value;
    else if (key.startsWith("on") && typeof value === "function") {
      element.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "dataset") Object.assign(element.dataset, value);
    else if (key in element && typeof value !== "string") element[key] = value;
    else element.setAttribute(key, value === true ? "" : value);
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

// Said by screen readers (the page's one aria-live region).
export function announce(message) {
  const region = document.getElementById("announcer");
  if (region) region.textContent = message;
}

export function errorBox(error) {
  return h("p", { class: "error", role: "alert" }, error && error.message ? error.message : String(error));
}

export function pageTitle(text, ...actions) {
  return h("div", { class: "page-head" }, h("h1", {}, text), h("div", { class: "actions" }, actions));
}

export function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, label), input,
    hint ? h("small", { class: "hint" }, hint) : null);
}

export function select(options, value, props = {}) {
  const element = h("select", props);
  for (const option of options) {
    const [optionValue, label] = Array.isArray(option) ? option : [option, option];
    element.append(h("option", { value: optionValue, selected: optionValue === value }, label));
  }
  return element;
}

// A table of `rows`; each column is {key, label, render?(row), sort?: "sortProperty"}.
// Clicking a sortable header calls onSort(property); the header shows the current order.
export function dataTable({ columns, rows, caption, sort, onSort, empty = "Nothing here yet.", rowProps }) {
  const head = h("tr", {}, columns.map((column) => {
    if (!column.sort || !onSort) return h("th", { scope: "col" }, column.label);
    const active = sort && sort.property === column.sort;
    const order = active ? (sort.order === "ASC" ? "ascending" : "descending") : "none";
    return h("th", { scope: "col", "aria-sort": order },
      h("button", { class: "sort", type: "button", onclick: () => onSort(column.sort) },
        column.label, active ? (sort.order === "ASC" ? " ▲" : " ▼") : ""));
  }));
  const body = h("tbody", {}, rows.length
    ? rows.map((row) => h("tr", rowProps ? rowProps(row) : {},
      columns.map((column) => h("td", { "data-label": column.label },
        column.render ? column.render(row) : (row[column.key] ?? "")))))
    : h("tr", {}, h("td", { colspan: columns.length, class: "empty" }, empty)));
  return h("div", { class: "table-wrap" },
    h("table", {}, caption ? h("caption", {}, caption) : null, h("thead", {}, head), body));
}

export function pager({ page, totalPages, totalElements, onPage }) {
  return h("nav", { class: "pager", "aria-label": "Pages" },
    h("button", { type: "button", disabled: page <= 0, onclick: () => onPage(page - 1) }, "Previous"),
    h("span", {}, `Page ${totalPages ? page + 1 : 0} of ${totalPages}`,
      totalElements !== undefined ? ` · ${totalElements} in all` : ""),
    h("button", { type: "button", disabled: page + 1 >= totalPages, onclick: () => onPage(page + 1) }, "Next"));
}

export function copyButton(text, label) {
  return h("button", {
    type: "button",
    class: "copy",
    onclick: async () => {
      await navigator.clipboard.writeText(text);
      announce(`${label} copied`);
    },
  }, label);
}

export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined) return "";
  const units = ["B", "KiB", "MiB", "GiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return `${unit ? value.toFixed(1) : value} ${units[unit]}`;
}

export function formatTime(ms) {
  if (!ms) return "";
  return new Date(ms).toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
}

export function formatDuration(ms) {
  if (ms === null || ms === undefined) return "";
  if (ms < 1000) return `${ms} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

// A modal dialog (the native <dialog>, which keeps focus inside and closes on Escape).
export function openDialog(title, ...content) {
  const dialog = h("dialog", { "aria-label": title },
    h("div", { class: "dialog-head" }, h("h2", {}, title),
      h("button", { type: "button", class: "close", "aria-label": "Close", onclick: () => dialog.close() }, "×")),
    content);
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

// Every item of a paged list: fetchPage(page) returns a ThingsBoard page {data, hasNext}.
export async function allPages(fetchPage, limit = 100) {
  const items = [];
  for (let page = 0; page < limit; page += 1) {
    const result = await fetchPage(page);
    items.push(...result.data);
    if (!result.hasNext) break;
  }
  return items;
}

// "title version", the way a package is named in lists and selects.
export function packageName(info) {
  return info ? `${info.title} ${info.version}` : "";
}

// The next order when a sortable header is clicked: the same column flips, another starts ascending.
export function nextSort(sort, property) {
  if (sort.property === property) return { property, order: sort.order === "ASC" ? "DESC" : "ASC" };
  return { property, order: "ASC" };
}

// A search box that calls onSearch(text) as the user types (after a short pause) or submits.
export function searchForm(label, value, onSearch) {
  const input = h("input", { type: "search", name: "search", value: value || "" });
  let timer = null;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => onSearch(input.value.trim()), 300);
  });
  return h("form", { class: "search", role: "search", onsubmit: (event) => {
    event.preventDefault();
    clearTimeout(timer);
    onSearch(input.value.trim());
  } }, field(label, input), h("button", { type: "submit" }, "Search"));
}
