// Placeholder: drawn by the page's own module.
import { clear, h } from "../ui.js";

export async function render(main) {
  clear(main, h("h1", {}, "dashboard"));
}
