// The video page: the player (range requests, so seeking is instant), the memory timeline and its search,
// and the chat panel.
import * as api from "./api.js";
import { Chat } from "./chat.js";
import { clear, el, fmtTime } from "./dom.js";
import { Timeline } from "./timeline.js";

export async function showVideo(root, videoId, sessionId) {
  const video = await api.get(`/api/videos/${encodeURIComponent(videoId)}`);
  const player = el("video", { id: "player", controls: true, preload: "metadata", src: `/media/${video.id}` });
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
      clear(hits).append(...(found.length ? found.map((h) => el("li", {},
        el("button", { class: "chip", type: "button", onclick: () => { player.currentTime = h.node.start; } },
          el("span", { text: `${fmtTime(h.node.start)}-${fmtTime(h.node.end)} ${h.node.level}` })),
        el("span", { class: "muted", text: ` ${h.score.toFixed(2)} ` }), el("span", { text: h.node.text })))
        : [el("li", { class: "muted", text: "nothing stored matches" })]));
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
      player, el("h3", { text: "Memory" }), memoryNote, lanes, search, hits),
    chatPanel));
  const chat = new Chat(chatPanel, video, player, timeline, (sid) => {
    const hash = sid ? `#/video/${video.id}/session/${sid}` : `#/video/${video.id}`;
    if (location.hash !== hash) history.replaceState(null, "", hash);
  });
  chat.onMemoryChanged = reloadMemory;
  await reloadMemory();
  await chat.open(sessionId || null);
}
