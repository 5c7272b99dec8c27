"""Data mixing: which (dataset, task) pair each training example comes from.

A stage config lists datasets, the tasks to train on each, and a weight::

    mixture:
      - {data: librispeech, tasks: [asr], weight: 1.0}
      - {data: covost2_en_de, tasks: [asr, st_en_de], weight: 2.0}
    temperature: 2.0

Every (dataset, task) pair *i* is drawn with probability

    p_i ∝ (w_i · n_i) ^ (1 / T)

where ``w_i`` is the entry's weight and ``n_i`` the dataset's size (number of cuts by
default; pass hours or anything else as ``sizes``).  ``T = 1`` samples in proportion to
the weighted sizes, larger ``T`` flattens the mixture towards uniform (``T = inf`` is
exactly uniform), which up-samples small datasets.

:class:`MixedSampler` draws pairs with these probabilities and, for each draw, takes the
next cut of that pair's own pass over the dataset whose task target is not ``None``
(utterances a task does not apply to are skipped).  Each pair's pass restarts when it
ends, so the sampler is endless.  It is deterministic given ``seed`` and resumable:
:meth:`MixedSampler.state_dict` holds only counters, and :meth:`load_state_dict` replays
each pair's pass up to where it stopped.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from soundwave.errors import UserError
from soundwave.tasks.registry import cut_fields, get_task

_ENTRY_KEYS = {"data", "tasks", "weight"}


@dataclass(frozen=True)
class MixtureEntry:
    """One dataset, the tasks trained on it, and their weight (shared by its tasks)."""

    data: str
    tasks: tuple[str, ...]
    weight: float = 1.0


@dataclass(frozen=True)
class MixtureSpec:
    """A stage's data mixture: entries plus the sampling temperature."""

    entries: tuple[MixtureEntry, ...]
    temperature: float = 1.0

    def __post_init__(self) -> None:
        if not self.entries:
            raise UserError("the data mixture is empty")
        if not self.temperature > 0:
            raise UserError(f"mixing temperature must be > 0, got {self.temperature}")
        seen = set()
        for pair in self.pairs:
            if pair in seen:
                raise UserError(f"dataset {pair[0]!r} lists task {pair[1]!r} twice")
            seen.add(pair)

    @classmethod
    def from_config(
        cls,
        config: Sequence[Mapping[str, Any]],
        temperature: float = 1.0,
        path: str | None = None,
    ) -> MixtureSpec:
        """Build from a list of ``{data: name, tasks: [..], weight: w}`` mappings
        (``tasks`` may be one name; ``weight`` defaults to 1).  ``path`` names the
        config file in error messages."""
        if not isinstance(config, Sequence) or isinstance(config, str):
            raise UserError("the data mixture must be a list of {data, tasks, weight}", path)
        entries = []
        for k, item in enumerate(config):
            where = f"mixture entry {k + 1}"
            if not isinstance(item, Mapping):
                raise UserError(f"{where}: expected a mapping, got {item!r}", path)
            unknown = set(item) - _ENTRY_KEYS
            if unknown:
                raise UserError(
                    f"{where}: unknown key(s) {', '.join(sorted(unknown))}; "
                    f"allowed: {', '.join(sorted(_ENTRY_KEYS))}",
                    path,
                )
            data = item.get("data")
            if not isinstance(data, str) or not data:
                raise UserError(f"{where}: 'data' must name a dataset", path)
            tasks = item.get("tasks", ())
            tasks = (tasks,) if isinstance(tasks, str) else tuple(tasks)
            if not tasks:
                raise UserError(f"{where} ({data}): 'tasks' is empty", path)
            for task in tasks:
                get_task(task)  # unknown names fail here, listing the known ones
            weight = item.get("weight", 1.0)
            if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
                raise UserError(f"{where} ({data}): weight must be a number > 0", path)
            entries.append(MixtureEntry(data, tasks, float(weight)))
        return cls(tuple(entries), float(temperature))

    @property
    def pairs(self) -> list[tuple[str, str]]:
        """The (dataset, task) pairs in config order."""
        return [(e.data, t) for e in self.entries for t in e.tasks]

    @property
    def datasets(self) -> list[str]:
        return list(dict.fromkeys(e.data for e in self.entries))

    def probabilities(self, sizes: Mapping[str, float]) -> list[float]:
        """Sampling probability of each pair in :attr:`pairs` for dataset ``sizes``."""
        missing = [d for d in self.datasets if d not in sizes]
        if missing:
            raise UserError(f"no size known for dataset(s) {', '.join(missing)}")
        weights = [e.weight for e in self.entries for _ in e.tasks]
        return temperature_probabilities(
            weights, [sizes[d] for d, _ in self.pairs], self.temperature
        )


def temperature_probabilities(
    weights: Sequence[float], sizes: Sequence[float], temperature: float
) -> list[float]:
    """``p_i ∝ (w_i n_i)^(1/T)``; pairs with ``n_i = 0`` get 0, ``T = inf`` is uniform."""
    logs = [math.log(w) + math.log(n) if n > 0 else -math.inf for w, n in zip(weights, sizes)]
    if all(x == -math.inf for x in logs):
        raise UserError("every dataset of the mixture is empty")
    top = max(logs)
    # log space: (w n)^(1/T) overflows for large n and small T
    scaled = [
        0.0
        if x == -math.inf
        else math.exp(0.0 if math.isinf(temperature) else (x - top) / temperature)
        for x in logs
    ]
    total = sum(scaled)
    return [s / total for s in scaled]


class _Stream:
    """One pair's pass over its dataset, optionally shuffled through a buffer."""

    def __init__(self, source: Iterable[Any], buffer: int, rng: random.Random):
        self._it = iter(source)
        self._buffer_size = buffer
        self._rng = rng
        self._buffer: list[Any] = []
        self.consumed = 0

    def next(self) -> Any:
        """The next cut, or raise StopIteration at the end of the pass."""
        if self._buffer_size <= 1:
            item = next(self._it)
        else:
            for item in itertools.islice(self._it, self._buffer_size - len(self._buffer)):
                self._buffer.append(item)
            if not self._buffer:
                raise StopIteration
            k = self._rng.randrange(len(self._buffer))
            self._buffer[k], self._buffer[-1] = self._buffer[-1], self._buffer[k]
            item = self._buffer.pop()
        self.consumed += 1
        return item


class MixedSampler:
    """Endless, deterministic, resumable stream of ``(cut, task_name)`` pairs.

    ``cuts`` maps each dataset name of ``spec`` to a re-iterable collection of cuts
    (a lazy lhotse ``CutSet`` is fine: every pair opens its own pass).  ``sizes``
    defaults to ``len()`` of each collection.  ``shuffle_buffer > 1`` shuffles each pass
    through a buffer of that many cuts (lhotse-style, memory-bounded).  ``fields``
    turns a cut into the task fields dict (:func:`cut_fields` for lhotse cuts).
    """

    def __init__(
        self,
        spec: MixtureSpec,
        cuts: Mapping[str, Iterable[Any]],
        *,
        sizes: Mapping[str, float] | None = None,
        seed: int = 0,
        shuffle_buffer: int = 0,
        fields: Callable[[Any], Mapping[str, Any]] = cut_fields,
    ):
        missing = [d for d in spec.datasets if d not in cuts]
        if missing:
            raise UserError(f"the mixture names dataset(s) with no cuts: {', '.join(missing)}")
        if sizes is None:
            sizes = {d: len(cuts[d]) for d in spec.datasets}  # type: ignore[arg-type]
        self.spec = spec
        self.pairs = spec.pairs
        self.probabilities = spec.probabilities(sizes)
        self._cdf = list(itertools.accumulate(self.probabilities))
        self._cuts = cuts
        self._tasks = [get_task(t) for _, t in self.pairs]
        self._fields = fields
        self.seed = seed
        self.shuffle_buffer = shuffle_buffer
        self.step = 0
        self.epochs = [0] * len(self.pairs)
        self._found = [0] * len(self.pairs)  # applicable cuts seen in the current pass
        self._streams: list[_Stream | None] = [None] * len(self.pairs)

    def _open(self, i: int) -> _Stream:
        rng = random.Random(f"shuffle:{self.seed}:{i}:{self.epochs[i]}")
        source = self._cuts[self.pairs[i][0]]
        # a source whose passes differ (lhotse Shar: the shard order) is told which pass
        for_pass = getattr(source, "for_pass", None)
        passes = source if for_pass is None else for_pass(self.epochs[i])
        return _Stream(passes, self.shuffle_buffer, rng)

    def _choose(self, step: int) -> int:
        # a fresh generator per step: resuming needs no RNG state, only the step count
        u = random.Random(f"mix:{self.seed}:{step}").random()
        return min(bisect.bisect_right(self._cdf, u), len(self.pairs) - 1)

    def _next(self, i: int) -> Any:
        task = self._tasks[i]
        while True:
            stream = self._streams[i]
            if stream is None:
                stream = self._streams[i] = self._open(i)
            try:
                cut = stream.next()
            except StopIteration:
                if self._found[i] == 0:
                    data, name = self.pairs[i]
                    raise UserError(
                        f"dataset {data!r} has no utterance with a target for task {name!r}"
                    ) from None
                self.epochs[i] += 1
                self._found[i] = 0
                self._streams[i] = None
                continue
            if task.target(self._fields(cut)) is not None:
                self._found[i] += 1
                return cut

    def __iter__(self) -> Iterator[tuple[Any, str]]:
        while True:
            i = self._choose(self.step)
            cut = self._next(i)
            self.step += 1
            yield cut, self.pairs[i][1]

    def state_dict(self) -> dict[str, Any]:
        """Counters that :meth:`load_state_dict` needs to continue where this stopped."""
        return {
            "seed": self.seed,
            "step": self.step,
            "pairs": [
                {
                    "data": data,
                    "task": task,
                    "epoch": self.epochs[i],
                    "consumed": 0 if self._streams[i] is None else self._streams[i].consumed,
                    "found": self._found[i],
                }
                for i, (data, task) in enumerate(self.pairs)
            ],
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from a :meth:`state_dict` of a sampler with the same mixture."""
        saved = [(p["data"], p["task"]) for p in state["pairs"]]
        if saved != self.pairs:
            raise UserError(
                f"cannot resume the data mixture: it was {saved}, the config now gives {self.pairs}"
            )
        self.seed = int(state["seed"])
        self.step = int(state["step"])
        for i, pair_state in enumerate(state["pairs"]):
            self.epochs[i] = int(pair_state["epoch"])
            self._found[i] = int(pair_state["found"])
            self._streams[i] = None
            consumed = int(pair_state["consumed"])
            if consumed:
                stream = self._streams[i] = self._open(i)
                try:
                    for _ in range(consumed):  # replay this pass (same seed, same order)
                        stream.next()
                except StopIteration:
                    raise UserError(
                        f"cannot resume the data mixture: dataset {self.pairs[i][0]!r} has "
                        f"fewer than the {consumed} cuts already read from it"
                    ) from None
