"""The three PATCH content types: JSON merge patch, strategic merge patch and JSON patch.

Status codes follow kube-apiserver's patch handler (staging/.../endpoints/handlers/patch.go,
kubernetes PR #68346 and #79239): a JSON patch that cannot be decoded is 400 BadRequest; one
that decodes but cannot be applied (a failed `test`, a missing path) is 422 Invalid. A content
type outside the three is 415 UnsupportedMediaType.

Strategic merge knows the merge keys by field name rather than from the OpenAPI schema, which is
exact for the pod and workload fields the adapter touches (containers, env, ports, volumes,
conditions, ownerReferences, finalizers).
"""

from __future__ import annotations

import copy
from typing import Any

from .kinds import ApiError, bad_request, invalid

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
ACCEPTED = (JSON_PATCH, MERGE, "application/apply-patch+yaml", STRATEGIC)


def unsupported(content_type: str) -> ApiError:
    return ApiError(
        415,
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(ACCEPTED),
        reason="UnsupportedMediaType",
    )


def apply_patch(content_type: str, target: dict[str, Any], patch: Any) -> dict[str, Any]:
    """`target` patched per `content_type` (its media type, parameters stripped)."""
    if content_type == JSON_PATCH:
        result = json_patch(target, patch)
    elif content_type in (MERGE, STRATEGIC):
        if not isinstance(patch, dict):
            raise bad_request("error decoding patch: the patch is not a JSON object")
        result = merge_patch(target, patch) if content_type == MERGE else strategic(target, patch)
    else:
        raise unsupported(content_type)
    if not isinstance(result, dict):
        raise invalid("the patched object is not a JSON object")
    return result


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, `null` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "ports": "containerPort",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "conditions": "type",
    "ownerReferences": "uid",
}
PRIMITIVE_SETS = frozenset({"finalizers"})


def strategic(target: Any, patch: Any) -> Any:
    """Strategic merge: like merge patch, but keyed lists merge item by item."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            result[field] = [v for v in result.get(field) or [] if v not in value]
        elif key.startswith("$"):
            continue  # $setElementOrder/..., $retainKeys: ordering hints the fake ignores
        elif value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            result[key] = strategic(result.get(key), value)
        elif isinstance(value, list) and key in MERGE_KEYS:
            result[key] = _merge_list(result.get(key) or [], value, MERGE_KEYS[key])
        elif isinstance(value, list) and key in PRIMITIVE_SETS:
            have = list(result.get(key) or [])
            result[key] = have + [v for v in value if v not in have]
        else:
            result[key] = copy.deepcopy(value)
    return result


def _merge_list(target: list[Any], patch: list[Any], key: str) -> list[Any]:
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return [copy.deepcopy(p) for p in patch if not (isinstance(p, dict) and "$patch" in p)]
    result = [copy.deepcopy(t) for t in target]
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise bad_request(f"map in a list patch is missing its merge key {key!r}")
        at = next((i for i, t in enumerate(result) if t.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if at is not None:
                del result[at]
        elif at is None:
            result.append(strategic({}, item))
        else:
            result[at] = strategic(result[at], item)
    return result


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise invalid(f"invalid JSON pointer {path!r}")
    if path == "":
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(container: list[Any], token: str, path: str, *, insert: bool) -> int:
    if insert and token == "-":
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise invalid(f"invalid array index {token!r} in {path}")
    at = int(token)
    if at > len(container) or (at == len(container) and not insert):
        raise invalid(f"array index {at} out of bounds in {path}")
    return at


def _parent(doc: Any, parts: list[str], path: str) -> Any:
    node = doc
    for token in parts[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, path, insert=False)]
        else:
            raise invalid(f"doc is missing path: {path!r}")
    return node


def _get(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        return doc
    parent, last = _parent(doc, parts, path), parts[-1]
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, path, insert=False)]
    raise invalid(f"doc is missing path: {path!r}")


def _remove(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        raise invalid("cannot remove the whole document")
    parent, last = _parent(doc, parts, path), parts[-1]
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, path, insert=False))
    raise invalid(f"remove operation does not apply: doc is missing path: {path!r}")


def _add(doc: Any, path: str, value: Any) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent, last = _parent(doc, parts, path), parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, path, insert=True), value)
    else:
        raise invalid(f"add operation does not apply: doc is missing path: {path!r}")
    return doc


def _same(a: Any, b: Any) -> bool:
    """JSON equality: unlike Python's, `true` is not `1`."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def json_patch(target: dict[str, Any], ops: Any) -> Any:
    """RFC 6902, all or nothing: the target is only changed if every operation applies."""
    if not isinstance(ops, list) or not all(isinstance(op, dict) for op in ops):
        raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc: Any = copy.deepcopy(target)
    for op in ops:
        kind, path = op.get("op"), op.get("path")
        if kind in ("add", "replace", "test") and "value" not in op:
            raise invalid(f"{kind} operation is missing its value")
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "replace":
            _get(doc, path)
            if _pointer(path):
                _remove(doc, path)
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind in ("move", "copy"):
            source = op.get("from")
            if kind == "move" and isinstance(source, str) and path.startswith(source + "/"):
                raise invalid(f"cannot move {source} into its own child {path}")
            value = _remove(doc, source) if kind == "move" else copy.deepcopy(_get(doc, source))
            doc = _add(doc, path, value)
        elif kind == "test":
            if not _same(_get(doc, path), op["value"]):
                # evanphx/json-patch's wording, which the real server passes through.
                raise invalid(f"testing value {path} failed: test failed")
        else:
            raise invalid(f"Unexpected kind: {kind}")
    return doc
