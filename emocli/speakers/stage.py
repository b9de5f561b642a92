"""The who-speaks stage of ``annotate``: active speaker detection where it decides something, then the
speakers joined from voice and face (``emocli.speakers``), written into the speech Result.

``WhoSpeaks`` keeps the Light-ASD network loaded between inputs (batch workers reuse it) and, when
its weights are missing, the one line that says which rule was used instead and how to get ASD.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from emocli.errors import EmocliError
from emocli.results import ModelInfo, Turn, Word
from emocli.speakers.count import count_speakers, voice_profiles
from emocli.speakers.evidence import word_faces
from emocli.speakers.join import VoiceEmbedder, join_speakers
from emocli.speakers.relabel import relabel_result

if TYPE_CHECKING:
    from emocli.faces.asd import SpeakingActivity
    from emocli.faces.asd_net import LightASD
    from emocli.faces.video import VideoFaces
    from emocli.media import MediaInfo
    from emocli.speech.pipeline import SpeechOptions, SpeechResult

ASD_MODES = ("auto", "on", "off")
MIN_TOGETHER_S = 1.0  # seconds of speech with two or more faces on screen for "auto" to run ASD
AMBIGUOUS_SHARE = 0.3  # share of words several moving mouths could have said: count voices by faces


def asd_wanted(video_faces: VideoFaces, speech: Sequence[tuple[float, float]], mode: str) -> bool:
    """Whether active speaker detection runs: ``on``: whenever a face is seen; ``auto``: where it
    decides something, i.e. two or more faces are on screen together during the speech for at least
    ``MIN_TOGETHER_S`` (side by side, a grid, a wide shot); one face at a time (a talk, cuts between
    people) keeps the cheaper rules, since the only face on screen is the one to show; ``off``: never."""
    if mode not in ASD_MODES:
        raise EmocliError(f"Unknown --asd mode {mode!r}.", "Choose auto, on or off.")
    if mode == "off" or not video_faces.track_ids:
        return False
    if mode == "on":
        return True
    together = int((_faces_per_speech_sample(video_faces, speech) >= 2).sum())
    return together / max(video_faces.sample_fps, 1e-6) >= MIN_TOGETHER_S


def _faces_per_speech_sample(video_faces: VideoFaces, speech: Sequence[tuple[float, float]]) -> np.ndarray:
    """(S,) faces detected on each sampled frame inside the speech (-1 for samples outside it)."""
    times = video_faces.sample_times
    in_speech = np.zeros(len(times), bool)
    for s, e in speech:
        in_speech |= (times >= s) & (times < e)
    counts = np.bincount(video_faces.det_sample, minlength=len(times))
    return np.where(in_speech, counts, -1)


def one_face_through(video_faces: VideoFaces, speech: Sequence[tuple[float, float]]) -> bool:
    """True when exactly one face track is on screen during the speech, on 80% of its samples."""
    counts = _faces_per_speech_sample(video_faces, speech)
    rows = counts[video_faces.det_sample] >= 0  # detections on samples inside the speech
    tracks = np.unique(video_faces.det_track[rows])
    return len(tracks) == 1 and int((counts > 0).sum()) >= 0.8 * max(1, int((counts >= 0).sum()))


def faces_together(video_faces: VideoFaces, speech: Sequence[tuple[float, float]]) -> int:
    """The most faces on screen at once during the speech (sampled frames)."""
    counts = _faces_per_speech_sample(video_faces, speech)
    return max(0, int(counts.max())) if len(counts) else 0


class WhoSpeaks:
    """Run once per input: ``run`` relabels the speech result's utterances by person and returns the
    face track ASD found saying each one (None when ASD did not run)."""

    def __init__(self, mode: str = "auto", weights: Path | None = None, device: str = "cpu") -> None:
        if mode not in ASD_MODES:
            raise EmocliError(f"Unknown --asd mode {mode!r}.", "Choose auto, on or off.")
        self.mode, self.weights, self.device = mode, weights, device
        self._net: LightASD | str | None = None  # the network, or why it is not there

    def network(self, warnings: list[str]) -> LightASD | None:
        """The Light-ASD network, loaded once; without its weights, one warning line (once)."""
        if self._net is None:
            from emocli.errors import ModelUnavailableError
            from emocli.faces.asd_net import load_asd

            try:
                self._net = load_asd(self.weights, device=self.device)
            except ModelUnavailableError as e:
                self._net = (
                    "Active speaker detection is off (its Light-ASD weights are not installed): the "
                    "speaking face was chosen by mouth motion. To use it: emocli models install asd "
                    f"--from FILE ({e.message})"
                )
        if isinstance(self._net, str):
            if self._net not in warnings:
                warnings.append(self._net)
            return None
        return self._net

    @staticmethod
    def _more_voices(
        words: list[Word],
        activity: SpeakingActivity,
        video_faces: VideoFaces,
        speech: Sequence[tuple[float, float]],
        rediarize: Callable[[int], Sequence[Turn]],
    ) -> list[Word]:
        """Where most words could have been said by several moving mouths (rule 1b decides by voice),
        and the voice found fewer clusters than the faces on screen together, the voice is clustered
        again into that many: the faces say how many people there are, and two people of similar
        voice merged into one cluster could not be told apart by whose mouth follows which voice. On
        the 4-person conversation with every listener's lips moving, 3 voice clusters held 4 people;
        clustered into 4, the speaking face was right for 95% of the speech instead of 76%."""
        from emocli.speech.utterances import assign_speakers

        _, _, moving = word_faces(words, activity)
        n_faces = faces_together(video_faces, speech)
        n_voices = len({w.speaker for w in words})
        if not words or np.mean([bool(m) for m in moving]) < AMBIGUOUS_SHARE or n_voices >= n_faces:
            return words
        return assign_speakers(words, rediarize(n_faces))

    def run(
        self,
        path: Path,
        info: MediaInfo,
        speech: SpeechResult,
        video_faces: VideoFaces | None,
        speech_options: SpeechOptions,
        embed: VoiceEmbedder | None,
        warnings: list[str],
        rediarize: Callable[[int], Sequence[Turn]] | None = None,
    ) -> list[int | None] | None:
        """Speakers from voice and face together; the count with how sure it is (in ``speech.result``)."""
        result = speech.result
        words = [w for u in result.utterances for w in u.words]
        activity = None
        if video_faces is not None and asd_wanted(video_faces, speech.speech, self.mode):
            net = self.network(warnings)
            if net is not None:
                from emocli.faces.asd import analyse_speaking

                activity = analyse_speaking(path, info, video_faces, speech.audio, speech.speech, net)
                result.timing["asd"] = round(sum(activity.timing.values()), 3)
        if activity is None:  # the voice decides, the faces stage applies its own rules
            joined = join_speakers(words, None, None, speech.audio)
            one = video_faces is not None and one_face_through(video_faces, speech.speech)
            result.speaker_count = count_speakers(joined, speech.count_range, faces_used=False, one_face=one)
            result.speaker_profiles = voice_profiles(result)
            return None
        so = speech_options
        if rediarize is not None and so.num_speakers is None:
            words = self._more_voices(words, activity, video_faces, speech.speech, rediarize)
        joined = join_speakers(words, activity, video_faces, speech.audio, embed)
        tracks = relabel_result(
            result, joined, so.max_pause, so.max_utterance, so.split_sentences, speech.speech
        )
        result.speaker_count = count_speakers(joined, speech.count_range, faces_used=True)
        result.models["asd"] = ModelInfo("light-asd", "finetuning_TalkSet")
        return tracks
