"""Compute device choice, resolved after argument parsing (``--help`` never probes CUDA)."""

from __future__ import annotations

from enum import Enum

from emocli.errors import EmocliError


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


def resolve_device(device: Device | str = Device.auto) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; ``cuda`` without a GPU is an error."""
    device = Device(device)
    if device is Device.cpu:
        return "cpu"
    import torch

    has_cuda = torch.cuda.is_available()
    if device is Device.cuda and not has_cuda:
        raise EmocliError(
            "--device cuda was asked for, but torch sees no CUDA GPU.", "Use --device cpu or auto."
        )
    return "cuda" if has_cuda else "cpu"
