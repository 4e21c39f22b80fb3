"""What a call sounds like, measured in numpy (and librosa's YIN), one concern a module.

* :mod:`~pipeline.acoustic.options` — :class:`MetricOptions`, the thresholds of them all;
* :mod:`~pipeline.acoustic.activity` — where a track has sound (energy VAD);
* :mod:`~pipeline.acoustic.hold_music` — where a track plays hold music or tones;
* :mod:`~pipeline.acoustic.prosody` — loudness and pitch, and agitation against a baseline;
* :mod:`~pipeline.acoustic.party_split` — a mono call's speech split between its parties.

:mod:`pipeline.metrics` turns them into a call's :class:`~pipeline.metrics.CallMetrics`.
"""
