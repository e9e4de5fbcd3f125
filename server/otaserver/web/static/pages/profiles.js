// #/profiles: the tenant's device profiles with the firmware and software assigned to them, and
// the form that changes those, saying first how many devices the change will notify.

import { api } from "../api.js";
import {
  allPages, clear, dataTable, errorBox, field, h, nextSort, packageName, pageTitle,
  pager, select,
} from "../ui.js";

const PAGE_SIZE = 20;
export const TYPES = [["FIRMWARE", "firmwareId", "Firmware"], ["SOFTWARE", "softwareId", "Software"]];

// Package infos by id, read once each: lists show "title version" for an assigned id.
export function packageCache() {
  const known = new Map();
  return async (id) => {
    if (!id) return null;
    if (!known.has(id)) {
      known.set(id, api(`/api/otaPackage/info/${id}`).catch(() => ({ title: "(unknown package)", version: "" })));
    }
    return known.get(id);
  };
}

// Packages a profile's devices may get: of that profile and type, with data or a URL.
export async function assignable(profileId, type) {
  return allPages((page) => api(`/api/otaPackages/${profileId}/${type}`, {
    query: { pageSize: 1000, page, sortProperty: "title", sortOrder: "ASC" },
  }));
}

export function assignedId(entity, key) {
  const id = entity[key] && entity[key].id;
  return id && id !== "13814000-1dd2-11b2-8080-808080808080" ? id : null;
}

export async function render(main) {
  const state = { page: 0, sort: { property: "name", order: "ASC" } };
  const packageInfo = packageCache();
  const list = h("section", { "aria-label": "Device profiles" });
  const editor = h("div", {});
  const notice = h("div", {});
  // Only the latest load draws: an older answer arriving late must not replace a newer one.
  let loads = 0;

  async function load() {
    const ticket = ++loads;
    const result = await api("/api/deviceProfiles", {
      query: { pageSize: PAGE_SIZE, page: state.page, sortProperty: state.sort.property, sortOrder: state.sort.order },
    });
    const names = new Map();
    for (const profile of result.data) {
      for (const [, key] of TYPES) {
        const id = assignedId(profile, key);
        if (id) names.set(id, packageName(await packageInfo(id)));
      }
    }
    if (ticket !== loads) return;
    clear(list,
      dataTable({
        caption: "Device profiles and the packages assigned to them",
        columns: [
          { label: "Name", sort: "name", render: (p) => [p.name, p.default ? " " : "", p.default ? h("span", { class: "tag ok" }, "default") : ""] },
          { label: "Firmware", render: (p) => names.get(assignedId(p, "firmwareId")) || "none" },
          { label: "Software", render: (p) => names.get(assignedId(p, "softwareId")) || "none" },
          { label: "Actions", render: (p) => h("button", {
            type: "button", onclick: () => edit(p.id.id), "aria-label": `Change packages of ${p.name}`,
          }, "Change packages") },
        ],
        rows: result.data,
        sort: state.sort,
        onSort: (property) => { state.sort = nextSort(state.sort, property); load(); },
        empty: "No device profiles.",
      }),
      pager({ page: state.page, totalPages: result.totalPages, totalElements: result.totalElements,
        onPage: (page) => { state.page = page; load(); } }));
  }

  async function edit(profileId) {
    clear(notice);
    const profile = await api(`/api/deviceProfile/${profileId}`);
    const selects = {};
    const impacts = {};
    const rows = [];
    for (const [type, key, label] of TYPES) {
      const current = assignedId(profile, key);
      const packages = await assignable(profileId, type);
      const options = [["", "None"], ...packages.map((p) => [p.id.id, packageName(p)])];
      if (current && !packages.some((p) => p.id.id === current)) {
        options.push([current, packageName(await packageInfo(current))]);
      }
      const chosen = select(options, current || "", { name: key });
      const impact = h("p", { class: "impact", "aria-live": "polite", dataset: { type } });
      chosen.addEventListener("change", () => showImpact(profileId, type, chosen, current, impact));
      selects[key] = chosen;
      impacts[type] = impact;
      rows.push(h("div", {}, field(label, chosen), impact));
    }
    const problem = h("div", {});
    const save = h("button", { type: "submit", class: "primary" }, "Save");
    const form = h("form", { class: "panel", "aria-labelledby": "profile-edit-title", onsubmit: async (event) => {
      event.preventDefault();
      clear(problem);
      save.disabled = true;
      try {
        // The whole profile as the server has it now, with only its packages changed.
        const fresh = await api(`/api/deviceProfile/${profileId}`);
        for (const [, key] of TYPES) {
          fresh[key] = selects[key].value ? { entityType: "OTA_PACKAGE", id: selects[key].value } : null;
        }
        await api("/api/deviceProfile", { method: "POST", body: fresh });
        clear(editor);
        await load();
        const message = `Packages of ${profile.name} saved.`;
        clear(notice, h("p", { class: "notice", role: "status" }, message));
      } catch (error) {
        save.disabled = false;
        clear(problem, errorBox(error));
      }
    } },
    h("h2", { id: "profile-edit-title" }, `Packages of ${profile.name}`),
    h("p", { class: "hint" }, "Only packages of this profile with data or a URL can be chosen. "
      + "Devices with a package of their own keep it; those already on the chosen one are not notified again."),
    h("div", { class: "row" }, rows),
    problem,
    h("div", { class: "actions" }, save,
      h("button", { type: "button", onclick: () => clear(editor) }, "Cancel")));
    clear(editor, form);
    selects.firmwareId.focus();
  }

  // How many devices the change notifies: those of the profile without a package of their own.
  async function showImpact(profileId, type, chosen, current, impact) {
    delete impact.dataset.count;
    if ((chosen.value || null) === current) {
      impact.textContent = "";
      return;
    }
    impact.textContent = "Counting the devices it reaches…";
    try {
      const count = await api(`/api/devices/count/${type}/${profileId}`);
      const what = type === "FIRMWARE" ? "firmware" : "software";
      impact.dataset.count = String(count);
      impact.textContent = chosen.value
        ? `${count} device${count === 1 ? "" : "s"} of this profile without ${what} of their own will be notified of this package.`
        : `${count} device${count === 1 ? "" : "s"} of this profile without ${what} of their own will have none assigned.`;
    } catch (error) {
      impact.textContent = `The devices could not be counted: ${error.message}`;
    }
  }

  clear(main, pageTitle("Device profiles"), notice, editor, list);
  await load();
}
