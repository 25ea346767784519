"""Read the JSON of ``aws elbv2 describe-load-balancer-attributes`` (or the input of
``modify-load-balancer-attributes``): the ALB's idle timeout and whether HTTP/2 is on.

The default idle timeout is 60 s (https://docs.aws.amazon.com/elasticloadbalancing/latest/
application/application-load-balancers.html#connection-idle-timeout).
"""

from __future__ import annotations

import json

from selector.jsonvalue import JsonValue
from selector.planner.sources.durations import parse_seconds
from selector.planner.sources.model import MeasuredHop, SourceError, Timeout, Where

__all__ = ["read_aws_alb"]

ALB_IDLE_DEFAULT_S = 60.0


def _line_of(text: str, key: str) -> int:
    index = text.find(f'"{key}"')
    return text.count("\n", 0, index) + 1 if index >= 0 else 1


def read_aws_alb(path: str, text: str) -> tuple[MeasuredHop, ...]:
    """One hop for the load balancer described in ``text``."""
    try:
        # raw_decode: the document may be followed by notes (selector config's output is).
        data, _ = json.JSONDecoder().raw_decode(text.lstrip())
    except json.JSONDecodeError as exc:
        raise SourceError.single(f"invalid JSON: {exc.msg}", file=path, line=exc.lineno) from None
    except RecursionError:
        # The stdlib parser recurses per level; no AWS CLI output nests more than a few.
        raise SourceError.single("invalid JSON: nested too deeply", file=path) from None
    attributes: JsonValue = data.get("Attributes") if isinstance(data, dict) else None
    if not isinstance(attributes, list):
        raise SourceError.single(
            'no "Attributes" list: expected the JSON of '
            "aws elbv2 describe-load-balancer-attributes",
            file=path,
        )
    values = {
        str(a.get("Key")): str(a.get("Value"))
        for a in attributes
        if isinstance(a, dict) and "Key" in a
    }
    key = "idle_timeout.timeout_seconds"
    stated = key in values
    parsed = parse_seconds(values[key]) if stated else ALB_IDLE_DEFAULT_S
    if parsed is None:
        raise SourceError.single(
            f"{key} {values[key]!r}: expected whole seconds", file=path, line=_line_of(text, key)
        )
    idle = parsed
    where = Where(path, _line_of(text, key) if stated else 1)
    http2 = values.get("routing.http2.enabled", "true").lower() == "true"
    return (
        MeasuredHop(
            kind="aws_alb",
            label="load balancer",
            where=Where(path, 1),
            timeouts=(Timeout(key, f'{{"Key": "{key}", "Value": "{{n}}"}}', idle, where, stated),),
            noted=(f"routing.http2.enabled={str(http2).lower()}",),
        ),
    )
