"""Label whole folders of clips: one result row per clip (or per utterance), resumable, parallel.

- Clips are found once and sorted, so the output order is deterministic whatever the engine.
- Rows are appended in that order through a reorder buffer; each clip's rows are one write + fsync.
  A killed run leaves a prefix of the final file (at worst a torn last line); ``resume`` drops the
  last clip seen (it may be incomplete), truncates there and carries on, so the resumed file equals
  an uninterrupted one, without duplicate rows.
- A failing clip never stops the batch: it gets a row with ``status=error`` and a one-line reason.
- Models load once per worker. ``jobs=1`` runs in-process; ``jobs=N`` uses N local processes;
  ``engine="ray"`` runs the same workers as Ray actors (local or a cluster) for scale-out.
- Speaker groups across the folder (``options.speakers``, the CLI's default) read every clip first
  and write rows after (``emocli.batch_grouped``); each clip alone is the one pass above.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Protocol

from emocli import EMOTIONS
from emocli.batch_speakers import SpeakerGrouping
from emocli.errors import DataError, DependencyMissingError, EmocliError, InputError, OutputError
from emocli.hooks import ProgressHook, null_hook
from emocli.media import AUDIO_EXTENSIONS, VIDEO_EXTENSIONS

Row = dict[str, Any]

CLIP_COLUMNS = [
    "file",
    "status",
    "emotion",
    "confidence",
    *EMOTIONS,
    "duration",
    "n_speakers",
    "transcript",
    "error",
]
UTTERANCE_COLUMNS = [
    "file", "status", "utterance", "start", "end", "speaker", "text", "emotion", "confidence",
    *EMOTIONS, "error",
]  # fmt: skip


class Labeler(Protocol):
    """Turns one clip into its rows; built once per worker by a picklable ``LabelerFactory``."""

    def __call__(self, path: Path, rel: str) -> list[Row]: ...


LabelerFactory = Callable[[], Labeler]


@dataclass(frozen=True)
class BatchOptions:
    recursive: bool = False
    glob: str | None = None  # e.g. "*.mp4"; default: every known audio/video extension
    jobs: int = 1
    resume: bool = False
    per_utterance: bool = False
    engine: str = "local"  # "local" or "ray"
    ray_address: str | None = None  # None: start a local Ray instance; "auto" or "ray://host:10001"
    # Speaker groups across the folder for voice normalisation (emocli.batch_speakers); the
    # default, each clip alone, is one pass and works with any labeler. The CLI's default is auto.
    speakers: SpeakerGrouping = field(default_factory=lambda: SpeakerGrouping("clip"))


@dataclass
class BatchSummary:
    total: int = 0
    skipped: int = 0  # already done (resume)
    ok: int = 0
    failed: int = 0
    emotions: Counter[str] = field(default_factory=Counter)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    seconds: float = 0.0

    @property
    def clips_per_minute(self) -> float:
        done = self.ok + self.failed
        return 60.0 * done / self.seconds if self.seconds > 0 else 0.0


def find_clips(root: Path, recursive: bool = False, pattern: str | None = None) -> list[Path]:
    """Media files under ``root``, sorted by relative path; hidden files and folders are skipped."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise InputError(f"{root} is not a folder.", "Give the folder that holds the clips.")
    exts = AUDIO_EXTENSIONS | VIDEO_EXTENSIONS
    it = (root.rglob if recursive else root.glob)(pattern or "*")
    clips = [
        p
        for p in it
        if p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
        and (pattern is not None or p.suffix.lower() in exts)
    ]
    return sorted(clips, key=lambda p: p.relative_to(root).as_posix())


def error_row(rel: str, reason: str, per_utterance: bool) -> Row:
    cols = UTTERANCE_COLUMNS if per_utterance else CLIP_COLUMNS
    row: Row = dict.fromkeys(cols, "")
    row.update(file=rel, status="error", error=" ".join(reason.split()))
    return row


def safe_label(labeler: Labeler, path: Path, rel: str, per_utterance: bool) -> list[Row]:
    """Run the labeler; any failure becomes one error row (the batch never stops for a clip)."""
    try:
        rows = labeler(path, rel)
        return rows or [error_row(rel, "no result", per_utterance)]
    except EmocliError as e:
        return [error_row(rel, str(e), per_utterance)]
    except Exception as e:  # a bug or a library failure on one clip must not stop thousands
        return [error_row(rel, f"{type(e).__name__}: {e}", per_utterance)]


# -- the results file -------------------------------------------------------------------------


class RowWriter:
    """Append-only CSV or JSONL with crash-safe blocks and resume support."""

    def __init__(self, path: Path, columns: list[str]) -> None:
        self.path = Path(path)
        self.columns = columns
        suffix = self.path.suffix.lower()
        if suffix not in (".csv", ".jsonl"):
            raise OutputError(
                f"Unsupported results file {self.path.name}.", "Use a .csv or .jsonl file name."
            )
        self.kind = suffix[1:]

    def _parse(self, text: str) -> list[Row]:
        if self.kind == "jsonl":
            rows = []
            for line in text.splitlines():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    break  # a torn last line from a killed run
            return rows
        reader = csv.DictReader(io.StringIO(text))
        if reader.fieldnames and list(reader.fieldnames) != self.columns:
            raise OutputError(
                f"{self.path} has other columns than this batch writes.",
                "Resume with the same options (--per-utterance or not), or choose a new output file.",
            )
        return [r for r in reader if None not in r and None not in r.values()]

    def _encode(self, rows: list[Row], header: bool) -> str:
        if self.kind == "jsonl":
            return "".join(
                json.dumps({c: r.get(c, "") for c in self.columns}, ensure_ascii=False) + "\n" for r in rows
            )
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=self.columns, lineterminator="\n", extrasaction="ignore")
        if header:
            w.writeheader()
        w.writerows(rows)
        return buf.getvalue()

    def start(self, resume: bool) -> set[str]:
        """Prepare the file; returns the files already finished (resume) -- always a sorted prefix."""
        if not (resume and self.path.exists() and self.path.stat().st_size > 0):
            self._write(self._encode([], header=True), mode="w")
            return set()
        rows = self._parse(self.path.read_text(encoding="utf-8", errors="replace"))
        # The last clip's block may be incomplete (killed mid-write): redo it.
        if rows:
            last = rows[-1]["file"]
            rows = [r for r in rows if r["file"] != last]
        self._write(self._encode(rows, header=True), mode="w")
        return {r["file"] for r in rows}

    def append(self, rows: list[Row]) -> None:
        self._write(self._encode(rows, header=False), mode="a")

    def _write(self, text: str, mode: str) -> None:
        if mode == "w":
            # Rewrite through a temporary file so that an interrupt never loses finished rows.
            tmp = self.path.with_name(f".{self.path.name}.tmp")
            with tmp.open("w", encoding="utf-8", newline="") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
            return
        with self.path.open("a", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())


# -- engines ----------------------------------------------------------------------------------

_WORKER: Labeler | None = None


def _init_worker(factory: LabelerFactory, threads: int) -> None:
    global _WORKER
    os.environ["OMP_NUM_THREADS"] = str(threads)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass
    _WORKER = factory()


def run_task(labeler: Labeler, kind: str, path: Path, rel: str, per_utterance: bool, extra: Any) -> Any:
    """One clip's work of one pass: ``label`` (rows of the clip alone), ``extract`` (pass 1 of
    speaker groups: its ``ClipRecord``) or ``render`` (pass 3: annotated outputs with its group's
    statistics; an error's reason or None). Failures stay with the clip."""
    if kind == "label":
        return safe_label(labeler, path, rel, per_utterance)
    from emocli.batch_grouped import safe_extract, safe_render

    if kind == "extract":
        return safe_extract(labeler, path, rel, per_utterance, extra)
    if kind == "render":
        return safe_render(labeler, path, rel, extra)
    raise ValueError(f"unknown batch task {kind!r}")


Task = tuple[int, Path, str, Any]  # (index in the sorted clips, path, relative path, the pass's input)


def _work(kind: str, path: str, rel: str, per_utterance: bool, extra: Any) -> Any:
    assert _WORKER is not None, "worker not initialised"
    return run_task(_WORKER, kind, Path(path), rel, per_utterance, extra)


def _local_results(
    tasks: list[Task],
    factory: LabelerFactory,
    jobs: int,
    per_utterance: bool,
    kind: str = "label",
    labeler: Labeler | None = None,
) -> Iterator[tuple[int, Any]]:
    """Yield (index, result) as clips finish, in any order (``labeler``: the in-process one, for
    ``jobs=1``, so that several passes load the models once)."""
    if jobs <= 1:
        labeler = labeler or factory()
        for i, path, rel, extra in tasks:
            yield i, run_task(labeler, kind, path, rel, per_utterance, extra)
        return
    threads = max(1, (os.cpu_count() or 1) // jobs)
    ctx = get_context("spawn")  # fork after torch/ctranslate2 threads start is unsafe
    with ProcessPoolExecutor(
        jobs, mp_context=ctx, initializer=_init_worker, initargs=(factory, threads)
    ) as pool:
        pending: dict[Future[Any], int] = {}
        queue = iter(tasks)
        window = 2 * jobs  # bounded in-flight work keeps memory flat on million-clip folders
        for i, path, rel, extra in queue:
            pending[pool.submit(_work, kind, str(path), rel, per_utterance, extra)] = i
            if len(pending) >= window:
                break
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                i = pending.pop(fut)
                yield i, fut.result()
                nxt = next(queue, None)
                if nxt is not None:
                    pending[pool.submit(_work, kind, str(nxt[1]), nxt[2], per_utterance, nxt[3])] = nxt[0]


def _ray_results(
    tasks: list[Task],
    factory: LabelerFactory,
    jobs: int,
    per_utterance: bool,
    address: str | None,
    kind: str = "label",
) -> Iterator[tuple[int, Any]]:
    """The same workers as Ray actors; ActorPool keeps models loaded once per actor (per pass)."""
    try:
        import ray
        from ray.util import ActorPool
    except ImportError as e:
        raise DependencyMissingError(
            "--engine ray needs Ray.", "Install it with: pip install 'emocli[ray]'."
        ) from e

    started = False
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
        started = True
    try:
        n_cpu = int(ray.cluster_resources().get("CPU", 1))
        n_actors = max(1, jobs if jobs > 1 else n_cpu)
        threads = max(1, n_cpu // n_actors) if address is None else 1

        @ray.remote(num_cpus=1)
        class Worker:
            def __init__(self) -> None:
                _init_worker(factory, threads)

            def work(self, i: int, path: str, rel: str, extra: Any) -> tuple[int, Any]:
                return i, _work(kind, path, rel, per_utterance, extra)

        pool = ActorPool([Worker.remote() for _ in range(n_actors)])  # type: ignore[attr-defined]
        yield from pool.map_unordered(lambda a, t: a.work.remote(t[0], str(t[1]), t[2], t[3]), tasks)
    finally:
        if started:
            ray.shutdown()


def engine_results(
    todo: list[Task],
    factory: LabelerFactory,
    options: BatchOptions,
    kind: str = "label",
    labeler: Labeler | None = None,
) -> Iterator[tuple[int, Any]]:
    """One pass over ``todo`` on the engine ``options`` name, results in any order."""
    if options.engine == "ray":
        return _ray_results(todo, factory, options.jobs, options.per_utterance, options.ray_address, kind)
    if options.engine == "local":
        return _local_results(todo, factory, options.jobs, options.per_utterance, kind, labeler)
    raise EmocliError(f"Unknown engine {options.engine!r}.", "Choose local or ray.")


def write_in_order(
    results: Iterator[tuple[int, list[Row]]],
    order: list[int],
    writer: RowWriter,
    summary: BatchSummary,
    per_utterance: bool,
    hook: ProgressHook,
    t0: float,
) -> None:
    """Append each clip's rows in sorted order as they come (a reorder buffer), counting them."""
    buffer: dict[int, list[Row]] = {}
    next_pos = 0
    for i, rows in results:
        buffer[i] = rows
        status = rows[0].get("status")
        if status == "ok":
            summary.ok += 1
            if not per_utterance and rows[0].get("emotion"):
                summary.emotions[rows[0]["emotion"]] += 1
            else:
                summary.emotions.update(r["emotion"] for r in rows if r.get("emotion"))
        else:
            summary.failed += 1
            summary.failures.append((rows[0]["file"], rows[0].get("error", "")))
        # Write in sorted order: flush every finished clip at the head of the queue.
        while next_pos < len(order) and order[next_pos] in buffer:
            writer.append(buffer.pop(order[next_pos]))
            next_pos += 1
        summary.seconds = time.perf_counter() - t0
        detail = f"{summary.failed} failed, {summary.clips_per_minute:.1f} clips/min"
        done = summary.skipped + summary.ok + summary.failed
        hook("clips", completed=done, total=summary.total, detail=detail)


def run_batch(
    root: Path,
    output: Path,
    factory: LabelerFactory,
    options: BatchOptions = BatchOptions(),
    hook: ProgressHook = null_hook,
) -> BatchSummary:
    """Label every clip under ``root`` into ``output`` (.csv or .jsonl). See the module docstring."""
    root = Path(root).expanduser().resolve()
    clips = find_clips(root, options.recursive, options.glob)
    if not clips:
        raise DataError(
            f"No audio or video clips found in {root}.", "Check the folder, --glob or --recursive."
        )
    if options.engine not in ("local", "ray"):
        raise EmocliError(f"Unknown engine {options.engine!r}.", "Choose local or ray.")
    columns = UTTERANCE_COLUMNS if options.per_utterance else CLIP_COLUMNS
    writer = RowWriter(output, columns)
    done = writer.start(options.resume)
    rels = [c.relative_to(root).as_posix() for c in clips]
    summary = BatchSummary(total=len(clips), skipped=sum(r in done for r in rels))
    t0 = time.perf_counter()
    hook("clips", completed=summary.skipped, total=len(clips))
    if options.speakers.two_pass:
        from emocli.batch_grouped import run_grouped

        run_grouped(list(zip(clips, rels, strict=True)), done, writer, factory, options, summary, hook, t0)
    else:
        todo: list[Task] = [
            (i, c, r, None) for i, (c, r) in enumerate(zip(clips, rels, strict=True)) if r not in done
        ]
        results = engine_results(todo, factory, options)
        write_in_order(results, [t[0] for t in todo], writer, summary, options.per_utterance, hook, t0)
    summary.seconds = time.perf_counter() - t0
    return summary
