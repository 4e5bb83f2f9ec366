"""The fake's selector grammar and patch algorithms, as pure functions, by table."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .kinds import ApiError
from .patches import json_patch, merge_patch, strategic
from .selectors import FieldSelector, LabelSelector, SelectorError

LABELS = {"app": "web", "tier": "front", "example.com/team": "a", "replicas": "3"}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        pytest.param("", True, id="empty-matches-all"),
        pytest.param("app=web", True, id="equals"),
        pytest.param("app==web", True, id="double-equals"),
        pytest.param("app=db", False, id="equals-other"),
        pytest.param("app!=db", True, id="not-equals"),
        pytest.param("missing!=x", True, id="not-equals-matches-absent-key"),
        pytest.param("tier in (front, back)", True, id="in"),
        pytest.param("tier in (back)", False, id="in-miss"),
        pytest.param("tier notin (back)", True, id="notin"),
        pytest.param("missing notin (x)", True, id="notin-matches-absent-key"),
        pytest.param("tier", True, id="exists"),
        pytest.param("missing", False, id="exists-miss"),
        pytest.param("!missing", True, id="not-exists"),
        pytest.param("!tier", False, id="not-exists-miss"),
        pytest.param("example.com/team=a", True, id="prefixed-key"),
        pytest.param("replicas>2,replicas<4", True, id="gt-lt"),
        pytest.param("app=web, tier in (front),!missing", True, id="conjunction"),
        pytest.param("app=web,tier=back", False, id="conjunction-miss"),
        pytest.param("app=", False, id="empty-value"),
        pytest.param("missing in ()", False, id="empty-set-is-empty-string"),
    ],
)
def test_label_selector(selector: str, matches: bool) -> None:
    assert LabelSelector.parse(selector).matches(LABELS) is matches


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        pytest.param("app in web", "found 'web', expected: '(' after in/notin", id="in-no-parens"),
        pytest.param("app=web,", "found 'EOS', expected: identifier", id="trailing-comma"),
        pytest.param("app=a b", "found 'b', expected: ','", id="space-in-value"),
        pytest.param("!", "found 'EOS', expected: identifier after '!'", id="bare-bang"),
        pytest.param("a=-x", "invalid label value '-x'", id="bad-value"),
        pytest.param("Bad_/k=v", "bad prefix", id="bad-prefix"),
        pytest.param("n>x", "'x' is not an integer", id="gt-not-integer"),
    ],
)
def test_label_selector_errors(selector: str, message: str) -> None:
    with pytest.raises(SelectorError, match=re.escape(message)):
        LabelSelector.parse(selector)


def test_field_selector() -> None:
    pod = {"metadata": {"name": "a", "namespace": "shop"}, "status": {"phase": "Running"}}
    assert FieldSelector.parse("metadata.name=a,status.phase!=Failed", "Pod").matches(pod)
    assert not FieldSelector.parse("metadata.name==b", "Pod").matches(pod)
    with pytest.raises(SelectorError, match=r'field label not supported: "spec\.image"'):
        FieldSelector.parse("spec.image=x", "Pod")


@pytest.mark.parametrize(
    ("target", "patch", "expected"),
    [
        pytest.param(
            {"a": {"b": 1, "c": 2}}, {"a": {"b": None}}, {"a": {"c": 2}}, id="null-deletes"
        ),
        pytest.param({"a": [1, 2]}, {"a": [3]}, {"a": [3]}, id="lists-replace"),
        pytest.param({"a": 1}, {"b": {"c": None}}, {"a": 1, "b": {}}, id="new-map"),
    ],
)
def test_merge_patch(target: Any, patch: Any, expected: Any) -> None:
    assert merge_patch(target, patch) == expected


def _containers(*items: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"containers": list(items)}}


@pytest.mark.parametrize(
    ("target", "patch", "expected"),
    [
        pytest.param(
            _containers({"name": "a", "image": "1", "env": [{"name": "X", "value": "1"}]}),
            _containers({"name": "a", "env": [{"name": "Y", "value": "2"}]}),
            _containers(
                {
                    "name": "a",
                    "image": "1",
                    "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}],
                }
            ),
            id="containers-and-env-merge-by-name",
        ),
        pytest.param(
            _containers({"name": "a"}, {"name": "b"}),
            _containers({"name": "a", "$patch": "delete"}),
            _containers({"name": "b"}),
            id="patch-delete-directive",
        ),
        pytest.param(
            {"metadata": {"finalizers": ["x"], "labels": {"a": "1", "b": "2"}}},
            {"metadata": {"finalizers": ["y"], "labels": {"a": None}}},
            {"metadata": {"finalizers": ["x", "y"], "labels": {"b": "2"}}},
            id="finalizers-union-and-null",
        ),
        pytest.param(
            {"spec": {"args": ["a", "b"]}},
            {"spec": {"args": ["c"]}},
            {"spec": {"args": ["c"]}},
            id="unkeyed-list-replaces",
        ),
        pytest.param(
            {"spec": {"m": {"a": 1}}},
            {"spec": {"m": {"$patch": "replace", "b": 2}}},
            {"spec": {"m": {"b": 2}}},
            id="patch-replace-map",
        ),
    ],
)
def test_strategic_merge(target: Any, patch: Any, expected: Any) -> None:
    assert strategic(target, patch) == expected


DOC = {"metadata": {"annotations": {"remediation/state": "ok", "a~b": "1"}}, "list": [1, 2, 3]}


@pytest.mark.parametrize(
    ("ops", "expected"),
    [
        pytest.param(
            [{"op": "replace", "path": "/metadata/annotations/remediation~1state", "value": "x"}],
            {
                "metadata": {"annotations": {"remediation/state": "x", "a~b": "1"}},
                "list": [1, 2, 3],
            },
            id="slash-escape",
        ),
        pytest.param(
            [{"op": "remove", "path": "/metadata/annotations/a~0b"}],
            {"metadata": {"annotations": {"remediation/state": "ok"}}, "list": [1, 2, 3]},
            id="tilde-escape",
        ),
        pytest.param(
            [
                {"op": "add", "path": "/list/-", "value": 4},
                {"op": "add", "path": "/list/0", "value": 0},
            ],
            {**DOC, "list": [0, 1, 2, 3, 4]},
            id="add-append-and-insert",
        ),
        pytest.param(
            [
                {"op": "move", "from": "/list/0", "path": "/first"},
                {"op": "copy", "from": "/first", "path": "/again"},
            ],
            {**DOC, "list": [2, 3], "first": 1, "again": 1},
            id="move-and-copy",
        ),
        pytest.param(
            [{"op": "test", "path": "/list/1", "value": 2}],
            DOC,
            id="test-passes",
        ),
    ],
)
def test_json_patch(ops: list[dict[str, Any]], expected: Any) -> None:
    assert json_patch(DOC, ops) == expected


@pytest.mark.parametrize(
    ("ops", "code", "message"),
    [
        pytest.param(
            [{"op": "test", "path": "/list/0", "value": 9}],
            422,
            "testing value /list/0 failed: test failed",
            id="failed-test",
        ),
        pytest.param(
            [{"op": "test", "path": "/list/0", "value": True}],
            422,
            "test failed",
            id="true-is-not-1",
        ),
        pytest.param([{"op": "remove", "path": "/nope"}], 422, "missing path", id="remove-missing"),
        pytest.param(
            [{"op": "replace", "path": "/a/b", "value": 1}],
            422,
            "missing path",
            id="replace-missing",
        ),
        pytest.param({"op": "add"}, 400, "cannot unmarshal", id="not-a-list"),
    ],
)
def test_json_patch_errors(ops: Any, code: int, message: str) -> None:
    with pytest.raises(ApiError, match=message) as caught:
        json_patch(DOC, ops)
    assert caught.value.code == code


def test_json_patch_is_all_or_nothing() -> None:
    ops = [{"op": "add", "path": "/x", "value": 1}, {"op": "test", "path": "/x", "value": 2}]
    with pytest.raises(ApiError):
        json_patch(DOC, ops)
    assert "x" not in DOC
