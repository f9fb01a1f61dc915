"""Choosing a model for a prompt: pure functions of the request, the profile and the catalog."""

from playground.router.decide import Candidate, Decision, NoModelAvailable, RouteRequest, decide, route_for

__all__ = ["Candidate", "Decision", "NoModelAvailable", "RouteRequest", "decide", "route_for"]
