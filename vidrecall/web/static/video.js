// The video page: the player (range requests, so seeking is instant), the memory timeline and its search,
// and the chat panel.
import * as api from "./api.js";
import { Chat } from "./chat.js";
import { clear, el, fmtTime } from "./dom.js";
import { Timeline } from "./timeline.js";

export async function showVideo(root, videoId, sessionId) {
  const video = await api.get(`/api/videos/${encodeURIComponent(videoId)}`);
  const player = el("video", { id: "player", controls: true, preload: "metadata", src: `/media/${video.id}` });
  const playerNote = el("p", { class: "player-note", id: "player-note", role: "status", hidden: true });
  // A format the browser cannot play (AVI with Cinepak or MS-MPEG4 in Chromium) shows only here, as an error:
  // canPlayType() guesses from the type and answers "" for .mov files Chromium plays. Say so in words instead
  // of a grey bar at 0:00.
  const unplayable = () => cannotPlay(player, playerNote, video);
  player.addEventListener("error", unplayable);
  const lanes = el("div", { class: "timeline", id: "timeline" });
  const timeline = new Timeline(lanes, player);
  const hits = el("ol", { class: "hits", id: "search-hits" });
  const query = el("input", { id: "search", type: "search", placeholder: "search the memory…" });
  const search = el("form", { class: "row", id: "search-form" }, query, el("button", { type: "submit", text: "Search" }));
  search.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!query.value.trim()) return;
    clear(hits).append(el("li", { class: "muted", text: "searching…" }));
    try {
      const found = await api.get(`/api/videos/${video.id}/search?q=${encodeURIComponent(query.value)}&k=8`);
      // weak hits (under the server's floor) are shown only when nothing is close, under "no close match"
      const close = found.filter((h) => !h.weak);
      const shown = close.length ? close : found;
      clear(hits).append(
        ...(!found.length ? [el("li", { class: "muted", text: "nothing stored yet" })]
          : !close.length ? [el("li", { class: "muted no-match", text: "no close match; the nearest captions:" })] : []),
        ...shown.map((h) => el("li", { class: h.weak ? "weak" : null },
          el("button", { class: "chip", type: "button", onclick: () => { player.currentTime = h.node.start; } },
            el("span", { text: `${fmtTime(h.node.start)}-${fmtTime(h.node.end)} ${h.node.level}` })),
          el("span", { class: "muted", text: ` ${h.score.toFixed(2)} ` }), el("span", { text: h.node.text }))));
    } catch (err) { clear(hits).append(el("li", { class: "error", text: err.message })); }
  });
  const memoryNote = el("div", { class: "muted", id: "memory-note" });
  const reloadMemory = async () => {
    const memory = await api.get(`/api/videos/${video.id}/memory`);
    memoryNote.textContent = `${memory.nodes.length} captions stored · lanes: ${memory.lanes.join(", ")}`;
    timeline.setMemory(memory);
  };
  const chatPanel = el("section", { class: "card chat", id: "chat" });
  clear(root).append(el("div", { class: "video-page" },
    el("section", { class: "card player-card" },
      el("h2", {}, el("a", { href: "#/", text: "library" }), " / ", el("span", { text: video.name })),
      player, playerNote, el("h3", { text: "Memory" }), memoryNote, lanes, search, hits),
    chatPanel));
  const chat = new Chat(chatPanel, video, player, timeline, (sid) => {
    const hash = sid ? `#/video/${video.id}/session/${sid}` : `#/video/${video.id}`;
    if (location.hash !== hash) history.replaceState(null, "", hash);
  });
  chat.onMemoryChanged = reloadMemory;
  if (player.error) unplayable(); // it failed before the listener was attached
  await reloadMemory();
  await chat.open(sessionId || null);
}

// The player failed: say why in words (the file's format, or what the server answered), and hide the empty player.
async function cannotPlay(player, note, video) {
  if (!player.error || player.error.code === 1) return; // 1: the user aborted the load
  const ext = (video.name.match(/\.[A-Za-z0-9]+$/) || [""])[0].toLowerCase();
  let text = `this browser cannot play ${ext || "this video's format"}; the memory and answers work, timestamps are shown as text`;
  try {
    const r = await fetch(`/media/${encodeURIComponent(video.id)}`, { headers: { Range: "bytes=0-0" } });
    if (!r.ok) {
      let detail = `${r.status} ${r.statusText}`;
      try { const body = await r.json(); if (typeof body.detail === "string") detail = body.detail; } catch { /* not JSON */ }
      text = `the video cannot be shown: ${detail}; the memory and answers work, timestamps are shown as text`;
    }
    r.body?.cancel();
  } catch { /* the server is unreachable: the format message stands */ }
  note.textContent = text;
  note.hidden = false;
  player.hidden = true;
}
