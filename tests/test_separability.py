"""scripts/separability.py: its leave-one-out credits a field only for what it predicts."""

from __future__ import annotations

import random
from collections import Counter
from types import ModuleType

import pytest

from selector.profile import Profile
from tests.conftest import load_script


@pytest.fixture(scope="module")
def separability() -> ModuleType:
    return load_script("separability")


def test_a_field_that_decides_every_case_is_credited_with_all_of_them(
    separability: ModuleType,
) -> None:
    rows = [("websocket", {"binary": True, "n": i}) for i in range(6)]
    rows += [("sse", {"binary": False, "n": 100 + i}) for i in range(9)]
    fit = separability.fit(rows)
    assert fit.in_sample == ("binary == False", 15) or fit.in_sample == ("binary == True", 15)
    assert fit.leave_one_out == 15
    assert fit.per_field["binary"] == 15


def test_a_field_that_only_names_the_cases_gains_nothing_left_out(
    separability: ModuleType,
) -> None:
    # Labels unrelated to anything: each case has its own name, and a threshold on a number
    # that merely counts the cases. Fitted on all cases a split seems to help; a case left out
    # gains nothing from them.
    labels = ["sse", "websocket", "sse", "sse", "websocket", "sse", "websocket", "sse"]
    rows = [(label, {"name": f"case-{i}", "n": i}) for i, label in enumerate(labels)]
    fit = separability.fit(rows)
    majority = labels.count("sse")
    assert fit.in_sample[1] > majority  # the fit on all cases finds something
    assert fit.leave_one_out <= majority
    assert fit.per_field["name"] <= majority


@pytest.mark.parametrize("seed", range(5))
def test_leaving_a_case_out_is_refitting_without_it(separability: ModuleType, seed: int) -> None:
    # The script takes a case off its side's counts instead of refitting; refitting on the
    # other cases (the first best split in the same order, as the script keeps it) must
    # answer each case the same. Few values per field make many equal fits, where choosing
    # among them by the left-out case's label would show.
    rng = random.Random(seed)
    rows = [
        (
            rng.choice(["sse", "websocket"]),
            {"a": rng.random() < 0.5, "b": rng.choice(["x", "y", "z"]), "n": rng.randint(0, 3)},
        )
        for _ in range(40)
    ]
    splits = list(separability._splits(rows))
    right = 0
    for index, (label, features) in enumerate(rows):
        rest = rows[:index] + rows[index + 1 :]
        best_score, best_answer = -1, ""
        for split in splits:
            yes = Counter(lab for lab, f in rest if split.test(f))
            no = Counter(lab for lab, f in rest if not split.test(f))
            score = separability._agreement(yes, no)
            if score > best_score:
                side = yes if split.test(features) else no
                best_score, best_answer = score, separability._side_answer(side)
        right += best_answer == label
    assert separability.fit(rows).leave_one_out == right


def _profile(**fields: object) -> Profile:
    base: dict[str, object] = {
        "schema_version": 2,
        "name": "feed",
        "traffic": {"server_to_client": {"rate_hz": 1, "payload_bytes": 200}},
    }
    base.update(fields)
    return Profile.model_validate(base)


def test_the_class_is_feeds_whose_clients_send_nothing_on_the_stream(
    separability: ModuleType,
) -> None:
    down = {"rate_hz": 1, "payload_bytes": 200}
    assert separability.in_class(_profile())
    separate = {"rate_hz": 0.1, "payload_bytes": 300, "channel": "separate_requests"}
    assert separability.in_class(
        _profile(traffic={"server_to_client": down, "client_to_server": separate})
    )
    in_band = {"rate_hz": 0.1, "payload_bytes": 300, "channel": "in_band"}
    assert not separability.in_class(
        _profile(traffic={"server_to_client": down, "client_to_server": in_band})
    )
    assert not separability.in_class(_profile(media="audio"))
    assert not separability.in_class(_profile(topology="peer_to_peer"))


def test_over_the_corpus_the_script_reports_the_class_and_the_engine(
    separability: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    separability.main()
    out = capsys.readouterr().out
    assert "the engine agrees on" in out
    assert "best split, leave-one-out: agrees on" in out
