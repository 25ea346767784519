"""Judging the evidence: each requirement of the profile checked against what a run showed.

Pure: it reads a profile, the recommendation's ranking and the evidence, and decides. A check
is *hard* when failing it means the protocol, as planned, does not do the job (messages lost,
applied twice or reordered, connections dropped or never noticed dead, connections leaked);
missing the latency budget is *soft*: it weakens the recommendation but does not contradict it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from selector.profile import Profile
from selector.verify.evidence import RunEvidence

__all__ = [
    "DETECTION_SLACK_S",
    "CandidateReport",
    "Check",
    "Claim",
    "Factor",
    "RunPlanSummary",
    "Verdict",
    "VerifyReport",
    "check_run",
    "decide",
    "explain_faults",
    "real_time",
    "shows_failure",
    "with_factors",
]

#: Allowance over the plan's detection bound for event-loop scheduling on a busy machine.
DETECTION_SLACK_S = 0.1
DETECTION_SLACK_FACTOR = 1.1

Outcome = Literal["confirmed", "weakened", "contradicted", "not_verified"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Check(_Model):
    """One requirement checked against one run."""

    requirement: str = Field(description="Stable id of the requirement.")
    passed: bool
    hard: bool = Field(description="Failing it contradicts the choice (not just weakens it).")
    measured: str = Field(description="What the run showed.")
    expected: str = Field(description="What the profile or the plan requires.")


class CandidateReport(_Model):
    """One protocol: its runs and the checks of its planned run."""

    protocol: str
    verified: bool = Field(description="False when the runtime cannot run this protocol.")
    reason: str | None = Field(default=None, description="Why it was not verified.")
    planned: RunEvidence | None = None
    naive: RunEvidence | None = None
    checks: tuple[Check, ...] = ()
    time_scale: float | None = Field(
        default=None,
        description="Factor applied to this protocol's timeline (heartbeats, timeouts).",
    )
    notes: tuple[str, ...] = Field(
        default=(), description="What was scaled, raised or left out to fit a short run."
    )
    control_showed_failure: bool | None = Field(
        default=None,
        description="The naive control (no heartbeat) lost messages, missed the drop or "
        "leaked connections: the failure the plan prevents is real on this path.",
    )

    @property
    def failed(self) -> tuple[Check, ...]:
        """Checks that did not pass."""
        return tuple(c for c in self.checks if not c.passed)


FactorOutcome = Literal["supported", "contradicted", "not_measurable"]


class Claim(_Model):
    """A statement with its numbers, where it has them."""

    text: str
    values: dict[str, float] = Field(default_factory=dict)


class Factor(_Model):
    """One rule that decided the ranking, measured on one protocol."""

    rule: str = Field(description="The matrix rule (`selector explain RULE`).")
    evidence: str | None = Field(description="The experiment the rule names, if any.")
    protocol: str
    prediction: Claim = Field(description="What the model behind the rule predicts.")
    measured: Claim | None = Field(description="What the run measured (null: not measured).")
    outcome: FactorOutcome
    why: str = Field(description="Why this outcome: the gap, the allowance, or why not measured.")


class Verdict(_Model):
    """Whether the evidence holds up the recommendation."""

    outcome: Outcome
    protocol: str | None = Field(description="The recommended protocol judged.")
    deciding_requirement: str | None = Field(
        description="The requirement that decided a weakened or contradicted outcome."
    )
    summary: str
    runner_up: str | None = Field(
        description="The engine's second-ranked viable protocol (verified or not)."
    )
    runner_up_would_do_better: bool | None = Field(
        description="On this evidence the runner-up failed fewer requirements."
    )
    factors_held: list[str] = Field(
        default_factory=list, description="Factors supported by measurement, as rule/protocol."
    )
    factors_failed: list[str] = Field(
        default_factory=list,
        description="Factors contradicted by measurement (findings about the matrix).",
    )


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3g} {unit}" if abs(value) < 100 else f"{value:,.0f} {unit}"


def real_time(seconds: float | None, time_scale: float) -> str:
    """A run's time-based figure with its real-time equivalent: "0.48 s (28.8 s real)"."""
    if seconds is None:
        return "n/a"
    if time_scale >= 1:
        return f"{seconds:.3g} s"
    return f"{seconds:.3g} s ({seconds / time_scale:.3g} s real)"


def check_run(
    profile: Profile, run: RunEvidence, *, idle_hop: str | None, time_scale: float = 1.0
) -> tuple[Check, ...]:
    """The profile's requirements checked against one (planned) run; time-based figures are
    also given in real time (the run's divided by ``time_scale``)."""
    checks: list[Check] = []
    budget = profile.delivery.latency_p99_ms
    reliable = profile.delivery.guarantee != "best_effort"
    latency = run.delivery_latency_ms.p99
    if latency is not None:
        checks.append(
            Check(
                requirement="latency-budget",
                passed=latency <= budget,
                hard=False,
                measured=f"delivery p99 {_fmt(latency, 'ms')}",
                expected=f"<= {budget:g} ms (delivery.latency_p99_ms)",
            )
        )
    if run.client_to_server is not None and run.ack_rtt_ms.p99 is not None:
        checks.append(
            Check(
                requirement="ack-latency-budget",
                passed=run.ack_rtt_ms.p99 <= budget,
                hard=False,
                measured=f"ack round trip p99 {_fmt(run.ack_rtt_ms.p99, 'ms')}",
                expected=f"<= {budget:g} ms (delivery.latency_p99_ms)",
            )
        )
    directions = [
        ("server_to_client", run.server_to_client),
        ("client_to_server", run.client_to_server),
    ]
    for name, evidence in directions:
        if evidence is None:
            continue
        if reliable:
            checks.append(
                Check(
                    requirement=f"no-loss-{name.replace('_', '-')}",
                    passed=evidence.lost == 0,
                    hard=True,
                    measured=f"{evidence.lost} of {evidence.sent} lost",
                    expected=f"0 lost ({profile.delivery.guarantee})",
                )
            )
        checks.append(
            Check(
                requirement=f"exactly-once-{name.replace('_', '-')}",
                passed=evidence.duplicated == 0,
                hard=True,
                measured=f"{evidence.duplicated} duplicated",
                expected="nothing applied or delivered twice",
            )
        )
        if profile.delivery.guarantee == "reliable_ordered":
            checks.append(
                Check(
                    requirement=f"ordered-{name.replace('_', '-')}",
                    passed=evidence.out_of_order == 0,
                    hard=True,
                    measured=f"{evidence.out_of_order} out of order",
                    expected="0 out of order (reliable_ordered)",
                )
            )
    if idle_hop is not None:
        idle_drops = sum(n for kind, n in run.proxy_faults.items() if kind.startswith("idle"))
        checks.append(
            Check(
                requirement="survives-idle-timeout",
                passed=idle_drops == 0,
                hard=True,
                measured=f"{idle_drops} connection(s) dropped as idle",
                expected=f"heartbeat keeps every connection alive through {idle_hop}",
            )
        )
    bound = run.detection_bound_s
    if bound is not None:
        allowed = bound * DETECTION_SLACK_FACTOR + DETECTION_SLACK_S
        worst = run.detection_s.max
        passed = run.undetected == 0 and worst is not None and worst <= allowed
        checks.append(
            Check(
                requirement="dead-connection-detected",
                passed=passed,
                hard=True,
                measured=f"worst {real_time(worst, time_scale)}, {run.undetected} never noticed",
                expected=f"every client within {real_time(bound, time_scale)} (the plan's bound)",
            )
        )
    checks.append(
        Check(
            requirement="no-leaked-connections",
            passed=run.leaked_connections == 0,
            hard=True,
            measured=f"{run.leaked_connections} still registered after clients left",
            expected="0: the server reaps what the network dropped",
        )
    )
    return tuple(checks)


def shows_failure(naive: RunEvidence) -> bool:
    """The naive control lost something, missed the drop or leaked a connection."""
    lost = sum(d.lost for d in (naive.server_to_client, naive.client_to_server) if d is not None)
    return lost > 0 or naive.undetected > 0 or naive.leaked_connections > 0


def _score(report: CandidateReport) -> tuple[int, int]:
    hard = sum(1 for c in report.failed if c.hard)
    return hard, len(report.failed)


def decide(
    recommended: str | None,
    candidates: list[CandidateReport],
    runner_up: str | None = None,
) -> Verdict:
    """The verdict on ``recommended`` given every candidate's report (ranking order).

    ``runner_up`` is the engine's second-ranked viable protocol, verified or not; the
    comparison with it is made only when it was verified.
    """
    winner = next((c for c in candidates if c.protocol == recommended), None)
    second = next((c for c in candidates if c.protocol == runner_up and c.verified), None)
    if winner is None or not winner.verified:
        reason = winner.reason if winner is not None and winner.reason else "no protocol"
        return Verdict(
            outcome="not_verified",
            protocol=recommended,
            deciding_requirement=None,
            summary=f"{recommended or 'no protocol'} is not verified by the runtime: {reason}",
            runner_up=runner_up,
            runner_up_would_do_better=None,
        )
    better = None
    if second is not None:
        better = _score(second) < _score(winner)
    hard = [c for c in winner.failed if c.hard]
    soft = [c for c in winner.failed if not c.hard]
    if hard:
        outcome: Outcome = "contradicted"
        deciding: Check | None = hard[0]
    elif soft:
        outcome, deciding = "weakened", soft[0]
    else:
        outcome, deciding = "confirmed", None
    if deciding is None:
        summary = f"{winner.protocol} met every requirement of the profile in the planned run"
    else:
        summary = (
            f"{winner.protocol} {outcome}: {deciding.requirement} measured "
            f"{deciding.measured}, expected {deciding.expected}"
        )
    return Verdict(
        outcome=outcome,
        protocol=winner.protocol,
        deciding_requirement=deciding.requirement if deciding else None,
        summary=summary,
        runner_up=runner_up,
        runner_up_would_do_better=better,
    )


#: What each proxy fault means, in words (``{n}`` connections).
_FAULT_WORDS = {
    "forced:silent_drop": "{n} connection(s) open when the path went dark were dropped "
    "without FIN or RST",
    "forced:ignored_connect": "{n} connection attempt(s) made while the path was dark were "
    "accepted and never answered (reconnect attempts and POSTs, retried with backoff)",
    "idle_timeout:silent_drop": "{n} connection(s) sat idle past the hop's idle timeout and "
    "were dropped without FIN or RST",
    "max_lifetime:fin": "{n} connection(s) reached the hop's lifetime cap and were closed",
    "max_lifetime:rst": "{n} connection(s) reached the hop's lifetime cap and were reset",
    "cut:rst": "{n} connection(s) were cut mid-stream with RST",
}


def explain_faults(faults: dict[str, int], *, protocol: str, clients: int) -> list[str]:
    """The proxy's fault counts of one run in words, with why there can be more than one per
    client (SSE clients hold a stream and pooled POST connections beside it)."""
    lines = []
    for key, n in sorted(faults.items()):
        words = _FAULT_WORDS.get(key, f"{key}: {{n}}").format(n=n)
        if key.endswith("silent_drop") and n > clients:
            words += (
                f" ({clients} clients: each SSE client holds its event stream plus pooled "
                "connections for its POSTs)"
                if protocol == "sse"
                else f" ({clients} clients, some reconnected before the drop)"
            )
        lines.append(words)
    return lines


class RunPlanSummary(_Model):
    """What was run: the sample (each candidate states its own scaling in its notes)."""

    clients: int
    full_scale_connections: int
    random_state: int
    network: str = Field(
        default="loopback, no network emulated",
        description="The network emulated between clients and server, and its source.",
    )


class VerifyReport(_Model):
    """The whole answer of ``selector verify``."""

    verify_version: Literal[1] = 1
    profile: str
    recommended: str | None
    run: RunPlanSummary
    candidates: tuple[CandidateReport, ...]
    verdict: Verdict
    factors: tuple[Factor, ...] = Field(
        default=(),
        description="The rules that decided the ranking, measured on the winner and the "
        "runner-up (or not measurable, with why).",
    )
    extrapolated: dict[str, float] = Field(
        default_factory=dict,
        description="Full-scale figures of the recommended protocol, from the same bandwidth "
        "model as `recommend` (bytes/s; not measured).",
    )


def with_factors(verdict: Verdict, factors: tuple[Factor, ...]) -> Verdict:
    """The verdict with which factors held and which did not; a contradicted factor does not
    change the outcome on the profile's requirements, it is a finding about the matrix."""
    held = [f"{f.rule}/{f.protocol}" for f in factors if f.outcome == "supported"]
    failed = [f"{f.rule}/{f.protocol}" for f in factors if f.outcome == "contradicted"]
    summary = verdict.summary
    if held or failed:
        summary += f"; factors: {len(held)} held, {len(failed)} contradicted"
        if failed:
            summary += " (" + ", ".join(failed) + ": findings about the matrix)"
    return verdict.model_copy(
        update={"factors_held": held, "factors_failed": failed, "summary": summary}
    )
