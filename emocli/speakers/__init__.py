"""Who speaks: voice clusters and speaking faces joined into speakers, with an honest count.

One step of its own between speech and the emotion model: it takes the speech result's words
(each labelled with its voice cluster by the diarizer), the face tracks and their speaking
evidence (``emocli.faces.asd``), and returns the words relabelled by person, the face track that
said each word, one profile per speaker and the speaker count with how sure it is. ``speech/`` and
``faces/`` never import each other; this module reads both.

The rules, in order:

1. **A word's face.** Over the word's frames (at least 0.16 s around its middle), each visible track's
   mean speaking probability; the word goes to the best track when that is >= ``min_prob`` and leads
   the runner-up by ``margin``. Single words between two stretches of one face, within a sentence's
   pauses, go to that face (ASD is noisy at word scale).
1b. **Several moving mouths.** Where two or more faces look like speaking (Light-ASD scores any
   moving mouth), the words of each turn go to the moving face whose mouth opening follows the
   heard loudness best over the turn and over all its voice cluster's words (``sync_assign``).
1c. **A mouth out of time with its voice** (``dub_check``): a face that moves its lips but whose
   mouth does not open with the voice it was given, over 4 s or more, is not that voice's speaker.
2. **Faces are people.** Each track that says at least ``min_track_speech`` seconds is a speaker: a
   voice cluster heard on two faces on screen together is two people, and two voice clusters said
   by one face are one person (in one room the voice embeddings do not tell people apart; the
   picture does).
3. **One person on two tracks** (a shot cut, a face lost and found): two tracks never on screen at
   the same time whose voices are alike (cosine >= ``link_voice``) are one speaker.
4. **Words without a face** go to the face-speaker of the nearest decided word of the same voice
   cluster within ``max_gap`` seconds (the same sentence); else a voice cluster that is (almost)
   never seen on a face is a speaker of its own (off screen, ``found_by`` "voice"); else the
   face-speaker that says most of that cluster's decided words.
5. Without faces (audio only, no face on screen during speech), the voice clusters are the speakers,
   as before.
"""

from emocli.speakers.count import count_speakers, voice_profiles
from emocli.speakers.evidence import JoinOptions, dub_check, sync_assign, word_faces
from emocli.speakers.join import JoinedSpeakers, VoiceEmbedder, join_speakers
from emocli.speakers.relabel import relabel_result

__all__ = [
    "JoinOptions",
    "JoinedSpeakers",
    "VoiceEmbedder",
    "count_speakers",
    "dub_check",
    "join_speakers",
    "relabel_result",
    "sync_assign",
    "voice_profiles",
    "word_faces",
]
