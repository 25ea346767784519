"""Renderers of :class:`selector.verify.verdict.VerifyReport`: text table, JSON, Markdown."""

from __future__ import annotations

from collections.abc import Callable

from tabulate import tabulate

from selector.render.formats import OutputFormat
from selector.render.jsonfmt import dumps
from selector.verify.evidence import DirectionEvidence, Distribution, RunEvidence
from selector.verify.verdict import CandidateReport, VerifyReport, real_time

__all__ = [
    "VERIFY_FORMATS",
    "checks_markdown",
    "control_sentence",
    "factor_findings",
    "render_verify_json",
    "render_verify_markdown",
    "render_verify_text",
    "sample_sentence",
    "verdict_lines",
]


def _ms(d: Distribution) -> str:
    if d.p50 is None or d.p99 is None:
        return "-"
    return f"{d.p50:.1f} / {d.p99:.1f}"


def _s(d: Distribution, time_scale: float) -> str:
    if d.p50 is None or d.max is None:
        return "-"
    text = f"{d.p50:.2f} / {d.max:.2f}"
    if time_scale < 1:
        text += f" ({d.p50 / time_scale:.3g} / {d.max / time_scale:.3g} s real)"
    return text


def _direction(e: DirectionEvidence | None) -> str:
    if e is None:
        return "-"
    return f"{e.delivered}/{e.sent} ({e.lost} lost, {e.duplicated} dup, {e.out_of_order} ooo)"


def _run_rows(candidate: CandidateReport) -> list[list[str]]:
    rows = []
    runs: list[RunEvidence] = [r for r in (candidate.planned, candidate.naive) if r is not None]
    for run in runs:
        scale = candidate.time_scale or 1.0
        bound = "none"
        if run.detection_bound_s is not None:
            bound = real_time(run.detection_bound_s, scale)
        wire = f"{run.wire_bytes_per_message:.0f}" if run.wire_bytes_per_message else "-"
        faults = ", ".join(f"{k} x{v}" for k, v in sorted(run.proxy_faults.items())) or "-"
        rows.append(
            [
                f"{candidate.protocol} {run.mode}",
                _direction(run.server_to_client),
                _direction(run.client_to_server),
                _ms(run.delivery_latency_ms),
                _ms(run.ack_rtt_ms),
                f"{_s(run.detection_s, scale)} (bound {bound}, {run.undetected} missed)",
                f"{run.reconnects}/{run.resumes}",
                wire,
                str(run.leaked_connections),
                faults,
            ]
        )
    return rows


_RUN_HEADERS = [
    "run",
    "server->client delivered",
    "client->server applied",
    "latency ms p50/p99",
    "ack ms p50/p99",
    "detection s p50/max",
    "reconnects/resumes",
    "wire B/msg",
    "leaked",
    "proxy faults",
]


def verdict_lines(report: VerifyReport) -> list[str]:
    """The verdict in a sentence or two, runner-up comparison included."""
    v = report.verdict
    lines = [f"Verdict: {v.outcome.replace('_', ' ').upper()}: {v.summary}"]
    if v.runner_up is not None and v.runner_up_would_do_better is not None:
        better = "would" if v.runner_up_would_do_better else "would not"
        lines.append(
            f"The engine's runner-up ({v.runner_up}) {better} have done better on this evidence."
        )
    elif v.runner_up is not None:
        lines.append(
            f"The engine's runner-up ({v.runner_up}) was not verified here, so it is not compared."
        )
    return lines


def _check_rows(candidate: CandidateReport) -> list[list[str]]:
    return [
        [
            "pass" if c.passed else ("FAIL" if c.hard else "weak"),
            c.requirement,
            c.measured,
            c.expected,
        ]
        for c in candidate.checks
    ]


def control_sentence(candidate: CandidateReport) -> str:
    """What the naive control of ``candidate`` showed, in words."""
    if candidate.control_showed_failure:
        return "the naive control showed the failure the plan prevents"
    return "the naive control showed no failure on this path"


def sample_sentence(report: VerifyReport) -> str:
    """How many clients stood for how many connections, and the random state."""
    run = report.run
    return (
        f"{run.clients} sampled clients for {run.full_scale_connections} connections, "
        f"random state {run.random_state}; network: {run.network}"
    )


_FACTOR_HEADERS = ["outcome", "rule", "protocol", "prediction", "measured", "why"]


def _factor_rows(report: VerifyReport) -> list[list[str]]:
    return [
        [
            f.outcome.replace("_", " "),
            f.rule + (f" ({f.evidence})" if f.evidence else ""),
            f.protocol,
            f.prediction.text,
            f.measured.text if f.measured else "-",
            f.why,
        ]
        for f in report.factors
    ]


def factor_findings(report: VerifyReport) -> list[str]:
    """Each contradicted factor as a finding about the matrix."""
    return [
        f"finding about the matrix: rule {f.rule} on {f.protocol}: predicted "
        f"{f.prediction.text}, measured {f.measured.text if f.measured else '-'} ({f.why})"
        for f in report.factors
        if f.outcome == "contradicted"
    ]


def _extrapolated_lines(report: VerifyReport) -> list[str]:
    return [
        f"full scale, from `recommend`'s bandwidth model (not measured): {k} = {v:,.0f}"
        for k, v in report.extrapolated.items()
    ]


def render_verify_text(report: VerifyReport) -> str:
    """Terminal output: verdict first, then what was run, the runs and the checks."""
    out = [f"selector verify {report.profile}: recommended {report.recommended or 'nothing'}"]
    out += verdict_lines(report)
    out += ["", sample_sentence(report)]
    rows = [row for c in report.candidates if c.verified for row in _run_rows(c)]
    if rows:
        out += ["", tabulate(rows, headers=_RUN_HEADERS, tablefmt="simple")]
    if report.factors:
        out += ["", "Factors (the rules that decided the ranking, measured):"]
        out.append(tabulate(_factor_rows(report), headers=_FACTOR_HEADERS, tablefmt="simple"))
        out += factor_findings(report)
    for candidate in report.candidates:
        out.append("")
        if not candidate.verified:
            out.append(f"{candidate.protocol}: not verified: {candidate.reason}")
            continue
        out.append(
            f"{candidate.protocol} requirements (planned run); {control_sentence(candidate)}"
        )
        out += [f"  - {note}" for note in candidate.notes]
        out.append(tabulate(_check_rows(candidate), tablefmt="plain"))
    if report.extrapolated:
        out += ["", *_extrapolated_lines(report)]
    return "\n".join(out) + "\n"


def render_verify_json(report: VerifyReport) -> str:
    """The report as JSON, stable for tooling."""
    return dumps(report.model_dump(mode="json")) + "\n"


def render_verify_markdown(report: VerifyReport) -> str:
    """Markdown for pull requests and decision records."""
    out = [f"## Verification of `{report.profile}`: {report.recommended or 'nothing'}", ""]
    out += [f"**{line}**" if i == 0 else line for i, line in enumerate(verdict_lines(report))]
    out += ["", f"{sample_sentence(report)}."]
    rows = [row for c in report.candidates if c.verified for row in _run_rows(c)]
    if rows:
        out += ["", tabulate(rows, headers=_RUN_HEADERS, tablefmt="pipe")]
    if report.factors:
        out += ["", "### Factors (the rules that decided the ranking, measured)", ""]
        out.append(tabulate(_factor_rows(report), headers=_FACTOR_HEADERS, tablefmt="pipe"))
        findings = factor_findings(report)
        if findings:
            out += ["", *(f"- **{line}**" for line in findings)]
    for candidate in report.candidates:
        out.append("")
        if not candidate.verified:
            out.append(f"- **{candidate.protocol}**: not verified: {candidate.reason}")
            continue
        out += [f"### {candidate.protocol} requirements (planned run)", ""]
        out += [f"{control_sentence(candidate).capitalize()}.", ""]
        if candidate.notes:
            out += [*(f"- {note}" for note in candidate.notes), ""]
        out.append(checks_markdown(candidate))
    if report.extrapolated:
        out += ["", *(f"- {line}" for line in _extrapolated_lines(report))]
    return "\n".join(out) + "\n"


def checks_markdown(candidate: CandidateReport) -> str:
    """The planned run's checks of ``candidate`` as a Markdown table."""
    return tabulate(
        _check_rows(candidate),
        headers=["result", "requirement", "measured", "expected"],
        tablefmt="pipe",
    )


#: Output format -> renderer, for ``selector verify --format``.
VERIFY_FORMATS: dict[OutputFormat, Callable[[VerifyReport], str]] = {
    OutputFormat.TEXT: render_verify_text,
    OutputFormat.JSON: render_verify_json,
    OutputFormat.MARKDOWN: render_verify_markdown,
}
