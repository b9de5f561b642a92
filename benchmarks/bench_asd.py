"""Cost of active speaker detection: seconds of CPU per second of video per visible face.

    python benchmarks/make_conversation.py --suite /tmp/dia      # once: the conversations
    python benchmarks/bench_asd.py --suite /tmp/dia [--threads 2] [--repeat 3]

For each multi-face conversation of the suite (and any ``--video``), the faces stage runs once, then
``emocli.faces.asd.analyse_speaking`` (Light-ASD over the speech, 25 fps crops, mouth opening) runs
``--repeat`` times; the median wall time is split into decoding + cropping and scoring and divided by
the analysed seconds (speech plus its padding) and by the faces on screen. The Light-ASD weights come
from ``--weights`` or ``EMOCLI_ASD_WEIGHTS`` (or the model cache). Peak memory (RSS) is reported too.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--suite", type=Path, help="what make_conversation.py --suite DIR built")
    ap.add_argument("--video", type=Path, action="append", default=[], help="more videos")
    ap.add_argument("--weights", type=Path, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    import torch

    from emocli.faces.analyze import FaceAnalyzer, FaceOptions
    from emocli.faces.asd import analyse_speaking
    from emocli.faces.asd_net import load_asd
    from emocli.media import load_audio, probe
    from emocli.speech.vad import SileroVAD

    torch.set_num_threads(args.threads)
    videos = list(args.video)
    if args.suite:
        items = json.loads((args.suite / "suite.json").read_text())["items"]
        videos += [
            args.suite / i["media"] for i in items if i.get("faces") and not i["name"].startswith("long")
        ]
    net = load_asd(args.weights)
    faces, vad = FaceAnalyzer(FaceOptions()), SileroVAD()
    torch.set_num_threads(args.threads)  # importing silero sets 1 thread for the process
    print(
        f"{'video':24s} {'faces':>5s} {'analysed s':>10s} {'decode+crop':>12s} {'score':>8s} "
        f"{'per face-s':>11s}"
    )
    total_cost = total_face_s = 0.0
    for path in videos:
        info = probe(path)
        vf = faces.analyze(path, info=info)
        audio = load_audio(path)
        speech = vad(audio)
        runs = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            act = analyse_speaking(path, info, vf, audio, speech, net)
            runs.append((time.perf_counter() - t, act.timing["decode+crop"], act.timing["score"]))
        wall, dec, score = (statistics.median(r[i] for r in runs) for i in range(3))
        analysed = len(act.frames) / act.fps
        face_s = float(act.visible.sum()) / act.fps  # seconds of face on screen that were analysed
        n_faces = round(face_s / max(analysed, 1e-9))
        total_cost += wall
        total_face_s += face_s
        print(
            f"{path.stem:24s} {n_faces:5d} {analysed:10.1f} {dec / analysed:10.3f} s "
            f"{score / analysed:6.3f} s {wall / max(face_s, 1e-9):9.3f} s"
        )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"TOTAL: {total_cost / max(total_face_s, 1e-9):.3f} s of wall time per second of video per visible "
        f"face ({args.threads} threads, median of {args.repeat}); peak RSS {peak_mb:.0f} MB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
