"""Speaker-count selection on synthetic GE2E-like embeddings (unit vectors, 256-d).

Speaker centres share a common direction (like the channel in real recordings); ``centre_cos`` sets
how alike two voices are, ``noise`` how much windows of one voice vary (within-speaker cosine
about 0.8, as measured on real clips).
"""

from __future__ import annotations

import numpy as np

from emocli.speech.clustering import alternations, cluster_speakers

DIM = 256
HOP, WIN = 0.25, 1.6


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def centres(n: int, centre_cos: float, rng: np.random.Generator) -> np.ndarray:
    base = unit(np.abs(rng.normal(size=DIM)))
    delta = np.sqrt(1 / centre_cos - 1)  # cos(c_a, c_b) = 1 / (1 + delta^2) for orthogonal offsets
    offsets = np.linalg.qr(rng.normal(size=(DIM, n)))[0].T  # (n, DIM) orthonormal
    return unit(base + delta * offsets)


def talk(
    order: list[int], seconds: float, centre_cos: float, seed: int = 0, noise: float = 0.5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Windows of a talk where speaker ``order[i]`` holds turn i for ``seconds``; returns
    (embeddings (n, 256), spans (n, 2), true labels (n,))."""
    rng = np.random.default_rng(seed)
    c = centres(max(order) + 1, centre_cos, rng)
    emb, spans, truth = [], [], []
    t = 0.0
    for spk in order:
        for s in np.arange(t, t + seconds - WIN + 1e-9, HOP):
            emb.append(unit(c[spk] + noise * rng.normal(size=DIM) / np.sqrt(DIM)))
            spans.append((s, s + WIN))
            truth.append(spk)
        t += seconds + 0.5
    return np.array(emb), np.array(spans), np.array(truth)


def n_speakers(labels: np.ndarray) -> int:
    return len(np.unique(labels))


def agreement(labels: np.ndarray, truth: np.ndarray) -> float:
    """Fraction of windows whose label maps to the truth under the best one-to-one mapping."""
    from scipy.optimize import linear_sum_assignment

    m = np.zeros((labels.max() + 1, truth.max() + 1))
    np.add.at(m, (labels, truth), 1)
    r, c = linear_sum_assignment(-m)
    return m[r, c].sum() / len(labels)


def test_alternating_similar_voices_are_two_speakers() -> None:
    # like sample.wav: two voices on one phone line (centroid cosine 0.88), taking turns
    emb, spans, truth = talk([0, 1, 0, 1, 0, 1], seconds=4.0, centre_cos=0.86)
    labels = cluster_speakers(emb, spans)
    assert n_speakers(labels) == 2
    assert agreement(labels, truth) > 0.95


def test_one_voice_drifting_once_stays_one_speaker() -> None:
    # like jfk.flac: the two halves of one talk differ (cosine 0.80) but never alternate
    emb, spans, _ = talk([0, 1], seconds=5.0, centre_cos=0.80, seed=1)
    assert n_speakers(cluster_speakers(emb, spans)) == 1


def test_one_steady_voice_is_one_speaker() -> None:
    emb, spans, _ = talk([0, 0, 0], seconds=6.0, centre_cos=0.9, seed=2)
    assert n_speakers(cluster_speakers(emb, spans)) == 1


def test_four_distinct_people_speaking_once_each_are_four_speakers() -> None:
    # like the 4-person conversation from clips: different people, different rooms (cosine 0.6)
    emb, spans, truth = talk([0, 1, 2, 3], seconds=5.0, centre_cos=0.6, seed=3)
    labels = cluster_speakers(emb, spans)
    assert n_speakers(labels) == 4
    assert agreement(labels, truth) > 0.95
    # labels are numbered by first appearance
    assert list(dict.fromkeys(labels[np.argsort(spans[:, 0])])) == [0, 1, 2, 3]


def test_num_speakers_and_bounds_are_obeyed() -> None:
    emb, spans, _ = talk([0, 1, 2, 3], seconds=5.0, centre_cos=0.6, seed=4)
    assert n_speakers(cluster_speakers(emb, spans, num_speakers=2)) == 2
    assert n_speakers(cluster_speakers(emb, spans, max_speakers=3)) <= 3
    one, one_spans, _ = talk([0, 0], seconds=6.0, centre_cos=0.9, seed=5)
    assert n_speakers(cluster_speakers(one, one_spans, min_speakers=2)) == 2


def test_short_windows_join_the_nearest_speaker() -> None:
    emb, spans, truth = talk([0, 1, 0, 1], seconds=4.0, centre_cos=0.6, seed=6)
    rng = np.random.default_rng(7)
    # a 0.5 s window of speaker 1 whose embedding is an outlier (short windows embed poorly)
    odd = unit(0.7 * emb[truth == 1].mean(axis=0) + 0.3 * unit(rng.normal(size=DIM)))
    emb2 = np.vstack([emb, odd])
    spans2 = np.vstack([spans, [[30.0, 30.5]]])
    labels = cluster_speakers(emb2, spans2)
    assert n_speakers(labels) == 2
    assert labels[-1] == labels[:-1][truth == 1][0]


def test_long_inputs_cluster_a_subsample_and_label_everything() -> None:
    emb, spans, truth = talk([0, 1] * 10, seconds=6.0, centre_cos=0.6, seed=8)
    labels = cluster_speakers(emb, spans, max_windows=60)
    assert len(labels) == len(emb) > 60
    assert n_speakers(labels) == 2 and agreement(labels, truth) > 0.95


def test_alternations_ignore_single_window_flicker() -> None:
    starts = np.arange(12.0)
    labels = np.array([0, 0, 0, 1, 0, 0, 1, 1, 1, 0, 0, 0])  # the lone 1 at index 3 is flicker
    assert alternations(starts, labels, 0, 1) == 2
