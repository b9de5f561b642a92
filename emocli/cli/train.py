"""``emocli train`` and ``emocli evaluate``: the multimodal emotion model.

Heavy imports (torch, transformers, faster-whisper) happen inside the command functions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from emocli.cli.app import app
from emocli.cli.common import RichProgressHook, err, handle_errors, is_interactive, out
from emocli.cli.options import parse_modalities
from emocli.errors import InputError


def _split_list(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip().lower() for v in (value or "").split(",") if v.strip())


def _speeds(value: str) -> tuple[float, ...]:
    """Parse "0.9,1.1" -> (0.9, 1.1): factors > 0 and != 1 (1 is the clip itself)."""
    try:
        speeds = tuple(float(v) for v in _split_list(value))
    except ValueError:
        speeds = (-1.0,)
    if any(f <= 0 or f > 4 or f == 1.0 for f in speeds):
        raise InputError(
            f"--speed-perturb {value!r} is not a list of speed factors.",
            "Give factors other than 1 between 0 and 4, comma-separated, e.g. --speed-perturb 0.9,1.1.",
        )
    return speeds


def _set_threads(threads: int) -> None:
    if threads > 0:
        import torch

        torch.set_num_threads(threads)


@app.command("train")
@handle_errors
def train_command(
    dataset: Annotated[
        str,
        typer.Option("--dataset", help="meld, ravdess, tess, or ravdess,tess (acted speech together)."),
    ],
    data_dir: Annotated[
        list[Path],
        typer.Option(
            "--data-dir",
            help="The data set's folder (official layout). Repeat once per data set, or give one "
            "folder holding meld/, ravdess/, tess/.",
        ),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder to write the model into.")],
    modalities: Annotated[
        str | None,
        typer.Option(
            "--modalities",
            help="Subset of text,audio,visual. Default: what the data carries (MELD without raw clips: "
            "text; RAVDESS/TESS: audio). With --init, new branches are added to the model.",
        ),
    ] = None,
    epochs: Annotated[
        int | None,
        typer.Option("--epochs", min=1, help="Maximum epochs (default: 8 for MELD, 40 for acted speech)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: the same seed gives the same model.")] = 0,
    init: Annotated[
        Path | None,
        typer.Option(
            "--init", help="Start from this model; only the branches this data set feeds are trained."
        ),
    ] = None,
    fusion: Annotated[
        str | None,
        typer.Option(
            "--fusion",
            help="attention (text-led fusion attention, trained jointly) or late (weighted log-linear "
            "pooling, for branches trained on different data). Default: attention when several "
            "modalities train together, else late.",
        ),
    ] = None,
    text_encoder: Annotated[
        str,
        typer.Option(
            "--text-encoder",
            help="minilm (bundled) or a Hugging Face encoder id, e.g. roberta-large (downloads).",
        ),
    ] = "minilm",
    text_layers: Annotated[
        int, typer.Option("--text-layers", min=0, help="Top text-encoder layers to fine-tune.")
    ] = 2,
    text_context: Annotated[
        int,
        typer.Option(
            "--text-context",
            min=0,
            help="Previous utterances given to the text encoder with each one, as a text pair (0 = none).",
        ),
    ] = 0,
    text_member: Annotated[
        list[Path] | None,
        typer.Option(
            "--text-member",
            help="A trained model whose text branch joins this one's as an ensemble member (repeatable); "
            "their probabilities are pooled. Members keep their own view of the words and are not retrained.",
        ),
    ] = None,
    text_window: Annotated[
        int,
        typer.Option(
            "--text-window",
            min=0,
            help="Let the fine-tuned text layers read each utterance together with the K utterances "
            "before and after it (one token sequence per dialogue). 0: each utterance alone.",
        ),
    ] = 0,
    speaker_names: Annotated[
        bool,
        typer.Option("--speaker-names", help='Prefix each utterance with its speaker ("Ross: ...").'),
    ] = False,
    audio_encoder: Annotated[
        str | None,
        typer.Option(
            "--audio-encoder",
            help="whisper:L (layer L of the bundled Whisper base encoder; whisper:1,6 for layers 1 and 6 "
            "side by side), whisper (its last layer), wav2vec2, hubert, or a Hugging Face id. Default: "
            "whisper:1,6 (measured best here), or the --init model's own.",
        ),
    ] = None,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="Utterances per batch (whole dialogues).")
    ] = 64,
    lr: Annotated[
        float, typer.Option("--lr", help="Learning rate of the dialogue encoders, fusion and heads.")
    ] = 1e-3,
    lr_text: Annotated[
        float, typer.Option("--lr-text", help="Learning rate of the fine-tuned text layers.")
    ] = 1e-4,
    patience: Annotated[
        int, typer.Option("--patience", min=1, help="Early stopping: epochs without a better dev score.")
    ] = 3,
    average: Annotated[
        int, typer.Option("--average", min=1, help="Average the weights of the best N epochs.")
    ] = 1,
    triplet: Annotated[
        float, typer.Option("--triplet", min=0.0, help="Weight of the triplet term (0 = off).")
    ] = 0.0,
    sentiment: Annotated[
        float,
        typer.Option(
            "--sentiment-weight", min=0.0, help="Weight of the auxiliary MELD sentiment head (0 = off)."
        ),
    ] = 0.0,
    hidden: Annotated[
        int, typer.Option("--hidden", min=16, help="Width of the dialogue encoders and fusion.")
    ] = 128,
    audio_members: Annotated[
        int, typer.Option("--audio-members", min=1, help="Audio heads trained side by side and averaged.")
    ] = 1,
    speed_perturb: Annotated[
        str,
        typer.Option(
            "--speed-perturb",
            help="Audio augmentation: also train on each clip played at these speeds, e.g. 0.9,1.1.",
        ),
    ] = "",
    train_actors: Annotated[str, typer.Option("--train-actors", help="RAVDESS training actors.")] = "1-16",
    dev_actors: Annotated[
        str, typer.Option("--dev-actors", help="RAVDESS actors used for model selection.")
    ] = "17-18",
    threads: Annotated[
        int,
        typer.Option(
            "--threads",
            min=0,
            help="CPU threads for torch (0 = torch's default); 1 is fastest here (small layers).",
        ),
    ] = 1,
    device: Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")] = "auto",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Train the emotion model on MELD (dialogues), RAVDESS or TESS (acted speech)."""
    from emocli.device import resolve_device
    from emocli.training.loop import FitOptions
    from emocli.training.prepare import DataSpec
    from emocli.training.train import TrainOptions, check_output_dir, train

    _set_threads(threads)
    names = _split_list(dataset)
    output = check_output_dir(output)
    acted = bool(names) and all(n in ("ravdess", "tess") for n in names)
    fit = FitOptions(
        epochs=epochs or (40 if acted else 8),
        patience=patience if not acted or patience != 3 else 10,
        lr=lr,
        lr_text=lr_text,
        batch_utterances=batch_size,
        seed=seed,
        average_top=average,
        triplet_weight=triplet,
        sentiment_weight=sentiment,
    )
    opts = TrainOptions(
        data=DataSpec(names, tuple(data_dir), train_actors, dev_actors),
        output=output,
        modalities=_split_list(modalities) or None,
        fit=fit,
        init=init,
        fusion=fusion.strip().lower() if fusion else None,
        text_encoder=text_encoder,
        text_trainable_layers=text_layers,
        text_context=text_context,
        text_window=text_window,
        text_speaker_names=speaker_names,
        text_members=tuple(text_member or ()),
        audio_encoder=audio_encoder,
        audio_members=audio_members,
        speed_perturb=_speeds(speed_perturb),
        hidden=hidden,
        device=resolve_device(device),
    )
    with RichProgressHook(enabled=not quiet and is_interactive()) as hook:
        report = train(opts, hook=hook, log=lambda s: err.print(s, highlight=False))
    dev = report["dev"]
    t = report["timing_seconds"]
    out.print(
        f"Model written to {output}: dev weighted F1 {dev['weighted_f1']:.4f}, "
        f"accuracy {dev['accuracy']:.4f} "
        f"(n={dev['n']}); features {t['features']:.0f} s, training {t['training']:.0f} s.",
        highlight=False,
    )
    native = report.get("dev_audio_native")
    if native:
        out.print(f"Audio head, 8 native classes: dev accuracy {native['accuracy']:.4f}.", highlight=False)
    skipped = sum(d["n_skipped"] for d in report["data"].values())
    if skipped:
        err.print(f"{skipped} item(s) skipped; see {output / 'training_report.json'}.", highlight=False)


def _print_scores(result: dict) -> None:
    from rich.table import Table

    table = Table("class", "precision", "recall", "F1", "support", title="per class")
    for name, s in result["per_class"].items():
        table.add_row(
            name, f"{s['precision']:.3f}", f"{s['recall']:.3f}", f"{s['f1']:.3f}", str(s["support"])
        )
    out.print(table)
    labels = result["labels"]
    cm = Table("true \\ predicted", *[lab[:8] for lab in labels], title="confusion matrix")
    for lab, row in zip(labels, result["confusion_matrix"], strict=True):
        cm.add_row(lab, *[str(v) for v in row])
    out.print(cm)


@app.command("evaluate")
@handle_errors
def evaluate_command(
    dataset: Annotated[str, typer.Option("--dataset", help="meld, ravdess or tess.")],
    data_dir: Annotated[Path, typer.Option("--data-dir", help="The data set's folder (official layout).")],
    split: Annotated[str, typer.Option("--split", help="MELD split: dev or test.")] = "dev",
    model: Annotated[
        Path | None,
        typer.Option(
            "--model", help="Model folder (config.json + model.safetensors). Default: the shipped model."
        ),
    ] = None,
    actors: Annotated[
        str | None, typer.Option("--actors", help="RAVDESS actors to score, e.g. 19-24 (default: all found).")
    ] = None,
    modalities: Annotated[
        str | None,
        typer.Option(
            "--modalities",
            "-m",
            help="Score only these branches, e.g. audio (comma list of text, audio, visual; "
            "the others are masked as missing). Default: all the model and the data have.",
        ),
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the scores as JSON here.")] = None,
    png: Annotated[
        Path | None,
        typer.Option("--png", help="Confusion-matrix PNG (default: beside --json, same name .png)."),
    ] = None,
    threads: Annotated[
        int, typer.Option("--threads", min=0, help="CPU threads for torch (0 = torch's default).")
    ] = 0,
    device: Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")] = "auto",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars and no tables.")] = False,
) -> None:
    """Score a model on MELD (weighted F1, accuracy, per class, confusion matrix) or RAVDESS/TESS."""
    from emocli.device import resolve_device
    from emocli.errors import DataError
    from emocli.fileio import check_output_path, write_text_atomic
    from emocli.training.evaluate import EvalOptions, evaluate
    from emocli.training.metrics import save_confusion_png

    name = dataset.strip().lower()
    if name not in ("meld", "ravdess", "tess"):
        raise DataError(f"Unknown data set {dataset!r}.", "Use meld, ravdess or tess.")
    if split not in ("dev", "test", "train"):
        raise DataError(f"Unknown split {split!r}.", "Use dev or test.")
    _set_threads(threads)
    if json_out is not None:
        json_out = check_output_path(json_out)
        png = png or json_out.with_suffix(".png")
    if png is not None:
        png = check_output_path(png)
    mods = parse_modalities(modalities) if modalities is not None else None
    opts = EvalOptions(name, data_dir, split, model, actors, resolve_device(device), mods)
    with RichProgressHook(enabled=not quiet and is_interactive()) as hook:
        result = evaluate(opts, hook=hook, log=lambda s: err.print(s, highlight=False))
    if png is not None:
        wf1, acc = result["weighted_f1"], result["accuracy"]
        title = f"{name} {result['split']}: weighted F1 {wf1:.3f}, accuracy {acc:.3f}"
        save_confusion_png(result["confusion_matrix"], result["labels"], png, title)
        if "native" in result:
            nat = result["native"]
            native_png = png.with_name(png.stem + "_native.png")
            title = f"{name}: 8 native classes, accuracy {result['accuracy_native']:.3f}"
            save_confusion_png(nat["confusion_matrix"], nat["labels"], native_png, title)
    if json_out is not None:
        write_text_atomic(json_out, json.dumps(result, indent=2) + "\n")
    if not quiet:
        _print_scores(result)
    line = (
        f"{name} {result['split']} (n={result['n']}): weighted F1 {result['weighted_f1']:.4f}, "
        f"accuracy {result['accuracy']:.4f}"
    )
    if "accuracy_native" in result:
        line += f", accuracy on the 8 native classes {result['accuracy_native']:.4f}"
    out.print(line, highlight=False)
    if result["n_skipped"]:
        err.print(f"{result['n_skipped']} item(s) skipped (listed in the JSON).", highlight=False)
