"""Speaker likeness of the local engine: resemblyzer cosine between each reference and the engine's output."""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from backend.audio import decode  # noqa: E402
from backend.providers.local import LocalProvider  # noqa: E402

# What the engine speaks: different words from the reference passage, ~15 s.
TEST_TEXT = (
    "Please remember to water the tomatoes before you leave for work tomorrow morning. "
    "The train to the coast was delayed again, so we played cards in the station cafe. "
    "Nobody expected the quiet student to win the chess tournament, but she did it easily. "
    "After dinner, we sat on the porch and listened to the crickets until it was dark."
)
DEFAULT_DIRS = [REPO / "artifacts" / "reference_voices", REPO / "tests" / "data"]
SIM_RATE = 16000


def _embedder():
    from resemblyzer import VoiceEncoder

    return VoiceEncoder(device="cpu", verbose=False)


def _embed(encoder, samples: np.ndarray) -> np.ndarray:
    from resemblyzer import preprocess_wav

    wav = preprocess_wav(samples.astype(np.float32), source_sr=SIM_RATE)
    return encoder.embed_utterance(wav)


def _render(provider: LocalProvider, reference_id: str | None, workdir: Path) -> np.ndarray:
    stream = provider.synthesize(text=TEST_TEXT, reference_id=reference_id, fmt="wav")
    path = workdir / "out.wav"
    with path.open("wb") as fh:
        for chunk in stream.chunks:
            fh.write(chunk)
    try:
        return decode(path, max_seconds=120, target_rate=SIM_RATE).samples
    finally:
        path.unlink(missing_ok=True)


# Parts of the transform switched off, to see what each contributes.
ABLATIONS = {
    "pitch": {"formant_ratio": 1.0, "eq_db": []},
    "+formant": {"eq_db": []},
}


def _variant(provider: LocalProvider, model_id: str, changes: dict) -> str:
    """A copy of a voice profile with some of its transform changed (bench only)."""
    profile = json.loads((provider.voices_dir / f"{model_id}.json").read_text())
    profile["transform"].update(changes)
    variant_id = "local-" + secrets.token_hex(12)
    (provider.voices_dir / f"{variant_id}.json").write_text(json.dumps(profile))
    return variant_id


# The test voices in tests/data are flite's awb and slt reading other words: the same speakers.
SAME_SPEAKER = {"awb_male_scottish": "flite_awb", "slt_female_us": "flite_slt"}


def _cross_speaker(names: list[str], refs: np.ndarray, matched: np.ndarray, plain: np.ndarray) -> None:
    """Is each matched voice closer to its own reference than to the other speakers' (not just 'less like joe')?"""
    keys = [SAME_SPEAKER.get(n, n) for n in names]
    refs = refs / np.linalg.norm(refs, axis=1, keepdims=True)
    matched = matched / np.linalg.norm(matched, axis=1, keepdims=True)
    sims = matched @ refs.T
    top1 = sum(keys[int(np.argmax(sims[i]))] == keys[i] for i in range(len(names)))
    own = np.mean([sims[i, i] for i in range(len(names))])
    others = np.mean([sims[i, j] for i in range(len(names)) for j in range(len(names)) if keys[i] != keys[j]])
    plain_others = float(np.mean(refs @ (plain / np.linalg.norm(plain))))
    print(
        f"cross-speaker: matched output is most similar to its own speaker's reference for {top1}/{len(names)}; "
        f"mean similarity to own reference {own:.3f}, to other speakers' references {others:.3f} "
        f"(plain voice to all references {plain_others:.3f})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("refs", nargs="*", type=Path, help="reference wav files or folders (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=2, help="renders per condition, embeddings averaged")
    parser.add_argument(
        "--ablation", action="store_true", help="also score pitch only and pitch+formant (no timbre equaliser)"
    )
    args = parser.parse_args()
    paths: list[Path] = []
    for item in args.refs or DEFAULT_DIRS:
        paths.extend(sorted(item.glob("*.wav")) if item.is_dir() else [item])
    if not paths:
        print("no reference voices: run bench/make_reference_voices.sh", file=sys.stderr)
        return 1

    encoder = _embedder()
    rows = []
    ref_embeddings: list[np.ndarray] = []
    matched_embeddings: list[np.ndarray] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        provider = LocalProvider(workdir / "data")
        plain = [_embed(encoder, _render(provider, None, workdir)) for _ in range(args.runs)]
        for path in paths:
            reference = decode(path, max_seconds=300, target_rate=None)
            ref16 = decode(path, max_seconds=300, target_rate=SIM_RATE).samples
            ref_embedding = _embed(encoder, ref16)
            started = time.perf_counter()
            voice = provider.create_voice(title=path.stem, audio_path=path, audio=reference, transcript=None)
            create_s = time.perf_counter() - started
            matched = [_embed(encoder, _render(provider, voice.model_id, workdir)) for _ in range(args.runs)]
            off = float(np.mean([np.dot(ref_embedding, e) for e in plain]))
            on = float(np.mean([np.dot(ref_embedding, e) for e in matched]))
            partial = {}
            if args.ablation:
                for label, changes in ABLATIONS.items():
                    variant_id = _variant(provider, voice.model_id, changes)
                    rendered = [_embed(encoder, _render(provider, variant_id, workdir)) for _ in range(args.runs)]
                    partial[label] = float(np.mean([np.dot(ref_embedding, e) for e in rendered]))
                    provider.delete_voice(variant_id)
            rows.append((path.stem, off, on, voice.details, create_s, partial))
            ref_embeddings.append(ref_embedding)
            matched_embeddings.append(np.mean(matched, axis=0))
            provider.delete_voice(voice.model_id)

    print(f"Speaker similarity (resemblyzer cosine, reference vs engine output; mean of {args.runs} renders)")
    extra = "".join(f" {label:>8}" for label in ABLATIONS) if args.ablation else ""
    head = f"{'speaker':34} {'off':>6} {'on':>6} {'delta':>7}{extra}"
    print(f"{head}  {'ref f0':>7} {'formant':>7} {'range':>6} {'eq dB':>5}")
    for name, off, on, d, _, partial in rows:
        cells = "".join(f" {partial[label]:8.3f}" for label in ABLATIONS) if args.ablation else ""
        print(
            f"{name:34} {off:6.3f} {on:6.3f} {on - off:+7.3f}{cells}  {d['median_f0_hz']:7.1f}"
            f" {d['formant_ratio']:7.3f} {d['pitch_range_factor']:6.2f} {d['timbre_eq_max_db']:5.1f}"
        )
    offs = np.array([r[1] for r in rows])
    ons = np.array([r[2] for r in rows])
    means = "".join(f" {np.mean([r[5][label] for r in rows]):8.3f}" for label in ABLATIONS) if args.ablation else ""
    print(f"{'mean':34} {offs.mean():6.3f} {ons.mean():6.3f} {ons.mean() - offs.mean():+7.3f}{means}")
    print(f"mean time to create a voice: {np.mean([r[4] for r in rows[1:]] or [rows[0][4]]):.2f} s")
    _cross_speaker([r[0] for r in rows], np.array(ref_embeddings), np.array(matched_embeddings), np.mean(plain, axis=0))
    lowered = [r[0] for r in rows if r[2] < r[1]]
    print(f"speakers whose similarity matching lowered: {', '.join(lowered) if lowered else 'none'}")
    goal = ons.mean() - offs.mean() >= 0.05 and not lowered
    print(f"goal (mean +0.05, none lowered): {'met' if goal else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
