"""Abstention and calibrated confidence on fresh haystacks: questions about things that are NOT in the video.

    python benchmarks/bench_abstention.py                          # seeds 4 (fit) and 5 (held out), offline
    python benchmarks/bench_abstention.py --fit-seed 6 --test-seed 7 --minutes 6
    python benchmarks/bench_abstention.py --dry-run                # scripted models on one shared clip: the
                                                                   # plumbing in well under a minute
    python benchmarks/bench_abstention.py --report-only            # the tables of earlier runs

Haystacks come from benchmarks/bench_brain.py's builders (spoken and on-screen needles drawn by
random.Random(seed), built into <out>/haystacks when missing). Each gets, besides its own multiple-choice
questions (and open versions of the code / number / name ones):
  absent questions, about things the same pools could have put there but did not -- an on-screen code or
  number of a kind never shown, a sign's name never shown, a spoken code or name never said -- each asked
  open and as multiple choice with a last option "Not mentioned in the video" (the right answer).
Every question is asked once, with abstention on (the profile's `abstain_below`). Abstaining happens only in the
last step (agent/abstention.py `settle`, after the search), and an answer it replaced keeps what it withheld
(`Answer.withheld`), so the same run also gives the answer with abstention off (`abstain_below: 0`): the
search is identical, only the finish differs. (Asking twice would not compare the same search: the second ask
reads the captions the first one's zoom made.)

Printed and written to <out>/report.md:
  - fluent-but-ungrounded answers left: open absent questions answered with something (not "not found");
  - absent multiple choice: how often "Not mentioned" is chosen, how many letters are marked as guesses;
  - right answers lost to over-abstaining: ordinary questions right with abstention off and, with it on,
    replaced by "not found" (open) or still right but marked as a guess (multiple choice);
  - calibration: fitted (evaluation/calibration.py, method "auto") on the fit seed's answers (plus --fit-extra
    rows of earlier runs; abstention off:
    every confidence there belongs to its answer),
    ECE before/after on the held-out seed, reliability diagrams <out>/reliability_seed<N>.png, and the fitted
    file <out>/<profile>.calibration.json that a profile can name.
Rows are appended to <out>/<arm>.jsonl in `vidrecall eval`'s row format (id, method, correct, confidence, ...
plus raw_confidence, abstained, grounded), so `vidrecall calibrate <out>/off.jsonl -o FILE.json` works on them;
a rerun resumes (keyed by haystack hash, question and arm).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # an offline benchmark: a missing model is reported, not fetched
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

NONE_TEXT = "Not mentioned in the video"
ARMS = ("off", "on")
OPEN_TYPES = ("code", "number", "rare_word")  # ordinary questions also asked open (their gold is a word or number)


# --- questions ------------------------------------------------------------------------------------------------
def none_mc(qid: str, text: str, decoys: list[str], rng: random.Random, qtype: str) -> dict:
    """A multiple-choice absent question: three decoys in a seeded order, then the "not mentioned" option."""
    decoys = list(dict.fromkeys(decoys))[:3]
    rng.shuffle(decoys)
    letters = "ABCD"
    options = [f"{letters[i]}. {d}" for i, d in enumerate(decoys)] + [f"{letters[len(decoys)]}. {NONE_TEXT}"]
    return {"id": qid, "question_type": qtype, "question": text, "options": options,
            "answer": letters[len(decoys)], "answer_text": NONE_TEXT, "kind": "absent"}


def absent_open(qid: str, text: str, qtype: str) -> dict:
    return {"id": qid, "question_type": qtype, "question": text, "options": [], "answer": "",
            "answer_text": NONE_TEXT, "kind": "absent"}


def absent_questions(h: dict, seed: int) -> list[dict]:
    """Questions about things bench_brain's pools could have put in this haystack but did not."""
    import bench_brain as brain

    rng = random.Random(seed * 1000 + 77)
    said = " ".join(str(n.get("text") or n.get("sentence") or "") for n in h.get("needles") or []).upper()
    out: list[dict] = []
    if h["bench"]["set"] == "text":
        kinds = [(t, d) for t, d in brain.TEXT_CODES] + [(t, d) for t, d, _ in brain.TEXT_NUMBERS]
        unused = [(t, d) for t, d in kinds if t.split("{")[0].strip() not in said]
        template, desc = rng.choice(unused)
        noun = desc.split(" ", 1)[1]
        value = "".join(rng.sample("123456789", 4))
        q = f"What {noun} is shown on screen in the video?"
        out.append(absent_open("absent_text_code_open", q, "absent_code"))
        out.append(none_mc("absent_text_code_mc", q, [value, *brain.code_distractors(rng, value)], rng, "absent_code"))
        signs = [(t, q) for t, q in brain.TEXT_NAME_SIGNS if t.split("{")[0].strip() not in said]
        groups = [g for g in brain.NAME_GROUPS if not any(name.upper() in said for name in g)]
        if signs and groups:
            _, q = rng.choice(signs)
            out.append(absent_open("absent_text_name_open", q, "absent_name"))
            out.append(none_mc("absent_text_name_mc", q, list(rng.choice(groups)), rng, "absent_name"))
    else:
        rare = [r for r in brain.SPEECH_RARE if r[0].upper() not in said]
        if rare:
            r = rng.choice(rare)
            out.append(absent_open("absent_speech_name_open", r[1], "absent_name"))
            out.append(none_mc("absent_speech_name_mc", r[1], [r[2], *r[3]], rng, "absent_name"))
        codes = [c for c in brain.SPEECH_CODES if c[0].split("{")[0].strip().upper() not in said]
        if codes:
            _, q = rng.choice(codes)
            value = "".join(rng.sample("123456789", 4))
            out.append(absent_open("absent_speech_code_open", q, "absent_code"))
            out.append(none_mc("absent_speech_code_mc", q, [value, *brain.code_distractors(rng, value)], rng,
                               "absent_code"))
    return out


def ordinary_questions(h: dict) -> list[dict]:
    """The haystack's own multiple-choice questions, plus open versions of those whose gold is one word/number."""
    out = []
    for q in h["questions"]:
        out.append({**q, "kind": "present"})
        if q["question_type"] in OPEN_TYPES:
            out.append({**q, "id": q["id"] + "_open", "options": [], "answer": q["answer_text"], "kind": "present"})
    return out


# --- haystacks ----------------------------------------------------------------------------------------------------
def real_haystacks(args) -> list[dict]:
    import bench_brain as brain

    built = argparse.Namespace(out=args.out, minutes=args.minutes, sets=args.sets, rebuild=args.rebuild,
                               clips=args.clips, progress=args.progress)
    hays = []
    for seed in (args.fit_seed, args.test_seed):
        paths = brain.haystack_paths(args.out, seed, args.minutes) if args.report_only else \
            brain.ensure_haystacks(built, seed)
        for name, path in paths.items():
            if name in args.sets and Path(path).exists():
                h = brain.load_qa(Path(path))
                h["questions_all"] = ordinary_questions(h) + absent_questions(h, seed)
                hays.append(h)
    return hays


DRY_CODE = {4: "4719", 5: "8362"}  # the code each dry "seed" shows on screen
DRY_HOST = {4: "Orla Fenwick", 5: "Bruno Kestrel"}


def dry_haystacks(args) -> list[dict]:
    """One shared clip per "seed" with scripted captions: a door code and a host's name on screen (present),
    nothing about an alarm code or a ship's cat (absent)."""
    from tests.conftest import CLIPS

    video = CLIPS / "intel_one-by-one-person-detection.mp4"  # 139 s: three coarse clips
    if not video.exists():
        raise SystemExit(f"--dry-run needs the shared clip {video}")
    hays = []
    for seed in (args.fit_seed, args.test_seed):
        rng = random.Random(seed)
        code, host = DRY_CODE.get(seed, "4719"), DRY_HOST.get(seed, "Orla Fenwick")
        present = [
            {"id": "door_code", "question_type": "code", "question": "What door code is shown on screen?",
             "options": ["A. " + code[::-1], "B. " + code, "C. " + code[1:] + code[0], "D. 5555"], "answer": "B",
             "answer_text": code, "kind": "present"},
            {"id": "door_code_open", "question_type": "code", "question": "What door code is shown on screen?",
             "options": [], "answer": code, "answer_text": code, "kind": "present"},
            {"id": "host", "question_type": "rare_word", "question": "Who is today's host, according to the sign?",
             "options": ["A. " + host, "B. Ilse Marwood", "C. Tobias Quell", "D. Magnus Ardley"], "answer": "A",
             "answer_text": host, "kind": "present"},
        ]
        absent = [absent_open("alarm_open", "What alarm code is shown on screen in the video?", "absent_code"),
                  none_mc("alarm_mc", "What alarm code is shown on screen in the video?", ["2846", "6482", "4628"],
                          rng, "absent_code"),
                  absent_open("cat_open", "What is the ship's cat called, according to the narrator?", "absent_name"),
                  none_mc("cat_mc", "What is the ship's cat called, according to the narrator?",
                          ["Marmaduke", "Montague", "Mortimer"], rng, "absent_name")]
        hays.append({"name": f"dry_seed{seed}", "video_path": str(video), "hash": f"dry{seed}-{code}",
                     "bench": {"seed": seed, "set": "dry"}, "duration_s": 139.4, "questions_all": present + absent,
                     "dry": {"code": code, "host": host}})
    return hays


def dry_models(h: dict):
    """A captioner that shows the code and the host's name in the second minute, and an LLM that answers every
    question fluently: right where the memory has it, made up (the fluent-but-ungrounded case) where not."""
    from vidrecall.agent.testing import ScriptedCaptioner, ScriptedChatModel
    from vidrecall.core.types import Span

    code, host = h["dry"]["code"], h["dry"]["host"]
    needle = Span(60, 120)

    def text_for(span, level, instruction):
        if span.overlap(needle) > 0:
            return f'On-screen text: "DOOR CODE {code}" and "TODAY\'S HOST: {host.upper()}". A corridor.'
        return "A person walks past a white wall."

    replies: dict[str, dict] = {}
    for q in h["questions_all"]:
        if q["kind"] == "present":
            said = q["answer"] if q["options"] else q["answer_text"]
            replies[q["question"] + ("|mc" if q["options"] else "|open")] = {
                "answer": said, "confidence": 0.9, "clips": [2], "evidence": f"DOOR CODE {code}"
                if q["question_type"] == "code" else f"TODAY'S HOST: {host.upper()}"}
        else:
            made_up = "A" if q["options"] else ("7731" if q["question_type"] == "absent_code" else "Captain Whiskers")
            replies[q["question"] + ("|mc" if q["options"] else "|open")] = {"answer": made_up, "confidence": 0.8,
                                                                             "clips": [1]}

    class Oracle(ScriptedChatModel):
        def _generate(self, messages, stop=None, run_manager=None, **kwargs):
            prompt = "\n".join(str(m.content) for m in messages)
            mc = "A. " in prompt and "B. " in prompt
            for key, reply in replies.items():
                question, form = key.rsplit("|", 1)
                if question in prompt and (form == "mc") == mc:
                    self.defaults = {"answer": reply, "final_answer": reply,
                                     "localize": {"clips": reply["clips"], "instruction": "read the text"}}
                    break
            return super()._generate(messages, stop, run_manager, **kwargs)

    return Oracle(), ScriptedCaptioner(text_for, name=f"dry-{code}")


# --- running ----------------------------------------------------------------------------------------------------
def read_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            pass  # a line cut by a kill
    return rows


def without_abstention(answer):
    """The answer as the same search would have ended with `abstain_below: 0`: what abstaining withheld, back."""
    from vidrecall.agent.options import parse_options

    if not answer.abstained:
        return answer
    update = {"abstained": False, "withheld": ""}
    if answer.withheld:
        update["answer"] = answer.withheld
        if answer.options:  # the option the model had chosen before "not mentioned" replaced it
            update["option"] = next((o.letter for o in parse_options(answer.options)
                                     if o.label == answer.withheld or answer.withheld.startswith(o.letter + ".")),
                                    answer.option)
    return answer.model_copy(update=update)


def row_of(h: dict, q: dict, arm: str, answer, seconds: float) -> dict:
    from vidrecall.evaluation.predictions import trust_fields
    from vidrecall.evaluation.scoring import is_correct

    mc = bool(q["options"])
    if q["kind"] == "absent" and not mc:
        correct = bool(answer.abstained)  # the right answer is "not found"
    else:
        correct = bool(is_correct(q["answer"], answer.option, answer.answer, mc))
    return {"id": f"{h['name']}:{q['id']}", "method": arm, "source": "bench_abstention", "video_id": h["name"],
            "question_type": q["question_type"], "multiple_choice": mc, "kind": q["kind"],
            "seed": h["bench"]["seed"], "haystack": h["name"], "haystack_hash": h["hash"],
            "answer": answer.answer[:200], "option": answer.option, "gold": q["answer"] or q["answer_text"],
            "correct": correct, "confidence": round(float(answer.confidence), 4), **trust_fields(answer),
            "withheld": answer.withheld[:200],
            "decided_by": answer.decided_by, "forced": answer.forced, "error": answer.error,
            "cost": {"seconds": round(seconds, 2), "llm_calls": answer.cost.llm_calls}}


def ask_order(hays: list[dict], done: set) -> list[tuple[dict, dict]]:
    """(haystack, question) still to ask, in rounds that each take the haystacks in turn (a run stopped early is
    balanced across seeds and sets): each haystack's first absent question asked open and as multiple choice;
    then the ordinary multiple-choice questions (a minute each: the calibration's answers); then the ordinary
    open ones (the over-abstaining check; minutes each); then the other absent questions."""
    def left(q: dict, h: dict) -> bool:
        return any((f"{h['name']}:{q['id']}", arm) not in done for arm in ARMS)

    rounds: list[list[tuple[dict, dict]]] = [[], [], [], []]
    for h in hays:
        absent = [q for q in h["questions_all"] if q["kind"] == "absent"]
        first = {q["question"] for q in absent[:1]}
        for q in h["questions_all"]:
            stage = (0 if q["question"] in first else 3) if q["kind"] == "absent" else 1 if q["options"] else 2
            rounds[stage].append((h, q))
    todo = []
    for stage in rounds:
        by_hay = [[(h, q) for h, q in stage if h["name"] == name] for name in dict.fromkeys(h["name"] for h in hays)]
        for i in range(max((len(x) for x in by_hay), default=0)):
            todo += [x[i] for x in by_hay if i < len(x) and left(x[i][1], x[i][0])]
    return todo


def ask_all(args, hays: list[dict]) -> None:
    """Every question of every haystack, asked with abstention on; rows of both arms appended to <out>/<arm>.jsonl."""
    from vidrecall.api import VideoQA
    from vidrecall.core.progress import TqdmBars, silent

    embedder = None
    if args.dry_run:  # one embedder for every dry haystack (the real run loads it once per profile anyway)
        from vidrecall.memory.embedder import load_embedder

        embedder = load_embedder()
    done = {(r["id"], r["method"]) for arm in ARMS for r in read_rows(args.out / f"{arm}.jsonl")
            if r.get("haystack_hash") == next((h["hash"] for h in hays if h["name"] == r.get("haystack")), None)}
    todo = ask_order(hays, done)
    bases: dict[str, Any] = {}  # the real run: one VideoQA (one store, one model load) for every haystack
    askers: dict[str, Any] = {}

    def asker_for(h: dict) -> Any:
        key = h["name"] if args.dry_run else args.profile
        if key not in askers:
            if args.dry_run:
                from vidrecall.agent.testing import fast_levels

                llm, captioner = dry_models(h)
                base = VideoQA(args.profile, llm=llm, vlm=captioner, embedder=embedder,
                               store_dir=args.out / "stores" / h["name"], levels=fast_levels(),
                               speech={"source": "off"}, budgets={"max_iterations": 1}, progress=silent)
            else:
                base = VideoQA(args.profile, store_dir=args.out / "stores" / args.profile,
                               progress=TqdmBars() if args.progress else silent)
            bases[key] = base
            on_below = base.config.abstain_below if base.config.abstain_below > 0 else args.abstain_below
            b = base.backbones
            askers[key] = VideoQA(config=base.config.replace(abstain_below=on_below), llm=b.llm, vlm=b.captioner,
                                  embedder=base.memory.embedder, memory=base.memory, progress=base.progress)
        return askers[key]

    try:
        for h in dict.fromkeys(h["name"] for h, _ in todo):  # coarse captions and speech, before any clock
            hay = next(x for x in hays if x["name"] == h)
            started = time.monotonic()
            asker_for(hay)
            bases[hay["name"] if args.dry_run else args.profile].index(hay["video_path"])
            print(f"[{hay['name']}] indexed in {time.monotonic() - started:.1f} s")
        for h, q in todo:
            t0 = time.monotonic()
            answer = asker_for(h).ask(h["video_path"], q["question"], q["options"] or None)
            seconds = time.monotonic() - t0
            for arm, shown in (("off", without_abstention(answer)), ("on", answer)):
                row = row_of(h, q, arm, shown, seconds)
                with (args.out / f"{arm}.jsonl").open("a", encoding="utf-8") as f:
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
                mark = "ok " if row["correct"] else "BAD"
                flag = " [guess]" if shown.guess else " [not found]" if shown.abstained else ""
                print(f"[{h['name']}] {arm:>3} {mark} {q['id']:<26} {(shown.option or shown.answer)[:40]!r}{flag} "
                      f"raw {row['raw_confidence']:.2f} grounded {shown.grounded} ({seconds:.1f} s)", flush=True)
    finally:
        for base in bases.values():
            base.close()


# --- tables ------------------------------------------------------------------------------------------------------
def pct(a: int, b: int) -> str:
    return f"{a}/{b} ({100 * a / b:.0f}%)" if b else "0/0"


def tables(args, hays: list[dict]) -> str:
    from vidrecall.core.calibration import save_calibration
    from vidrecall.evaluation.calibration import (calibrated, calibration_data, expected_calibration_error,
                                                  fit_calibration, reliability_diagram)

    names = {h["name"] for h in hays}
    hashes = {h["name"]: h["hash"] for h in hays}
    rows = {arm: {r["id"]: r for r in read_rows(args.out / f"{arm}.jsonl")
                  if r.get("haystack") in names and r.get("haystack_hash") == hashes.get(r.get("haystack"))}
            for arm in ARMS}
    off, on = rows["off"], rows["on"]
    both = sorted(set(off) & set(on))
    lines = [f"# Abstention and calibration ({'dry run, scripted models' if args.dry_run else args.profile})", "",
             f"seeds: fit {args.fit_seed}, held out {args.test_seed}; {len(both)} questions asked both ways", ""]
    absent_open = [i for i in both if off[i]["kind"] == "absent" and not off[i]["multiple_choice"]]
    absent_mc = [i for i in both if off[i]["kind"] == "absent" and off[i]["multiple_choice"]]
    present = [i for i in both if off[i]["kind"] == "present"]
    fluent = {arm: sum(1 for i in absent_open if not rows[arm][i]["abstained"]
                       and rows[arm][i]["answer"].strip().lower() not in ("", "no answer")) for arm in ARMS}
    right_off = [i for i in present if off[i]["correct"]]
    replaced = [i for i in right_off if not on[i]["correct"]]
    marked = [i for i in right_off if on[i]["correct"] and on[i].get("guess")]
    lines += ["| | abstention off | abstention on |", "|---|---|---|",
              f"| made-up answers left (open questions about absent things) | {pct(fluent['off'], len(absent_open))} | "
              f"{pct(fluent['on'], len(absent_open))} |",
              f"| absent multiple choice: 'Not mentioned' chosen | "
              f"{pct(sum(off[i]['correct'] for i in absent_mc), len(absent_mc))} | "
              f"{pct(sum(on[i]['correct'] for i in absent_mc), len(absent_mc))} |",
              f"| absent multiple choice: letter marked as a guess | – | "
              f"{pct(sum(bool(on[i].get('guess')) for i in absent_mc), len(absent_mc))} |",
              f"| ordinary questions right | {pct(len(right_off), len(present))} | "
              f"{pct(sum(on[i]['correct'] for i in present), len(present))} |", "",
              f"right answers lost to over-abstaining: {len(replaced)} of {len(right_off)} right with abstention off "
              f"(open answers replaced by 'not found', letters changed); {len(marked)} more right letters marked as "
              "a guess", ""]
    by_type: dict[str, list[str]] = {}
    for i in both:
        by_type.setdefault(off[i]["question_type"] + (" (mc)" if off[i]["multiple_choice"] else " (open)"), []).append(i)
    lines += ["| question type | n | right, off | right, on | abstained, on |", "|---|---|---|---|---|"]
    for t in sorted(by_type):
        ids = by_type[t]
        lines.append(f"| {t} | {len(ids)} | {sum(off[i]['correct'] for i in ids)} | {sum(on[i]['correct'] for i in ids)} "
                     f"| {sum(on[i]['abstained'] for i in ids)} |")
    lines.append("")

    # Fitted on the abstention-off answers: there every confidence belongs to the answer it is scored with (an
    # abstention that replaced the answer keeps the withheld answer's confidence, evaluation/calibration.py).
    extra = [r for path in args.fit_extra for r in read_rows(path)]  # earlier runs of the same profile
    fit_rows = [r for r in off.values() if r["seed"] == args.fit_seed] + extra
    test_rows = [r for r in off.values() if r["seed"] == args.test_seed]
    fit_conf, fit_ok = calibration_data(fit_rows)
    test_conf, test_ok = calibration_data(test_rows)
    lines.append("## Calibration (fitted on the fit seed's answers, abstention off"
                 + (f", and {len(calibration_data(extra)[0])} answers of {', '.join(p.name for p in args.fit_extra)}"
                    if extra else "") + ")")
    if len(fit_conf) < 5 or not test_conf:
        lines += ["", f"too few answers to fit ({len(fit_conf)} fit, {len(test_conf)} held out)"]
        return "\n".join(lines)
    cal = fit_calibration(fit_conf, fit_ok, fitted_on={"runs": ["off.jsonl", *(str(p) for p in args.fit_extra)],
                                                       "seed": args.fit_seed, "benchmark": "bench_abstention"})
    path = save_calibration(cal, args.out / f"{args.profile}.calibration.json")
    after = calibrated(test_conf, cal)
    png = reliability_diagram(after, test_ok, args.out / f"reliability_seed{args.test_seed}.png",
                              compare=(test_conf, "raw"),
                              title=f"held-out seed {args.test_seed}: raw vs calibrated ({len(test_ok)} answers)")
    fit_png = reliability_diagram(calibrated(fit_conf, cal), fit_ok, args.out / f"reliability_seed{args.fit_seed}.png",
                                  compare=(fit_conf, "raw"), title=f"fit set ({len(fit_ok)} answers)")
    what = (f"temperature {cal.temperature:.3f}, bias {cal.bias:+.3f}" if cal.method == "temperature" else
            "isotonic: " + ", ".join(f"{x:.2f}->{y:.2f}" for x, y in zip(cal.x, cal.y)))
    cv = cal.fitted_on.get("cv_brier") or {}
    lines += ["", f"{what} (fitted on {len(fit_conf)} answers, accuracy {cal.fitted_on['accuracy']:.2f}; "
                  + (f"chosen by {cal.fitted_on['chosen_by']}: " + ", ".join(f"{m} {v:.3f}" for m, v in cv.items())
                     if cv else f"method {cal.method}") + f") -> {path}", "",
              "| | answers | accuracy | mean confidence | ECE raw | ECE calibrated |", "|---|---|---|---|---|---|",
              f"| fit set (seed {args.fit_seed}{' + earlier runs' if extra else ''}) | {len(fit_ok)} | {sum(fit_ok) / len(fit_ok):.2f} | "
              f"{sum(fit_conf) / len(fit_conf):.2f} | {expected_calibration_error(fit_conf, fit_ok):.3f} | "
              f"{expected_calibration_error(calibrated(fit_conf, cal), fit_ok):.3f} |",
              f"| held-out seed {args.test_seed} | {len(test_ok)} | {sum(test_ok) / len(test_ok):.2f} | "
              f"{sum(test_conf) / len(test_conf):.2f} | {expected_calibration_error(test_conf, test_ok):.3f} | "
              f"{expected_calibration_error(after, test_ok):.3f} |", "",
              f"reliability diagrams: {png}, {fit_png}"]
    return "\n".join(lines)


# --- main -----------------------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 epilog="See the module docstring (top of this file) for what is measured.")
    ap.add_argument("--fit-seed", type=int, default=4, help="haystack seed whose answers fit the calibration")
    ap.add_argument("--test-seed", type=int, default=5, help="held-out haystack seed the calibration is scored on")
    ap.add_argument("--minutes", type=float, default=8.0, help="length of each haystack")
    ap.add_argument("--profile", default="offline", help="the profile to run (its abstain_below is the 'on' arm)")
    ap.add_argument("--abstain-below", type=float, default=0.6,
                    help="the 'on' arm's threshold when the profile never abstains (abstain_below 0)")
    ap.add_argument("--fit-extra", type=Path, nargs="*", default=[],
                    help="earlier result rows of the same profile (JSONL with correct / confidence) added to the fit set")
    ap.add_argument("--sets", nargs="+", default=["speech", "text"], choices=["speech", "text"])
    ap.add_argument("--out", type=Path, default=REPO / "runs" / "bench_abstention")
    ap.add_argument("--clips", type=Path, default=REPO.parent / "shared" / "media" / "clips")
    ap.add_argument("--dry-run", action="store_true",
                    help="scripted models on one shared clip (no haystack built, no model loaded but the embedder)")
    ap.add_argument("--report-only", action="store_true", help="print the tables of earlier runs; ask nothing")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the haystacks even if built")
    ap.add_argument("--progress", action="store_true", help="show progress bars while building and indexing")
    args = ap.parse_args(argv)
    if args.fit_seed == args.test_seed:
        ap.error("--fit-seed and --test-seed must differ (the calibration is scored on unseen answers)")
    args.out = args.out.resolve()
    if args.dry_run and args.out == (REPO / "runs" / "bench_abstention").resolve():
        args.out = args.out / "dry-run"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.dry_run:
        sys.path.insert(0, str(REPO))  # tests.conftest: where the shared clips are
    started = time.monotonic()
    hays = dry_haystacks(args) if args.dry_run else real_haystacks(args)
    if not hays:
        raise SystemExit(f"no haystacks in {args.out / 'haystacks'} (run without --report-only to build them)")
    for h in hays:
        kinds = [q["kind"] for q in h["questions_all"]]
        print(f"{h['name']}: {kinds.count('present')} ordinary questions, {kinds.count('absent')} absent ones")
    if not args.report_only:
        ask_all(args, hays)
    text = tables(args, hays)
    (args.out / "report.md").write_text(text + "\n", encoding="utf-8")
    print()
    print(text)
    print(f"\nreport: {args.out / 'report.md'} ({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
