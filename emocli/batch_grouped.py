"""``emocli batch`` with speaker groups across the folder (``emocli.batch_speakers``): three passes.

1. Read every clip (on the engine's workers): annotate it alone and keep a ``ClipRecord`` of what its
   emotion model was given and a voice embedding per speaker, stored one file per clip
   (``RecordStore``), so a killed run resumes without reading those clips again.
2. Group the voices; sum each group's raw audio features over its clips (float64, in sorted clip
   order); read each clip's record again with its speakers' group statistics (in this process: the
   emotion model alone, no media) and write its rows in sorted order.
3. With ``--annotate-dir``: clips with a speaker heard in other clips too are annotated and rendered
   again, read with those statistics, so that their videos and pages show the rows' emotions
   (the others were rendered in pass 1, which is already how they read); a clip's rows are written
   once its outputs are.

Rows depend only on the records, so the same folder gives the same rows, and a resumed run (records
kept, rows already written skipped) gives a byte-identical file. A clip failing in pass 1 gets its
error row and takes no part in any group; so do the clips of a labeler without ``extract`` (its
rows of each clip alone).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emocli.batch_records import ClipRecord, RecordStore, Row
from emocli.batch_speakers import GroupStats, Voice, fingerprint, group_clip_counts, group_voices
from emocli.errors import EmocliError

if TYPE_CHECKING:
    from emocli.batch import BatchOptions, BatchSummary, Labeler, LabelerFactory, RowWriter, Task
    from emocli.features.audio import SpeakerStats
    from emocli.hooks import ProgressHook


def _reason(e: Exception) -> str:
    return str(e) if isinstance(e, EmocliError) else f"{type(e).__name__}: {e}"


def safe_extract(labeler: Labeler, path: Path, rel: str, per_utterance: bool, render: bool) -> ClipRecord:
    """Pass 1 for one clip; a failure becomes a record holding the clip's error row."""
    from emocli.batch import error_row, safe_label

    extract = getattr(labeler, "extract", None)
    if extract is None:  # a labeler that reads clips alone only: its rows, in no group
        return ClipRecord(rel, "", safe_label(labeler, path, rel, per_utterance))
    try:
        return extract(path, rel, render=render)
    except Exception as e:  # a bug or a library failure on one clip must not stop thousands
        return ClipRecord(rel, "", [error_row(rel, _reason(e), per_utterance)])


def safe_render(labeler: Labeler, path: Path, rel: str, stats: Mapping[str, SpeakerStats]) -> str | None:
    """Pass 3 for one clip: None when its outputs are written, else the reason."""
    try:
        labeler.render(path, rel, stats)  # type: ignore[attr-defined]
        return None
    except Exception as e:
        return _reason(e)


def _fingerprint(factory: LabelerFactory) -> str:
    own = getattr(factory, "fingerprint", None)
    return own() if callable(own) else fingerprint(repr(factory))


def run_grouped(
    items: list[tuple[Path, str]],
    done: set[str],
    writer: RowWriter,
    factory: LabelerFactory,
    options: BatchOptions,
    summary: BatchSummary,
    hook: ProgressHook,
    t0: float,
) -> None:
    """The three passes (module docstring) over ``items`` (sorted (path, relative path)); clips in
    ``done`` already have their rows in ``writer``'s file."""
    from emocli.batch import engine_results, error_row, write_in_order

    if all(rel in done for _, rel in items):
        return
    store = RecordStore(writer.path, _fingerprint(factory))
    store.start(options.resume)
    local = options.engine == "local" and options.jobs <= 1
    labeler = factory() if local else None  # one in-process labeler for every pass
    renders = getattr(factory, "annotate_dir", None) is not None

    # Pass 1: read the clips that have no record yet (those already written are not rendered again).
    todo: list[Task] = [
        (i, path, rel, renders and rel not in done)
        for i, (path, rel) in enumerate(items)
        if not store.has(rel)
    ]
    hook("read clips", completed=len(items) - len(todo), total=len(items))
    for n, (_, rec) in enumerate(engine_results(todo, factory, options, "extract", labeler), 1):
        store.put(rec)
        hook("read clips", completed=len(items) - len(todo) + n, total=len(items))

    # Pass 2: groups and their statistics over every clip's record, then each clip's rows.
    voices: list[Voice] = []
    for _, rel in items:
        rec = store.get(rel)
        if rec is not None and rec.ok:
            voices.extend(rec.voices)
    key = group_voices(voices, options.speakers)
    clips_in = group_clip_counts(key)
    stats = GroupStats()
    for _, rel in items:
        rec = store.get(rel)
        if rec is not None and rec.ok:
            for label, rows in rec.audio_by_speaker().items():
                if (rel, label) in key:
                    stats.add(key[(rel, label)], rows)

    finisher: Any = labeler

    def rows_of(rel: str) -> tuple[list[Row], dict[str, SpeakerStats]]:
        nonlocal finisher
        rec = store.get(rel)
        if rec is None:  # the record vanished since pass 1 (a full disk, someone cleaning up)
            return [
                error_row(rel, "the first pass's record of this clip is missing", options.per_utterance)
            ], {}
        own = {
            label: stats.get(key[(rel, label)])
            for label in rec.audio_by_speaker()
            if (rel, label) in key and clips_in[key[(rel, label)]] > 1 and stats.count(key[(rel, label)])
        }
        if not rec.ok:
            return rec.fixed_rows or [], own
        if finisher is None:
            finisher = factory.finisher()  # type: ignore[attr-defined]
        try:
            return finisher.finish(rec, own), own
        except Exception as e:
            return [error_row(rel, _reason(e), options.per_utterance)], own

    to_render: list[Task] = []
    held: dict[int, list[Row]] = {}

    def results() -> Iterator[tuple[int, list[Row]]]:
        for i, (path, rel) in enumerate(items):
            if rel in done:
                continue
            rows, own = rows_of(rel)
            if renders and own and rows and rows[0].get("status") == "ok":
                held[i] = rows
                to_render.append((i, path, rel, own))
            else:
                yield i, rows
        # Pass 3: outputs of the clips whose reading changed with their group.
        for i, reason in engine_results(to_render, factory, options, "render", labeler):
            rows = held.pop(i)
            yield i, rows if reason is None else [error_row(rows[0]["file"], reason, options.per_utterance)]

    order = [i for i, (_, rel) in enumerate(items) if rel not in done]
    write_in_order(results(), order, writer, summary, options.per_utterance, hook, t0)
    summary.seconds = time.perf_counter() - t0
    store.clear()  # finished: the rows are all written
