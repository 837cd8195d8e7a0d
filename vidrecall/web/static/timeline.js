// The memory under the player: a lane per level (then speech), every caption a bar; hover shows its text,
// click seeks. The current question's zoom path and evidence are drawn on top.
import { clear, el, fmtTime, hideTip, showTip } from "./dom.js";

export class Timeline {
  constructor(root, player) {
    this.root = root;
    this.player = player;
    this.memory = { lanes: [], nodes: [], duration: 0 };
    this.path = [];
    this.evidence = [];
    this.playhead = el("div", { class: "playhead" });
    player.addEventListener("timeupdate", () => this.movePlayhead());
  }

  setMemory(memory) { this.memory = memory; this.draw(); }

  setQuestion(steps, evidence) { this.path = steps.filter((s) => s.level && s.spans.length); this.evidence = evidence; this.draw(); }

  pct(t) { return `${(100 * Math.min(Math.max(t, 0), this.memory.duration)) / (this.memory.duration || 1)}%`; }

  width(a, b) { return `max(2px, ${(100 * (Math.min(b, this.memory.duration) - Math.max(a, 0))) / (this.memory.duration || 1)}%)`; }

  draw() {
    const { lanes, nodes, duration } = this.memory;
    clear(this.root);
    if (!duration) return;
    const rows = new Map();
    for (const lane of lanes) {
      const track = el("div", { class: "track" });
      rows.set(lane, track);
      this.root.append(el("div", { class: "lane", dataset: { level: lane } }, el("span", { class: "lane-name", text: lane }), track));
    }
    for (const ev of this.evidence) {
      for (const track of rows.values()) {
        track.append(el("div", { class: "evidence-band", style: { left: this.pct(ev.start), width: this.width(ev.start, ev.end) } }));
      }
    }
    lanes.forEach((lane, depth) => {
      for (const node of nodes.filter((n) => n.level === lane)) {
        const text = `${node.level} ${fmtTime(node.start)}-${fmtTime(node.end)}: ${node.text}` +
          (node.instruction ? `\n(asked to look for: ${node.instruction})` : "");
        rows.get(lane).append(el("div", {
          class: `bar depth-${depth % 5}`, title: text, dataset: { nodeId: node.id, start: node.start },
          style: { left: this.pct(node.start), width: this.width(node.start, node.end) },
          onmousemove: (e) => showTip(e, text), onmouseleave: hideTip,
          onclick: () => { this.player.currentTime = node.start; },
        }));
      }
    });
    this.path.forEach((step) => {
      const track = rows.get(step.level);
      if (!track) return;
      for (const [a, b] of step.spans) {
        track.append(el("div", { class: `path ${step.node === "localize" ? "planned" : ""}`, title: `step ${step.index} (${step.node}) ${fmtTime(a)}-${fmtTime(b)}`,
          style: { left: this.pct(a), width: this.width(a, b) } }, el("span", { text: step.index })));
      }
    });
    const axis = el("div", { class: "axis" });
    const step = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600].find((s) => duration / s <= 10) || 3600;
    for (let t = 0; t <= duration; t += step) axis.append(el("span", { style: { left: this.pct(t) }, text: fmtTime(t) }));
    this.root.append(el("div", { class: "lane" }, el("span", { class: "lane-name" }), axis));
    this.root.append(this.playhead);
    this.movePlayhead();
  }

  movePlayhead() {
    // the playhead spans the tracks, which start after the lane-name column
    this.playhead.style.left = `calc(var(--lane-name) + (100% - var(--lane-name)) * ${this.player.currentTime / (this.memory.duration || 1)})`;
  }
}
