"""The smallest pydantic program that validates a profile: the peer of ``selector validate``.

One model per section of the profile, typed as the schema types them (enumerations as
``Literal``, bounds as ``Field`` constraints, unknown keys refused), the YAML read with the C
loader as ``selector`` reads it, the exit code saying valid or not. What ``selector validate``
does beyond this (located messages, every field of every version, the report line) is what
bench/startup.py measures it against.

    python bench/startup_peer.py PROFILE
"""

from __future__ import annotations

import sys
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Direction(_Strict):
    rate_hz: float = Field(ge=0)
    payload_bytes: int = Field(ge=0)
    needs_ack: bool = False


class Traffic(_Strict):
    server_to_client: Direction | None = None
    client_to_server: Direction | None = None
    encoding: Literal["text", "binary"] = "text"


class Delivery(_Strict):
    guarantee: Literal["best_effort", "reliable_ordered", "reliable_unordered"]
    latency_p99_ms: float = Field(gt=0)
    resume: bool = False


class Scale(_Strict):
    concurrent_connections: int = Field(ge=1)
    fan_out: int = Field(ge=1)


class Hop(_Strict):
    kind: str


class Infrastructure(_Strict):
    path: list[Hop] = []
    timeout_control: Literal["full", "partial", "none"] = "partial"


class Profile(_Strict):
    schema_version: Literal[1, 2]
    name: str = Field(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
    description: str = ""
    traffic: Traffic
    delivery: Delivery
    clients: list[Literal["browser", "mobile", "server", "iot"]]
    auth: str = "none"
    scale: Scale
    infrastructure: Infrastructure


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as handle:
        data = yaml.load(handle, Loader=yaml.CSafeLoader)
    try:
        Profile.model_validate(data)
    except ValidationError as error:
        print(error, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
