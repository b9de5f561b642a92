from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emocli.errors import EmocliError
from emocli.features.extract import VisualFeaturizer
from tests.media_factory import make_video


def test_visual_features_are_cached_and_no_face_is_none(tmp_path: Path) -> None:
    calls: list[Path] = []

    def source(path: Path) -> np.ndarray | None:
        calls.append(path)
        return None if "noface" in path.name else np.full((4, 7), 1 / 7, np.float32)

    face = make_video(tmp_path / "face.mp4", seconds=0.5, size="64x48", audio=False)
    noface = make_video(tmp_path / "noface.mp4", seconds=0.5, size="80x48", audio=False)  # other bytes
    feats = VisualFeaturizer(source)
    assert feats.clip(face).shape == (4, 7)
    assert feats.clip(noface) is None
    again = VisualFeaturizer(lambda p: (_ for _ in ()).throw(AssertionError("must come from the cache")))
    assert again.clip(face).shape == (4, 7) and again.clip(noface) is None
    assert len(calls) == 2
    bad = VisualFeaturizer(lambda p: np.zeros((3, 5), np.float32), version="bad")
    with pytest.raises(EmocliError, match="expected \\(F, 7\\)"):
        bad.clip(face)


@pytest.mark.slow
def test_the_faces_stage_gives_frame_probabilities_of_a_real_talking_face(data_dir: Path) -> None:
    from emocli.features.extract import faces_visual_source

    probs = faces_visual_source()(data_dir / "clips" / "face_1.mp4")
    assert probs is not None and probs.ndim == 2 and probs.shape[1] == 7 and len(probs) >= 10
    assert np.allclose(probs.sum(1), 1.0, atol=1e-4)
