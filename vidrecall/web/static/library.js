// The library: videos in the store, add by path or upload, index in the background with live progress, remove.
import * as api from "./api.js";
import { clear, el, fmtBytes, fmtTime } from "./dom.js";

const POLL_MS = 500;

export async function showLibrary(root, status) {
  const message = el("p", { class: "message", id: "library-message", role: "status" });
  const table = el("tbody", { id: "video-rows" });
  clear(root).append(
    el("section", { class: "card" },
      el("h2", { text: "Add a video" }),
      addByPathForm(status, message, () => refresh(table, message)),
      uploadForm(status, message, () => refresh(table, message)),
      message),
    el("section", { class: "card" },
      el("h2", { text: "Library" }),
      el("table", { class: "videos" },
        el("thead", {}, el("tr", {}, ...["video", "duration", "size", "captions", "speech", "index", ""].map(
          (h) => el("th", { text: h })))),
        table)));
  await refresh(table, message);
}

function addByPathForm(status, message, done) {
  const input = el("input", { id: "add-path", type: "text", list: "allowed-files", size: 60,
    placeholder: status.allow.length ? `a video under ${status.allow.join(", ")}` : "start the server with --allow DIR to add by path",
    disabled: !status.allow.length });
  const list = el("datalist", { id: "allowed-files" });
  if (status.allow.length) {
    api.get("/api/allowed").then((files) => files.forEach((f) => list.append(el("option", { value: f.path, text: f.name }))));
  }
  const form = el("form", { class: "row", id: "add-form" },
    el("label", { for: "add-path", text: "By path " }), input, list,
    el("button", { type: "submit", id: "add-button", text: "Add", disabled: !status.allow.length }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    say(message, "adding… (the first add loads the models)");
    try {
      const video = await api.send("POST", "/api/videos", { path: input.value });
      say(message, `added ${video.name}`);
      input.value = "";
      done();
    } catch (err) { say(message, err.message, true); }
  });
  return form;
}

function uploadForm(status, message, done) {
  const input = el("input", { id: "upload-file", type: "file", accept: "video/*" });
  const bar = el("progress", { max: 1, value: 0, hidden: true });
  const form = el("form", { class: "row", id: "upload-form" },
    el("label", { for: "upload-file", text: "Upload " }), input,
    el("button", { type: "submit", text: "Upload" }), bar,
    el("span", { class: "muted", text: `up to ${fmtBytes(status.upload_limit)}` }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = input.files[0];
    if (!file) return say(message, "choose a file first", true);
    if (file.size > status.upload_limit) return say(message, `${file.name} is over the upload limit`, true);
    bar.hidden = false;
    try {
      const video = await api.upload(file, (f) => { bar.value = f; });
      say(message, `uploaded ${video.name}`);
      done();
    } catch (err) { say(message, err.message, true); } finally { bar.hidden = true; }
  });
  return form;
}

async function refresh(table, message) {
  let videos;
  try { videos = await api.get("/api/videos"); } catch (err) { return say(message, err.message, true); }
  clear(table);
  if (!videos.length) table.append(el("tr", {}, el("td", { colspan: 7, class: "muted", text: "no videos yet" })));
  for (const video of videos) table.append(row(video, table, message));
}

function row(video, table, message) {
  const progress = el("span", { class: "job" });
  const levels = video.levels.map((l) => `${l.level} ${l.captions}`).join(", ") || "none";
  const indexButton = el("button", { class: "index-button", text: video.coarse_complete ? "Index again" : "Index" });
  const tr = el("tr", { dataset: { videoId: video.id } },
    el("td", {}, el("a", { href: `#/video/${video.id}`, class: "video-link", text: video.name, title: video.path })),
    el("td", { text: fmtTime(video.duration) }),
    el("td", { text: fmtBytes(video.size_bytes) }),
    el("td", { class: "levels", text: levels }),
    el("td", { text: video.speech ? "yes" : "no" }),
    el("td", {}, video.coarse_complete ? el("span", { class: "ok", text: "indexed " }) : null, indexButton, progress),
    el("td", {}, el("button", { class: "remove-button danger", text: "Remove", onclick: async () => {
      if (!confirm(`Remove ${video.name} and its ${video.captions} captions from the store?`)) return;
      try { await api.send("DELETE", `/api/videos/${video.id}`); await refresh(table, message); } catch (err) { say(message, err.message, true); }
    } })));
  indexButton.addEventListener("click", async () => {
    try {
      const job = await api.send("POST", `/api/videos/${video.id}/index`, {});
      follow(job, progress, table, message);
    } catch (err) { say(message, err.message, true); }
  });
  const running = video.jobs.find((j) => j.state === "queued" || j.state === "running");
  if (running) follow(running, progress, table, message);
  return tr;
}

function follow(job, slot, table, message) {
  const bar = el("progress", { max: 1, value: 0 });
  const text = el("span", { class: "muted job-text" });
  const cancel = el("button", { class: "cancel-button", text: "Cancel", onclick: () => api.send("POST", `/api/jobs/${job.id}/cancel`) });
  clear(slot).append(bar, text, cancel);
  const tick = async () => {
    let now;
    try { now = await api.get(`/api/jobs/${job.id}`); } catch (err) { return say(message, err.message, true); }
    bar.value = now.total ? now.done / now.total : 0;
    text.textContent = ` ${now.state}: ${now.message}`;
    if (now.state === "done" || now.state === "cancelled") { cancel.remove(); setTimeout(() => refresh(table, message), 400); return; }
    if (now.state === "failed") { cancel.remove(); say(message, `indexing failed: ${now.error}`, true); return; }
    setTimeout(tick, POLL_MS);
  };
  tick();
}

function say(node, text, error = false) {
  node.textContent = text;
  node.classList.toggle("error", error);
}
