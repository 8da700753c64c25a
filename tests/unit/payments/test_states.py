from __future__ import annotations

import pytest

from basketpay.errors import Conflict
from basketpay.payments.states import (
    OPERATION_FROM,
    TRANSITIONS,
    Status,
    require_operation_allowed,
    require_transition_allowed,
)


def test_terminal_states_have_no_way_out() -> None:
    assert TRANSITIONS[Status.SUCCEEDED] == frozenset()
    assert TRANSITIONS[Status.CANCELED] == frozenset()


@pytest.mark.parametrize("current", list(Status))
@pytest.mark.parametrize("target", list(Status))
def test_every_transition_is_either_in_the_table_or_a_409(current: Status, target: Status) -> None:
    if target in TRANSITIONS[current]:
        require_transition_allowed(current, target)
    else:
        with pytest.raises(Conflict) as raised:
            require_transition_allowed(current, target)
        assert raised.value.code == "payment_intent_unexpected_state"


@pytest.mark.parametrize("operation", sorted(OPERATION_FROM))
@pytest.mark.parametrize("status", list(Status))
def test_operations_start_only_from_their_statuses(operation: str, status: Status) -> None:
    if status in OPERATION_FROM[operation]:
        require_operation_allowed(operation, status)
    else:
        with pytest.raises(Conflict):
            require_operation_allowed(operation, status)
