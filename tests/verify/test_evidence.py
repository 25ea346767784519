"""Evidence arithmetic: counts come from the records, whatever they are."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from selector.verify.evidence import (
    distribution,
    downstream_evidence,
    percentile,
    upstream_evidence,
)


def test_percentile_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([5.0], 99) == 5.0
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    summary = distribution([3.0, 1.0, 2.0])
    assert (summary.count, summary.p50, summary.max) == (3, 2.0, 3.0)


def test_downstream_counts_loss_duplicates_and_order() -> None:
    evidence = downstream_evidence(
        published=[1, 2, 3, 4],
        received={"a": [1, 2, 3, 4], "b": [1, 3, 2, 2], "c": []},
    )
    assert evidence.sent == 12
    assert evidence.delivered == 4 + 3
    assert evidence.lost == 5
    assert evidence.duplicated == 1
    assert evidence.out_of_order == 2  # b: 2 after 3, then 2 again


def test_upstream_is_judged_by_what_the_server_applied() -> None:
    evidence = upstream_evidence(
        sent={"a": [1, 2, 3], "b": [1, 2]},
        applied=[("a", 1), ("b", 1), ("a", 3), ("a", 2), ("a", 3)],
    )
    assert evidence.sent == 5
    assert evidence.delivered == 4
    assert evidence.lost == 1  # b:2 never applied
    assert evidence.duplicated == 1  # a:3 applied twice
    assert evidence.out_of_order == 1  # a applied 2 after 3


@given(st.lists(st.integers(1, 50), unique=True), st.data())
def test_delivering_everything_once_in_order_is_clean(ids: list[int], data) -> None:  # type: ignore[no-untyped-def]
    published = sorted(ids)
    clients = data.draw(st.integers(1, 4))
    evidence = downstream_evidence(published, {str(c): published for c in range(clients)})
    assert evidence.lost == evidence.duplicated == evidence.out_of_order == 0
    assert evidence.delivered == evidence.sent == len(published) * clients


@given(st.lists(st.integers(1, 30), max_size=60))
def test_loss_plus_delivered_is_sent(received: list[int]) -> None:
    evidence = downstream_evidence(list(range(1, 21)), {"x": received})
    assert evidence.lost + evidence.delivered == evidence.sent
    assert evidence.lost >= 0 and evidence.duplicated >= 0
