// #/package/<id>: one package's details, its ID and checksum to copy, its data to download, and
// its deletion (refused by the server while a device or profile has it assigned).

import { api } from "../api.js";
import {
  announce, clear, copyButton, errorBox, formatBytes, formatTime, h, openDialog, pageTitle,
} from "../ui.js";

export async function render(main, { params, navigate }) {
  const id = params[0];
  const info = await api(`/api/otaPackage/info/${encodeURIComponent(id)}`);
  let profileName = "";
  try {
    profileName = (await api(`/api/deviceProfileInfo/${info.deviceProfileId.id}`)).name;
  } catch { /* shown without it */ }
  const listPath = `packages/${info.type}`;
  const problem = h("div", {});
  const description = info.additionalInfo && info.additionalInfo.description;

  const rows = [
    ["Title", info.title],
    ["Version", info.version],
    ["Type", info.type === "FIRMWARE" ? "Firmware" : "Software"],
    ["Device profile", profileName],
    ["File name", info.fileName],
    ["Size", info.dataSize === null || info.dataSize === undefined ? "" : `${formatBytes(info.dataSize)} (${info.dataSize} bytes)`],
    ["Content type", info.contentType],
    ["Checksum algorithm", info.checksumAlgorithm],
    ["Checksum", info.checksum ? h("span", { class: "mono" }, info.checksum) : ""],
    ["URL", info.url ? h("a", { href: info.url, rel: "noopener noreferrer" }, info.url) : ""],
    ["Description", description || ""],
    ["Created", formatTime(info.createdTime)],
    ["Package ID", h("span", { class: "mono" }, info.id.id)],
  ];

  const actions = [copyButton(info.id.id, "Copy package ID")];
  if (info.checksum) actions.push(copyButton(info.checksum, "Copy checksum"));
  if (info.fileName) {
    actions.push(h("a", {
      class: "button", href: `/api/otaPackage/${info.id.id}/download`, download: info.fileName,
    }, "Download"));
  }
  const deleteButton = h("button", { type: "button", class: "danger" }, "Delete");
  deleteButton.addEventListener("click", () => confirmDelete());
  actions.push(deleteButton);

  function confirmDelete() {
    clear(problem);
    const yes = h("button", { type: "button", class: "danger" }, "Delete package");
    const no = h("button", { type: "button" }, "Cancel");
    const dialog = openDialog("Delete this package?",
      h("p", {}, `${info.title} ${info.version} and its data will be deleted. This cannot be undone.`),
      h("div", { class: "actions" }, yes, no));
    no.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => deleteButton.focus());
    yes.addEventListener("click", async () => {
      yes.disabled = true;
      try {
        await api(`/api/otaPackage/${info.id.id}`, { method: "DELETE" });
        dialog.close();
        announce(`Package ${info.title} ${info.version} deleted`);
        navigate(listPath);
      } catch (error) {
        dialog.close();
        clear(problem, errorBox(new Error(`The package was not deleted: ${error.message}`)));
      }
    });
    no.focus();
  }

  clear(main,
    h("p", { class: "crumbs" }, h("a", { href: `#/${listPath}` },
      info.type === "FIRMWARE" ? "← Firmware packages" : "← Software packages")),
    pageTitle(`${info.title} ${info.version}`),
    h("div", { class: "actions" }, actions),
    problem,
    h("section", { class: "panel", "aria-labelledby": "package-details" },
      h("h2", { id: "package-details" }, "Details"),
      h("dl", { class: "details" }, rows.map(([label, value]) => [
        h("dt", {}, label), h("dd", {}, value === null || value === undefined ? "" : value),
      ]))));
}
