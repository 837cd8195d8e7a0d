// The chat panel: each Step and Progress streams in as it happens, then the answer with confidence, evidence
// chips (click: the player jumps there), thumbnails and cost. Follow-ups stay in the session.
import * as api from "./api.js";
import { clear, el, fmtTime } from "./dom.js";

export class Chat {
  constructor(root, video, player, timeline, onSession) {
    this.root = root;
    this.video = video;
    this.player = player;
    this.timeline = timeline;
    this.onSession = onSession;
    this.sessionId = null;
    this.busy = false;
    this.log = el("div", { class: "log", id: "chat-log" });
    this.question = el("input", { id: "question", type: "text", placeholder: "Ask about the video…", autocomplete: "off" });
    this.options = el("textarea", { id: "options", rows: 3, placeholder: "options, one per line (optional): A. red\nB. blue" });
    this.askButton = el("button", { id: "ask-button", type: "submit", text: "Ask" });
    this.strategy = el("select", { id: "strategy-select", title: "how the agent looks through the video" });
    api.get("/api/status").then((status) => {
      this.strategy.replaceChildren(...status.strategies.map((name) => el("option", { value: name, text: name })));
      this.strategy.value = status.strategy;
    }).catch(() => {});
    this.sessions = el("select", { id: "session-select", onchange: () => this.open(this.sessions.value || null) });
    const form = el("form", { id: "ask-form" }, this.question, this.options,
      el("label", { for: "strategy-select", text: "strategy " }), this.strategy, this.askButton);
    form.addEventListener("submit", (e) => { e.preventDefault(); this.ask(); });
    clear(root).append(el("div", { class: "row" }, el("label", { for: "session-select", text: "Session " }), this.sessions,
      el("button", { type: "button", text: "New", onclick: () => this.open(null) })), this.log, form);
  }

  async listSessions() {
    const sessions = await api.get(`/api/sessions?video_id=${this.video.id}`);
    clear(this.sessions).append(el("option", { value: "", text: "new session" }),
      ...sessions.map((s) => el("option", { value: s.id, selected: s.id === this.sessionId,
        text: `${s.title} (${s.turns}${s.running ? ", answering now" : ""})` })));
  }

  async open(sessionId) {
    this.stopFollowing();
    this.sessionId = sessionId;
    clear(this.log);
    this.timeline.setQuestion([], []);
    this.onSession(sessionId);
    if (!sessionId) return this.listSessions();
    const view = await api.get(`/api/sessions/${sessionId}`);
    if (this.sessionId !== sessionId) return; // another session was opened meanwhile
    for (const answer of view.turns) {
      const turn = this.turn(answer.question, answer.options);
      answer.trajectory.forEach((s) => turn.steps.append(stepItem(s)));
      turn.card.append(this.answerCard(answer));
    }
    const last = view.turns[view.turns.length - 1];
    if (last) this.timeline.setQuestion(last.trajectory, last.evidence);
    await this.listSessions();
    // A question still being answered (the page was reloaded mid-question): follow it where it is.
    if (view.running?.length) this.followAll(view.running);
  }

  // Stop reading the stream this panel shows (the question itself goes on on the server).
  stopFollowing() {
    this.controller?.abort();
    this.released();
  }

  released() {
    this.controller = null;
    this.busy = false;
    this.askButton.disabled = false;
  }

  async followAll(running) {
    for (const question of running) {
      if (this.sessionId !== question.session_id) return;
      const turn = this.turn(question.question, question.options);
      turn.progress.textContent = "answering…";
      let finished = false;
      await this.stream(turn, (onEvent, signal) => api.live(question.session_id, question.id, onEvent, signal),
        async (err) => { finished = err.status === 404; return finished; });
      // it finished between the two requests: its answer is stored now
      if (finished && this.sessionId === question.session_id) return this.open(question.session_id);
    }
  }

  turn(question, options) {
    const steps = el("ol", { class: "steps" });
    const progress = el("div", { class: "progress-line muted" });
    const card = el("div", { class: "answer-slot" });
    this.log.append(el("div", { class: "turn" },
      el("div", { class: "q", text: question }),
      options.length ? el("ul", { class: "options" }, options.map((o, i) => el("li", { text: o, dataset: { letter: optionLetter(o, i) } }))) : null,
      el("details", { class: "steps-box", open: true }, el("summary", { text: "what the agent did" }), steps, progress), card));
    this.log.scrollTop = this.log.scrollHeight;
    return { steps, progress, card };
  }

  async ask() {
    const question = this.question.value.trim();
    if (!question || this.busy) return;
    const options = this.options.value.split("\n").map((o) => o.trim()).filter(Boolean);
    const sent = { question: this.question.value, options: this.options.value };
    const turn = this.turn(question, options);
    let accepted = false;
    const failed = await this.stream(turn, (onEvent, signal) => api.ask(this.video.id, { question, options, session_id: this.sessionId, strategy: this.strategy.value || null },
      (name, data) => {
        if (name === "session" && !accepted) {
          // the server has the question: empty the boxes, so a follow-up does not resend these options
          accepted = true;
          this.question.value = "";
          this.options.value = "";
        }
        onEvent(name, data);
      }, signal));
    if (failed && !this.question.value && !this.options.value) {
      // not answered: give the question back to edit and send again
      this.question.value = sent.question;
      this.options.value = sent.options;
    }
  }

  // Show one question's events in `turn` as they arrive; `open(onEvent, signal)` starts the stream. True if the
  // question failed (an error event, or the stream could not start), false once it was answered.
  async stream(turn, open, onFailure = async () => false) {
    this.stopFollowing();
    const controller = new AbortController();
    this.controller = controller;
    this.busy = true;
    this.askButton.disabled = true;
    const steps = [];
    let failed = false;
    try {
      await open((name, data) => {
        if (controller.signal.aborted) return;
        if (name === "session" && data.session_id !== this.sessionId) { this.sessionId = data.session_id; this.onSession(this.sessionId); }
        else if (name === "status") turn.progress.textContent = data.message;
        else if (name === "progress") {
          turn.progress.textContent = `${data.node}: ${data.message}` + (data.total ? ` (${data.done}/${data.total})` : "");
        } else if (name === "step") {
          steps.push(data);
          turn.steps.append(stepItem(data));
          turn.progress.textContent = "";
          this.timeline.setQuestion(steps, []);
        } else if (name === "answer") {
          turn.progress.textContent = "";
          turn.card.append(this.answerCard(data));
          this.timeline.setQuestion(data.trajectory, data.evidence);
        } else if (name === "error") {
          failed = true;
          turn.progress.textContent = "";
          turn.card.append(el("div", { class: "error", text: data.detail }));
        }
        this.log.scrollTop = this.log.scrollHeight;
      }, controller.signal);
    } catch (err) {
      if (controller.signal.aborted) return false; // this panel moved on (another session); not a failure
      turn.progress.textContent = "";
      if (!(await onFailure(err))) {
        failed = true;
        turn.card.append(el("div", { class: "error", text: err.message }));
      }
    } finally {
      if (this.controller === controller) this.released();
    }
    if (controller.signal.aborted) return false;
    this.onMemoryChanged?.();
    this.listSessions();
    return failed;
  }

  answerCard(a) {
    const chosen = (a.option || "").trim().toUpperCase();
    // An abstaining answer (nothing the search read backs it) looks unlike a found one: muted, dashed, labelled.
    const abstained = Boolean(a.abstained);
    const guess = abstained && Boolean(a.option) && !(a.searched && a.searched.none_option);
    const label = abstained ? (guess ? "guess — not found in the video" : "not found in the video") : "";
    this.log.lastElementChild?.querySelectorAll(".options li").forEach((li) => {
      li.classList.toggle("chosen", li.dataset.letter === chosen);
      li.classList.toggle("guessed", guess && li.dataset.letter === chosen);
    });
    const head = a.option && !a.answer.trim().toUpperCase().startsWith(a.option.toUpperCase()) ? `${a.option}. ${a.answer}` : a.answer;
    const c = Math.min(1, Math.max(0, a.confidence));
    const chips = a.evidence.map((ev) => el("button", {
      class: "chip", type: "button", title: ev.text, dataset: { start: ev.start },
      onclick: () => { this.player.currentTime = ev.start; this.player.play?.().catch(() => {}); },
    }, el("img", { src: `/api/videos/${this.video.id}/frame?t=${ev.start.toFixed(2)}&size=120`, alt: "", loading: "lazy" }),
      el("span", { text: `${fmtTime(ev.start)}-${fmtTime(ev.end)}${ev.level ? " " + ev.level : ""}` })));
    const cost = a.cost;
    const levels = Object.entries(cost.captions_by_level).map(([k, v]) => `${k} ${v}`).join(", ") || "none";
    return el("div", { class: abstained ? "answer abstained" : "answer" },
      el("div", { class: "answer-text" }, el("b", { text: head }),
        label ? el("span", { class: "badge guess", title: "nothing the search read backs this answer", text: label }) : null),
      el("div", { class: "confidence" },
        el("span", { class: "meter" }, el("span", { class: c >= 0.7 ? "hi" : c >= 0.4 ? "mid" : "lo", style: { width: `${c * 100}%` } })),
        el("span", { class: "muted", text: ` confidence ${c.toFixed(2)}` }),
        a.calibrated ? null : el("span", { class: "muted uncalibrated", text: ", uncalibrated",
          title: "the profile has no calibration: this is the judge's own confidence, not a measured chance of being right" }),
        a.forced ? el("span", { class: "badge", title: "a budget ran out; the answer was forced", text: "forced" }) : null,
        a.decided_by ? el("span", { class: "badge", title: "what decided the answer", text: a.decided_by }) : null),
      abstained && a.searched && a.option ? el("div", { class: "muted searched", text: `searched: ${describeSearched(a.searched)}` }) : null,
      a.reason ? el("div", { class: "muted reason", text: `why: ${a.reason}` }) : null,
      a.error ? el("div", { class: "error", text: a.error }) : null,
      el("div", { class: "chips" }, chips.length ? chips : el("span", { class: "muted", text: "no evidence spans" })),
      el("div", { class: "muted cost", text: `cost: ${cost.llm_calls} LLM calls · ${cost.tokens_in}/${cost.tokens_out} tokens · ` +
        `${cost.vlm_calls} captioner calls · new captions ${levels} · ${cost.captions_reused} reused · ` +
        `${cost.frames_decoded} frames · ${cost.seconds.toFixed(1)} s` }));
  }
}

// SearchedSummary.describe() (core/searched.py), for the card of a guessed letter.
function describeSearched(s) {
  const said = { asr: "transcribed speech", subtitles: "subtitles", both: "transcribed speech and subtitles" };
  const parts = Object.entries(s.levels || {}).map(([level, spans]) => {
    const total = spans.reduce((sum, [a, b]) => sum + (b - a), 0);
    if (s.duration > 0 && total >= 0.98 * s.duration) return `the whole video (0:00-${fmtTime(s.duration)}) at ${level}`;
    const shown = spans.slice(0, 4).map(([a, b]) => `${fmtTime(a)}-${fmtTime(b)}`).join(", ");
    return `${shown}${spans.length > 4 ? ` and ${spans.length - 4} more spans` : ""} at ${level}`;
  });
  const speech = s.speech_source === "off" ? "speech: off (this profile does not listen)"
    : `speech: ${said[s.speech_source] || s.speech_source}, ${s.speech_read ? `${s.speech_read} passage${s.speech_read === 1 ? "" : "s"} read` : "none of it read"}`;
  return `${parts.join("; ") || "no memory at all"}; ${speech}`;
}

function stepItem(s) {
  const spans = s.spans.map(([a, b]) => `${fmtTime(a)}-${fmtTime(b)}`).join(", ");
  const captions = s.captions_added || s.captions_reused ? ` +${s.captions_added} captions${s.captions_reused ? `, ${s.captions_reused} reused` : ""}` : "";
  return el("li", { class: "step", dataset: { node: s.node } },
    el("span", { class: "node", text: s.node }), el("span", { text: ` ${s.message}` }),
    spans ? el("span", { class: "muted", text: ` [${s.level ? s.level + " " : ""}${spans}]` }) : null,
    el("span", { class: "muted", text: `${captions} · ${s.elapsed_s.toFixed(1)} s` }));
}

function optionLetter(option, index) {
  const m = option.match(/^\s*\(?([A-Za-z])\s*[.):]/);
  return m ? m[1].toUpperCase() : String.fromCharCode(65 + index);
}
