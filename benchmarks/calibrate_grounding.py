"""Calibrating the semantic half of the grounding check with the real embedder (all-MiniLM-L6-v2).

An open answer (no options) is grounded when its content words appear in the captions it cites, or, for
a paraphrase, when its embedding is close enough to one of them. "Close enough" is measured here: cosine
similarity of answers to captions that back them (positives) and to captions of the same kind that do not
(negatives), with the captioner's boilerplate stripped as the agent strips it. The threshold is set above
every negative (agent/grounding.py SUPPORT_MIN_SIMILARITY); rerun after changing the embedder.

    python benchmarks/calibrate_grounding.py
"""
from __future__ import annotations

POSITIVES = [
    ("playing an instrument", "a man strums a ukulele on stage"),
    ("a black jacket", "A man in a black jacket writes on a whiteboard."),
    ("they are dancing", "Two people move to music in a studio, spinning and stepping in rhythm."),
    ("baking a cake", "A woman mixes batter in a bowl and pours it into a round tin."),
    ("a car drives by", "A red vehicle moves along the road past the camera."),
    ("doing yoga", "A person holds a stretching pose on a mat, arms raised."),
    ("the Sintel trailer", "On-screen text: \"SINTEL\" (0:41-0:48). Colours: grey 40%, brown 20%."),
    ("a frog", "A small green toy frog sits on the table."),
]
NEGATIVES = [
    ("playing an instrument", "Colours: grey 60%, white 20%. Bright. Still."),
    ("a red car", "a man strums a ukulele on stage"),
    ("a black jacket", "A small green toy frog sits on the table."),
    ("they are dancing", "On-screen text: \"THE PEACH OPEN MOVIE PROJECT PRESENTS\" (0:21)."),
    ("baking a cake", "People walk to a wall one by one."),
    ("a car drives by", "A woman mixes batter in a bowl and pours it into a round tin."),
    ("doing yoga", "Colours: blue 50%, black 30%. Dark. Scene cut near 3:20."),
    ("the Sintel trailer", "Two men playing ukuleles, a caption names the strings."),
    ("a frog", "An empty room with a white wall."),
    ("a white rabbit", "Colours: white 70%, grey 20%. Bright. Still."),
    ("Green", "Colours: grey 40%, brown 25%, white 10%. Medium brightness."),
    ("Martin", "On-screen text: \"Strings: D'Addario Pro Art Tenor J71\" (3:48)."),
]


def measure(embedder) -> tuple[list[float], list[float]]:
    from vidrecall.agent.caption_boilerplate import strip_boilerplate as evidence_text

    def sims(pairs):
        return [float((embedder.embed([a]) @ embedder.embed([evidence_text(c)]).T)[0, 0]) for a, c in pairs]

    return sims(POSITIVES), sims(NEGATIVES)


def main() -> int:
    from vidrecall.agent.grounding import SUPPORT_MIN_SIMILARITY
    from vidrecall.memory.embedder import load_embedder

    pos, neg = measure(load_embedder())
    for (a, c), s in zip(POSITIVES, pos):
        print(f"+ {s:.3f}  {a!r} ~ {c[:60]!r}")
    for (a, c), s in zip(NEGATIVES, neg):
        print(f"- {s:.3f}  {a!r} ~ {c[:60]!r}")
    print(f"positives min {min(pos):.3f} median {sorted(pos)[len(pos) // 2]:.3f}; "
          f"negatives max {max(neg):.3f} median {sorted(neg)[len(neg) // 2]:.3f}; "
          f"threshold in use {SUPPORT_MIN_SIMILARITY}; recall at it {sum(s >= SUPPORT_MIN_SIMILARITY for s in pos)}/"
          f"{len(pos)}, false passes {sum(s >= SUPPORT_MIN_SIMILARITY for s in neg)}/{len(neg)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
