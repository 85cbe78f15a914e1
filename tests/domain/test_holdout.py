"""The hold-out's hash: fixed values (changing the hash would move decided assets between
training and the hold-out, mixing what the gate scores with what heads learnt) and shares
that nest (a larger share keeps every asset a smaller one held)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tagtrail.domain.holdout import holdout_rank, in_holdout


def test_the_rank_of_an_id_is_fixed() -> None:
    # The same numbers OpenSearch's Painless computes (tests/api/test_holdout.py).
    assert holdout_rank("5f1c0a") == 0.04120500781573355
    assert holdout_rank("g-Kobo-0") == 0.8419335572980344
    assert holdout_rank("q-03-ñ😀") == 0.2524213509168476


_SURROGATE = st.integers(0xD800, 0xDFFF).map(chr)  # alone: Java strings may hold them too
IDS = st.lists(st.characters() | _SURROGATE, max_size=40).map("".join)


@given(IDS, st.floats(0.0, 0.5), st.floats(0.0, 0.5))
def test_shares_nest_and_none_holds_nothing(asset_id: str, a: float, b: float) -> None:
    small, large = sorted((a, b))
    assert 0.0 <= holdout_rank(asset_id) < 1.0
    assert not in_holdout(asset_id, 0.0)
    assert not in_holdout(asset_id, small) or in_holdout(asset_id, large)
