// Entry point: the server's status in the header, and a hash router between the library and a video.
import * as api from "./api.js";
import { clear, el } from "./dom.js";
import { showLibrary } from "./library.js";
import { showVideo } from "./video.js";

let status = null;

async function route() {
  const view = document.getElementById("view");
  const match = location.hash.match(/^#\/video\/([0-9a-f]+)(?:\/session\/([A-Za-z0-9_-]+))?/);
  try {
    if (match) await showVideo(view, match[1], match[2]);
    else await showLibrary(view, status);
  } catch (err) {
    clear(view).append(el("p", { class: "error", text: err.message }), el("a", { href: "#/", text: "back to the library" }));
  }
}

const STATUS_MS = 4000;

async function showStatus() {
  status = await api.get("/api/status");
  const models = status.models_loaded ? "models loaded" : status.models_loading ? "loading models…" : "models load on first use";
  document.getElementById("server-status").textContent = `profile ${status.profile} · store ${status.store} · ${models}`;
}

async function start() {
  await showStatus();
  setInterval(() => showStatus().catch(() => {}), STATUS_MS);
  window.addEventListener("hashchange", route);
  await route();
  document.body.dataset.ready = "1";
}

start().catch((err) => {
  clear(document.getElementById("view")).append(el("p", { class: "error", text: err.message }));
});
