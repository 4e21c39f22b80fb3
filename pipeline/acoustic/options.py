"""The thresholds of the call's acoustic measures (:class:`MetricOptions`)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from pipeline.cues import hold_cues
from pipeline.errors import OPTIONS_INVALID
from pipeline.option_checks import require_non_negative, require_phrases


@dataclass(frozen=True, slots=True)
class MetricOptions:
    """Thresholds of :func:`pipeline.metrics.call_metrics` (seconds unless named)."""

    dead_air_min_s: float = 5.0
    """A gap this long is dead air (or a hold)."""
    hold_min_s: float = 20.0
    """A gap this long is a hold even if nobody announced it."""
    announced_hold_min_s: float = 5.0
    """A gap this long is a hold when it follows an agent hold phrase."""
    hold_phrase_window_s: float = 30.0
    """How long after the hold phrase's utterance the gap may start."""
    hold_phrases: tuple[str, ...] = field(default_factory=lambda: hold_cues().hold.all_phrases())
    """What an agent says before a hold (default: ``hold`` of ``rubrics/cues/hold.yaml``)."""
    overlap_min_s: float = 0.5
    """Shorter overlaps are turn-taking, not overtalk."""
    backchannel_max_s: float = 1.0
    """Speech shorter than this that starts over the other party is a backchannel."""
    agitation_baseline_s: float = 30.0
    """The customer's first this-many seconds of speech are one baseline candidate."""
    agitation_min_z: float = 3.0
    """Windows whose rise reaches this many robust SDs over the baseline are agitated."""
    music_hold_min_s: float = 6.0
    """A wordless stretch of music or tones this long on a track is a hold (:func:`pipeline.acoustic.hold_music.hold_music`)."""
    music_min_stability: float = 0.9
    """:func:`~pipeline.acoustic.hold_music.spectral_stability` from which a wordless stretch is music or a tone, not speech."""

    def __post_init__(self) -> None:
        floats = [f.name for f in fields(self) if isinstance(getattr(self, f.name), float)]
        require_non_negative(self, floats)
        if self.hold_min_s < self.dead_air_min_s:
            raise OPTIONS_INVALID(
                problem=f"MetricOptions.hold_min_s ({self.hold_min_s}) must be >= "
                f"dead_air_min_s ({self.dead_air_min_s})"
            )
        if self.announced_hold_min_s < self.dead_air_min_s:
            raise OPTIONS_INVALID(
                problem=f"MetricOptions.announced_hold_min_s ({self.announced_hold_min_s}) must be >= "
                f"dead_air_min_s ({self.dead_air_min_s})"
            )
        if self.music_hold_min_s <= 0 or self.music_min_stability > 1:
            raise OPTIONS_INVALID(
                problem=f"MetricOptions.music_hold_min_s must be > 0 and music_min_stability <= 1, "
                f"got {self.music_hold_min_s!r} and {self.music_min_stability!r}"
            )
        require_phrases(self, "hold_phrases")


DEFAULT_OPTIONS = MetricOptions()
"""The default thresholds (and the shipped hold phrases), built once."""
