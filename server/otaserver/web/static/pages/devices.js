// #/devices: the devices the user may see (a tenant's, or a customer user's customer's), searched,
// sorted and paged, with their profile, customer and packages; and the form that gives a device
// firmware or software of its own (the API lets tenant administrators and, for their customer's
// devices, customer users do so), which overrides its profile's.

import { api } from "../api.js";
import {
  clear, dataTable, errorBox, field, h, nextSort, packageName, pageTitle, pager,
  searchForm, select,
} from "../ui.js";
import { TYPES, assignable, assignedId, packageCache } from "./profiles.js";

const PAGE_SIZE = 20;

export async function render(main, { user }) {
  const customerId = user.authority === "CUSTOMER_USER" ? user.customerId.id : null;
  const listPath = customerId ? `/api/customer/${customerId}/deviceInfos` : "/api/tenant/deviceInfos";
  const state = { page: 0, search: "", sort: { property: "name", order: "ASC" } };
  const packageInfo = packageCache();
  const list = h("section", { "aria-label": "Devices" });
  const editor = h("div", {});
  const notice = h("div", {});
  let alive = true;
  // Only the latest load draws: an older answer arriving late must not replace a newer one.
  let loads = 0;

  async function load() {
    const ticket = ++loads;
    let result;
    try {
      result = await api(listPath, {
        query: {
          pageSize: PAGE_SIZE, page: state.page, textSearch: state.search,
          sortProperty: state.sort.property, sortOrder: state.sort.order,
        },
      });
    } catch (error) {
      if (alive && ticket === loads) clear(list, errorBox(error));
      return;
    }
    const names = new Map();
    for (const device of result.data) {
      for (const [, key] of TYPES) {
        const id = assignedId(device, key);
        if (id) names.set(id, packageName(await packageInfo(id)));
      }
    }
    if (!alive || ticket !== loads) return;
    const own = (device, key) => names.get(assignedId(device, key)) || h("span", { class: "hint" }, "from its profile");
    clear(list,
      dataTable({
        caption: customerId ? "Your devices" : "The tenant's devices",
        columns: [
          { label: "Name", sort: "name", key: "name" },
          { label: "Device profile", sort: "deviceProfileName", key: "deviceProfileName" },
          { label: "Customer", sort: "customerTitle", render: (d) => d.customerTitle || "" },
          { label: "Firmware", render: (d) => own(d, "firmwareId") },
          { label: "Software", render: (d) => own(d, "softwareId") },
          { label: "Actions", render: (d) => h("button", {
            type: "button", "aria-label": `Change packages of ${d.name}`, onclick: () => edit(d.id.id),
          }, "Change packages") },
        ],
        rows: result.data,
        sort: state.sort,
        onSort: (property) => { state.sort = nextSort(state.sort, property); load(); },
        empty: state.search ? "No device matches this search." : "No devices.",
        rowProps: (d) => ({ dataset: { id: d.id.id } }),
      }),
      pager({ page: state.page, totalPages: result.totalPages, totalElements: result.totalElements,
        onPage: (page) => { state.page = page; load(); } }));
  }

  async function edit(deviceId) {
    clear(notice);
    const device = await api(`/api/device/${deviceId}`);
    const profileId = device.deviceProfileId.id;
    const selects = {};
    const fields = [];
    for (const [type, key, label] of TYPES) {
      const current = assignedId(device, key);
      const packages = await assignable(profileId, type);
      const options = [["", "None of its own (the profile's)"], ...packages.map((p) => [p.id.id, packageName(p)])];
      if (current && !packages.some((p) => p.id.id === current)) {
        options.push([current, packageName(await packageInfo(current))]);
      }
      selects[key] = select(options, current || "", { name: key });
      fields.push(field(label, selects[key]));
    }
    const problem = h("div", {});
    const save = h("button", { type: "submit", class: "primary" }, "Save");
    const form = h("form", { class: "panel", "aria-labelledby": "device-edit-title", onsubmit: async (event) => {
      event.preventDefault();
      clear(problem);
      save.disabled = true;
      try {
        // The device as the server has it now, with only its packages changed.
        const fresh = await api(`/api/device/${deviceId}`);
        for (const [, key] of TYPES) {
          fresh[key] = selects[key].value ? { entityType: "OTA_PACKAGE", id: selects[key].value } : null;
        }
        await api("/api/device", { method: "POST", body: fresh });
        clear(editor);
        await load();
        const message = `Packages of ${device.name} saved.`;
        clear(notice, h("p", { class: "notice", role: "status" }, message));
      } catch (error) {
        save.disabled = false;
        clear(problem, errorBox(error));
      }
    } },
    h("h2", { id: "device-edit-title" }, `Packages of ${device.name}`),
    h("p", { class: "hint" }, "A package of the device's own replaces its profile's. "
      + "Only packages of its profile with data or a URL can be chosen."),
    h("div", { class: "row" }, fields),
    problem,
    h("div", { class: "actions" }, save,
      h("button", { type: "button", onclick: () => clear(editor) }, "Cancel")));
    clear(editor, form);
    selects.firmwareId.focus();
  }

  clear(main,
    pageTitle("Devices"),
    notice,
    editor,
    h("div", { class: "toolbar" }, searchForm("Search by name", state.search, (text) => {
      state.search = text;
      state.page = 0;
      load();
    })),
    list);
  await load();
  return () => { alive = false; };
}
