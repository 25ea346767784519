"""The decision engine: scoring, tipping points, companions, bandwidth and the assembled
:class:`~selector.engine.recommendation.Recommendation`.

Pure: it takes a profile and a compiled matrix and reads no files, no clock and no sockets.
"""
