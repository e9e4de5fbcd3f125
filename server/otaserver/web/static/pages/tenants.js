// #/tenants (system administrator): the tenants a page at a time, and a form to add one.

import { api } from "../api.js";
import {
  clear, dataTable, errorBox, field, formatTime, h, nextSort, pageTitle, pager, searchForm,
} from "../ui.js";

const PAGE_SIZE = 20;

export async function render(main) {
  const state = { page: 0, search: "", sort: { property: "createdTime", order: "DESC" } };
  const list = h("section", { "aria-label": "Tenants" });
  const notice = h("div", {});
  let alive = true;
  // Only the latest load draws: an older answer arriving late must not replace a newer one.
  let loads = 0;

  async function load() {
    const ticket = ++loads;
    let result;
    try {
      result = await api("/api/tenants", { query: {
        pageSize: PAGE_SIZE, page: state.page, textSearch: state.search,
        sortProperty: state.sort.property, sortOrder: state.sort.order,
      } });
    } catch (error) {
      if (alive && ticket === loads) clear(list, errorBox(error));
      return;
    }
    if (!alive || ticket !== loads) return;
    clear(list,
      dataTable({
        caption: "Tenants",
        columns: [
          { label: "Title", sort: "title", key: "title" },
          { label: "Created", sort: "createdTime", render: (t) => formatTime(t.createdTime) },
          { label: "Tenant ID", render: (t) => h("span", { class: "mono" }, t.id.id) },
        ],
        rows: result.data,
        sort: state.sort,
        onSort: (property) => { state.sort = nextSort(state.sort, property); load(); },
        empty: "No tenants.",
      }),
      pager({ page: state.page, totalPages: result.totalPages, totalElements: result.totalElements,
        onPage: (page) => { state.page = page; load(); } }));
  }

  const title = h("input", { name: "title", required: true, autocomplete: "off" });
  const problem = h("div", {});
  const form = h("form", { class: "panel", "aria-labelledby": "add-tenant-title", onsubmit: async (event) => {
    event.preventDefault();
    clear(problem);
    try {
      const tenant = await api("/api/tenant", { method: "POST", body: { title: title.value.trim() } });
      title.value = "";
      const message = `Tenant ${tenant.title} added.`;
      clear(notice, h("p", { class: "notice", role: "status" }, message));
      state.page = 0;
      await load();
    } catch (error) {
      clear(problem, errorBox(error));
    }
  } },
  h("h2", { id: "add-tenant-title" }, "Add a tenant"),
  field("Tenant title", title),
  problem,
  h("button", { type: "submit", class: "primary" }, "Add tenant"));

  clear(main, pageTitle("Tenants"), form, notice,
    h("div", { class: "toolbar" }, searchForm("Search by title", state.search, (text) => {
      state.search = text;
      state.page = 0;
      load();
    })),
    list);
  await load();
  return () => { alive = false; };
}
