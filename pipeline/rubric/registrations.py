"""Every built-in detector, registered in one place (plugins use the entry-point group
``earmark_detectors``; see :mod:`pipeline.rubric.detectors`)."""

from pipeline.rubric.builtin import (
    LemmaDetector,
    MetricDetector,
    PatternDetector,
    PhraseDetector,
    ProximityDetector,
    RegexDetector,
    SequenceDetector,
)
from pipeline.rubric.detectors import detectors
from pipeline.rubric.meaning import AnyDetector, MeaningDetector, UnlessDetector

detectors.register("phrase.v1", func=PhraseDetector)
detectors.register("lemma.v1", func=LemmaDetector)
detectors.register("pattern.v1", func=PatternDetector)
detectors.register("regex.v1", func=RegexDetector)
detectors.register("proximity.v1", func=ProximityDetector)
detectors.register("sequence.v1", func=SequenceDetector)
detectors.register("metric.v1", func=MetricDetector)
detectors.register("meaning.v1", func=MeaningDetector)
detectors.register("any.v1", func=AnyDetector)
detectors.register("unless.v1", func=UnlessDetector)
