"""The pods a cluster keeps, telling whoever follows them which ones changed.

The signal journal writes, before each decision, the pods that changed
since its last line. Comparing the whole fleet to find them cost 2-7 ms at
100k pods before every batch (service/journal.py); a follower set costs a
set insertion per pod write and hands over only the keys written since.
"""

from __future__ import annotations

from receiver.model import Pod, PodKey


class PodMap(dict[PodKey, Pod]):
    """A dict of pods whose item writes (`pods[key] = pod`, `del pods[key]`) are told to
    every follower. Clusters write pods only through these two; reads are a dict's own."""

    __slots__ = ("_followers",)

    def __init__(self) -> None:
        super().__init__()
        self._followers: list[set[PodKey]] = []

    def __setitem__(self, key: PodKey, pod: Pod) -> None:
        super().__setitem__(key, pod)
        for changed in self._followers:
            changed.add(key)

    def __delitem__(self, key: PodKey) -> None:
        super().__delitem__(key)
        for changed in self._followers:
            changed.add(key)

    def follow(self) -> set[PodKey]:
        """A set to which the key of every pod added, replaced or removed from now on is
        added; the follower empties it as it reads it."""
        changed: set[PodKey] = set()
        self._followers.append(changed)
        return changed

    def _refused(self, *args: object, **kwargs: object) -> None:
        raise TypeError("write pods with pods[key] = pod or del pods[key], so followers hear")

    pop = popitem = setdefault = update = clear = _refused  # type: ignore[assignment]
