// #/packages/FIRMWARE and #/packages/SOFTWARE: the tenant's packages of one type, searched by
// title, sorted by any column, a page at a time; and the form that adds one (info, then its file
// with an upload progress bar, or an external URL).
//
// GET /api/otaPackages lists both types and has no type filter (nor has ThingsBoard's). Paging
// through it and dropping the other type would give pages of uneven length and no true count, so
// the page reads every package matching the search, in the server's order (the server sorts and
// searches), keeps those of its type and pages them itself: one request per 1000 packages, fine
// for the hundreds a tenant has, and the counts and pages shown are exact.

import { ApiError, api, upload } from "../api.js";
import {
  allPages, clear, dataTable, errorBox, field, formatBytes, formatTime, h, nextSort,
  pageTitle, pager, searchForm, select,
} from "../ui.js";

export const ALGORITHMS = ["MD5", "SHA256", "SHA384", "SHA512", "CRC32", "MURMUR3_32", "MURMUR3_128"];
const PAGE_SIZE = 20;
const LABELS = { FIRMWARE: "Firmware", SOFTWARE: "Software" };

export async function profileNames() {
  const profiles = await allPages((page) => api("/api/deviceProfileInfos", {
    query: { pageSize: 1000, page, sortProperty: "name", sortOrder: "ASC" },
  }));
  return new Map(profiles.map((profile) => [profile.id.id, profile.name]));
}

async function packagesOfType(type, { search, sort }) {
  const all = await allPages((page) => api("/api/otaPackages", {
    query: {
      pageSize: 1000, page, textSearch: search, sortProperty: sort.property, sortOrder: sort.order,
    },
  }));
  return all.filter((item) => item.type === type);
}

export async function render(main, { params, navigate }) {
  const type = params[0] === "SOFTWARE" ? "SOFTWARE" : "FIRMWARE";
  const state = { search: "", sort: { property: "createdTime", order: "DESC" }, page: 0 };
  const [profiles, defaultProfile] = await Promise.all([
    profileNames(), api("/api/deviceProfileInfo/default").catch(() => null),
  ]);
  const list = h("section", { "aria-label": `${LABELS[type]} packages` });
  const formArea = h("div", {});
  const notice = h("div", {});
  let alive = true;
  // Only the latest load draws: an older answer arriving late must not replace a newer one.
  let loads = 0;

  async function load() {
    const ticket = ++loads;
    let packages;
    try {
      packages = await packagesOfType(type, state);
    } catch (error) {
      if (alive && ticket === loads) clear(list, errorBox(error));
      return;
    }
    if (!alive || ticket !== loads) return;
    const totalPages = Math.ceil(packages.length / PAGE_SIZE);
    state.page = Math.min(state.page, Math.max(totalPages - 1, 0));
    const rows = packages.slice(state.page * PAGE_SIZE, (state.page + 1) * PAGE_SIZE);
    clear(list,
      dataTable({
        caption: `${LABELS[type]} packages${state.search ? ` whose title contains “${state.search}”` : ""}`,
        columns: [
          { label: "Created", sort: "createdTime", render: (p) => formatTime(p.createdTime) },
          { label: "Title", sort: "title", render: (p) => h("a", { href: `#/package/${p.id.id}` }, p.title) },
          { label: "Version", sort: "version", key: "version" },
          { label: "Device profile", render: (p) => profiles.get(p.deviceProfileId.id) || "" },
          { label: "File or URL", sort: "fileName", render: (p) => p.url || p.fileName || "no data yet" },
          { label: "Size", sort: "dataSize", render: (p) => formatBytes(p.dataSize) },
          { label: "Checksum", sort: "checksumAlgorithm", render: (p) => p.checksumAlgorithm
            ? h("span", { class: "mono" }, `${p.checksumAlgorithm} ${shortChecksum(p.checksum)}`) : "" },
        ],
        rows,
        sort: state.sort,
        onSort: (property) => { state.sort = nextSort(state.sort, property); load(); },
        empty: state.search ? "No package matches this search." : "No packages yet: add one.",
        rowProps: (p) => ({
          class: "clickable",
          dataset: { id: p.id.id },
          onclick: (event) => { if (event.target.tagName !== "A") navigate(`package/${p.id.id}`); },
        }),
      }),
      pager({
        page: state.page, totalPages, totalElements: packages.length,
        onPage: (page) => { state.page = page; load(); },
      }));
  }

  const addButton = h("button", { type: "button", class: "primary", "aria-expanded": "false" }, "Add package");
  addButton.addEventListener("click", () => {
    if (formArea.firstChild) {
      clear(formArea);
      addButton.setAttribute("aria-expanded", "false");
      return;
    }
    addButton.setAttribute("aria-expanded", "true");
    clear(notice);
    clear(formArea, packageForm(type, profiles, defaultProfile && defaultProfile.id.id, {
      onCancel: () => { clear(formArea); addButton.setAttribute("aria-expanded", "false"); addButton.focus(); },
      onSaved: (saved) => {
        clear(formArea);
        addButton.setAttribute("aria-expanded", "false");
        const message = `Package ${saved.title} ${saved.version} saved.`;
        clear(notice, h("p", { class: "notice", role: "status" }, message,
          " ", h("a", { href: `#/package/${saved.id.id}` }, "Open its details")));
        load();
      },
    }));
    formArea.querySelector("input").focus();
  });

  clear(main,
    pageTitle(`${LABELS[type]} packages`, addButton),
    formArea,
    notice,
    h("div", { class: "toolbar" }, searchForm("Search by title", state.search, (text) => {
      state.search = text;
      state.page = 0;
      load();
    })),
    list);
  await load();
  return () => { alive = false; };
}

function shortChecksum(checksum) {
  return checksum && checksum.length > 16 ? `${checksum.slice(0, 12)}…` : checksum || "";
}

// The "Add package" form: every field of the user guide.
function packageForm(type, profiles, defaultProfileId, { onCancel, onSaved }) {
  const title = h("input", { name: "title", required: true, autocomplete: "off" });
  const version = h("input", { name: "version", required: true, autocomplete: "off" });
  const profile = select([...profiles], defaultProfileId, { name: "deviceProfile", required: true });
  const kind = select([["FIRMWARE", "Firmware"], ["SOFTWARE", "Software"]], type, { name: "type" });
  const useUrl = h("input", { type: "checkbox", name: "usesUrl" });
  const file = h("input", { type: "file", name: "file" });
  const url = h("input", { type: "url", name: "url", placeholder: "https://", autocomplete: "off" });
  const algorithm = select(ALGORITHMS, "SHA256", { name: "checksumAlgorithm" });
  const checksum = h("input", { name: "checksum", autocomplete: "off", spellcheck: false, class: "mono" });
  const description = h("textarea", { name: "description", rows: 3 });
  const progress = h("progress", { max: 100, value: 0, id: "upload-progress" });
  const progressText = h("span", { class: "progress-text" }, "");
  const progressRow = h("div", { class: "field", hidden: true },
    h("label", { for: "upload-progress" }, "Upload progress"), progress, progressText);
  const problem = h("div", {});
  const save = h("button", { type: "submit", class: "primary" }, "Save package");

  const fileField = field("File", file, "The package's data, sent once the info is saved.");
  const urlField = field("External URL", url, "Devices download the package from this address.");
  const checksumFields = h("div", { class: "row" },
    field("Checksum algorithm", algorithm),
    field("Checksum (optional)", checksum, "Computed by the server if left blank."));
  const useUrlField = h("div", { class: "check" }, useUrl,
    h("label", { for: (useUrl.id = "f-uses-url") }, "Use external URL"));
  function showSource() {
    fileField.hidden = useUrl.checked;
    checksumFields.hidden = useUrl.checked;
    urlField.hidden = !useUrl.checked;
    file.required = !useUrl.checked;
    url.required = useUrl.checked;
  }
  useUrl.addEventListener("change", showSource);
  showSource();

  function setProgress(fraction) {
    progress.value = fraction * 100;
    progressText.textContent = `${Math.floor(fraction * 100)} %`;
  }

  const form = h("form", { class: "panel", "aria-labelledby": "add-package-title", onsubmit: async (event) => {
    event.preventDefault();
    clear(problem);
    if (!profile.value) {
      clear(problem, errorBox("Choose a device profile."));
      return;
    }
    save.disabled = true;
    const chosen = useUrl.checked ? null : file.files[0];
    const info = {
      title: title.value.trim(),
      version: version.value.trim(),
      type: kind.value,
      deviceProfileId: { entityType: "DEVICE_PROFILE", id: profile.value },
      usesUrl: useUrl.checked,
      url: useUrl.checked ? url.value.trim() : null,
      additionalInfo: { description: description.value },
    };
    let saved = null;
    try {
      saved = await api("/api/otaPackage", { method: "POST", body: info });
      if (chosen) {
        progressRow.hidden = false;
        setProgress(0);
        saved = await upload(`/api/otaPackage/${saved.id.id}`, {
          checksumAlgorithm: algorithm.value, checksum: checksum.value.trim(),
        }, chosen, setProgress);
      }
      onSaved(saved);
    } catch (error) {
      save.disabled = false;
      progressRow.hidden = true;
      if (saved && chosen) {
        // The info without its data would hold the title and version: take it back, so that the
        // same form can simply be sent again.
        try {
          await api(`/api/otaPackage/${saved.id.id}`, { method: "DELETE" });
        } catch { /* it stays, listed with "no data yet" */ }
        clear(problem, errorBox(new ApiError(error.status, `The file was refused: ${error.message}`)));
      } else {
        clear(problem, errorBox(error));
      }
    }
  } },
  h("h2", { id: "add-package-title" }, `Add a package`),
  h("div", { class: "row" }, field("Title", title), field("Version", version)),
  h("div", { class: "row" }, field("Device profile", profile), field("Type", kind)),
  useUrlField,
  fileField,
  urlField,
  checksumFields,
  field("Description (optional)", description),
  progressRow,
  problem,
  h("div", { class: "actions" }, save, h("button", { type: "button", onclick: onCancel }, "Cancel")));
  return form;
}
