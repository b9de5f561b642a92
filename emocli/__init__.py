"""emocli: recognise emotions in videos of people talking.

Importing the package is cheap on purpose: no torch, no model loading, no device probing.
"""

__version__ = "0.1.0"

EMOTIONS: tuple[str, ...] = ("neutral", "joy", "surprise", "anger", "sadness", "disgust", "fear")
"""The seven MELD classes, in the order every score vector and model output uses."""
