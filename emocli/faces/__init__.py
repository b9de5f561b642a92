"""The visual stage: face detection, tracking, the speaker's face, expressions and temporal pooling.

Public API (import from the submodules; importing this package loads nothing heavy)::

    from emocli.faces.analyze import FaceAnalyzer, FaceOptions      # models loaded once
    from emocli.faces.speaker import utterance_visuals, apply_to_utterances, SpeechActivity
    from emocli.faces.export import to_frame_results, faces_document

    analyzer = FaceAnalyzer(FaceOptions())                  # detector "blazeface", 5 samples/s
    video_faces = analyzer.analyze("talk.mp4", info, hook)   # VideoFaces (compact numpy arrays)
    visuals = utterance_visuals(video_faces, utterances)      # per utterance: track, rule, pooled
    apply_to_utterances(utterances, visuals)                  # face_track, face_rule, visual scores
    video_faces.faces_at(t, speaker_track)                    # every frame, for the renderer
"""
