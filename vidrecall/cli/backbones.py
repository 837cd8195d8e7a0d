"""`vidrecall profiles` (the bundled profiles) and `vidrecall check` (preflight the backbones, no video work)."""
from __future__ import annotations

import argparse

from vidrecall.cli.common import add_command, make_config
from vidrecall.core.config import available_profiles


def run_profiles(args: argparse.Namespace) -> int:
    from vidrecall.core.config import load_config

    for name in available_profiles():
        cfg = load_config(name)
        levels = ", ".join(f"{lv.name} {lv.clip_seconds:g}s" for lv in cfg.levels)
        print(f"{name:10} llm={cfg.llm:40} captioner={cfg.captioner:45} strategy={cfg.strategy}  [{levels}]  "
              f"{trust_line(cfg)}")
    return 0


def trust_line(config) -> str:
    """What the profile's confidences mean and when it abstains, in a few words."""
    abstains = f"abstains below {config.abstain_below:g}" if config.abstain_below > 0 else "never abstains"
    calibrated = f"calibrated by {config.calibration}" if config.calibration else "uncalibrated confidence"
    return f"{calibrated}, {abstains}"


def run_check(args: argparse.Namespace) -> int:
    from vidrecall.tools.llm.preflight import check_llm_server_first

    config = make_config(args)
    check_llm_server_first(config.llm, config.llm_options)  # a dead server: one line before the heavy imports
    # The backbones alone, not a VideoQA: the agent's graph (a second of imports) is not needed to check them.
    from vidrecall.backbones import build_backbones, preflight_backbones
    from vidrecall.tools.llm.chat_probe import check_can_chat

    if config.calibration:  # a bad file: one line naming it, before the models load
        from vidrecall.core.calibration import load_calibration

        load_calibration(config.calibration)
    b = build_backbones(config, preflight=False)
    preflight_backbones(b, config)  # weights / server / key checked
    check_can_chat(b.llm)  # then one uncached token from the LLM
    b.embedder.dim  # noqa: B018 - resolves (and for an unknown model, loads) the embedder
    print(f"ok: llm {getattr(b.llm, 'model_name', None) or type(b.llm).__name__}, captioner {b.captioner.id}, "
          f"embedder {b.embedder.id}, store {config.store_path}; {trust_line(config)}")
    return 0


def register(sub) -> None:
    add_command(sub, "profiles", run_profiles, "list the bundled profiles", backbones=False)
    add_command(sub, "check", run_check, "build and preflight the backbones of a profile (no video work)")
