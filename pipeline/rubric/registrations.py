"""Every built-in detector, registered in one place (plugins use the entry-point group)."""

from pipeline.rubric.detectors import PhraseDetector, detectors

detectors.register("phrase.v1", func=PhraseDetector)
