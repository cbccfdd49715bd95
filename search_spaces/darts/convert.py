"""Conversions between :class:`DARTSGenotype` and the published DARTS formats.

Three formats, each checked against its source:

NAS-Bench-301 ConfigSpace configuration
    (automl/nasbench301, ``nasbench301/configspace.json`` and
    ``representations.convert_genotype_to_config``). Keys are
    ``NetworkSelectorDatasetInfo:darts:edge_{normal,reduce}_{0..13}`` (value:
    an op name) and ``NetworkSelectorDatasetInfo:darts:inputs_node_{normal,
    reduce}_{3,4,5}`` (value: the two inputs, ascending, as ``"0_2"``). Node 2
    has no ``inputs_node`` key: it always takes 0 and 1. The 14 possible edges
    are numbered node by node, by source: node 2 from 0, 1 (edges 0-1), node 3
    from 0..2 (2-4), node 4 from 0..3 (5-8), node 5 from 0..4 (9-13); an edge
    is active, and present in a configuration, exactly when its source is one
    of its node's inputs (the ConfigSpace's ``IN`` conditions say the same).
    :func:`to_nb301_config` writes the prefixed keys NB301's API and surrogates
    expect; :func:`from_nb301_config` also accepts the bare ``edge_normal_0``
    form. A full NB301 configuration also carries training hyperparameters
    (``OptimizerSelector:sgd:learning_rate``,
    ``NetworkSelectorDatasetInfo:darts:layers``...): namespaced keys other than
    the architecture's are ignored, any other key is an error.

DARTS genotype notation
    (quark0/darts ``cnn/genotypes.py``): ``Genotype(normal=[('sep_conv_3x3',
    0), ...], normal_concat=[2, 3, 4, 5], reduce=[...], reduce_concat=[2, 3,
    4, 5])``, eight ``(op, input)`` pairs per cell, inputs 0 = c_{k-2}, 1 =
    c_{k-1}, 2..5 the intermediate nodes. Parsed with :mod:`ast`, never
    evaluated; ``range(2, 6)`` is accepted as a concat (later DARTS variants
    print it), any other concat is rejected since every NB301 cell
    concatenates all four nodes.

NASLib compact form
    (automl/NASLib ``naslib/search_spaces/nasbench301/conversions.py``,
    ``convert_compact_to_genotype``; the key of ``naslib/data/zc_nasbench301.json``):
    ``[[(input, op) x 8 normal], [(input, op) x 8 reduce]]``. ``input`` is the
    genotype's node id unchanged (0, 1 the cell inputs, 2..5 intermediate:
    ``encodings.encode_adj`` draws the edge ``input -> i // 2 + 2``) and ``op``
    indexes NASLib's ``OPS`` list, which is NB301's ConfigSpace order, our
    :data:`~search_spaces.darts.genotype.OPS`: 0 max_pool_3x3, 1 avg_pool_3x3,
    2 skip_connect, 3 sep_conv_3x3, 4 sep_conv_5x5, 5 dil_conv_3x3,
    6 dil_conv_5x5. Checked on the 725 records of the real file
    (``naslib_zc_nasbench301.json``): under this reading all are valid
    genotypes (every input of node k lies in 0..k-1, the two inputs of a node
    always differ; inputs are spread uniformly over 0..k-1, as NASLib's random
    sampler draws them) and, decisively, the file's ``params`` field equals,
    for every record, the parameter count of :mod:`~search_spaces.darts.model`
    at NB301 size (32 channels, 8 cells, 10 classes, no auxiliary head) less
    the batch-norm affine parameters inside the cell ops, which NASLib builds
    with ``affine=False``. That count depends on the op of every edge and, in
    reduction cells, on whether a skip_connect reads a cell input (a
    parameterised FactorizedReduce) or a node (identity), so it pins both the
    op order and the input numbering; swapping just two op indices breaks it
    for 93 of the first 100 records. ``tests/test_darts_model.py`` re-checks a
    sample of the records.
"""

from __future__ import annotations

import ast
import numbers
import re
from collections.abc import Mapping, Sequence
from typing import Any

from nasframe.core import InvalidArchitecture
from search_spaces.darts.genotype import (
    CELL_TYPES,
    EDGES_PER_CELL,
    NODES,
    NUM_INPUTS,
    NUM_POSSIBLE_EDGES,
    OPS,
    DARTSGenotype,
    edge_index,
)

NB301_PREFIX = "NetworkSelectorDatasetInfo:darts:"
_ARCH_KEY = re.compile(r"(edge|inputs_node)_(normal|reduce)_(\d+)")
_CONCAT = [2, 3, 4, 5]
_GENOTYPE_FIELDS = ("normal", "normal_concat", "reduce", "reduce_concat")


def _invalid(rule: str, detail: str = "") -> InvalidArchitecture:
    return InvalidArchitecture("darts", rule, detail)


# -- NAS-Bench-301 ConfigSpace -------------------------------------------------


def to_nb301_config(genotype: DARTSGenotype) -> dict[str, str]:
    """The NB301 ConfigSpace dictionary of ``genotype`` (prefixed keys).

    It spells the canonical form. NB301's surrogates read the spelling and are
    not invariant to renumbering nodes, so equivalent spellings may get
    slightly different predictions; converting through the genotype always
    queries the same one.
    """
    config: dict[str, str] = {}
    for kind in CELL_TYPES:
        cell = genotype.cell(kind)
        for position in range(0, EDGES_PER_CELL, 2):
            node = NODES[position // 2]
            pair = cell[position : position + 2]
            for op, source in pair:
                config[f"{NB301_PREFIX}edge_{kind}_{edge_index(node, source)}"] = op
            if node > NUM_INPUTS:
                low, high = sorted(source for _, source in pair)
                config[f"{NB301_PREFIX}inputs_node_{kind}_{node}"] = f"{low}_{high}"
    return config


def _architecture_entries(config: Mapping[str, Any]) -> dict[tuple[str, str, int], tuple[str, Any]]:
    """``(field, cell, number) -> (original key, value)`` for the architecture keys."""
    entries: dict[tuple[str, str, int], tuple[str, Any]] = {}
    for key, value in config.items():
        if not isinstance(key, str):
            raise _invalid("NB301 configuration keys are strings", repr(key))
        match = _ARCH_KEY.fullmatch(key.removeprefix(NB301_PREFIX))
        if match is None:
            if ":" in key and not key.rsplit(":", 1)[1].startswith(("edge_", "inputs_node_")):
                continue  # a training hyperparameter of the full NB301 configuration
            raise _invalid("unknown NB301 configuration key", repr(key))
        field, kind, number = match.group(1), match.group(2), int(match.group(3))
        valid = range(NUM_POSSIBLE_EDGES) if field == "edge" else NODES[1:]
        if number not in valid:
            raise _invalid("unknown NB301 configuration key", f"{key!r}: {field} number out of range")
        if (field, kind, number) in entries:
            raise _invalid(
                "NB301 configuration key given twice (prefixed and bare)",
                f"{entries[field, kind, number][0]!r} and {key!r}",
            )
        entries[field, kind, number] = (key, value)
    return entries


def _node_inputs(entries: dict, kind: str, node: int) -> tuple[int, int]:
    if node == NUM_INPUTS:
        return (0, 1)
    if ("inputs_node", kind, node) not in entries:
        raise _invalid("missing NB301 configuration key", f"{NB301_PREFIX}inputs_node_{kind}_{node}")
    key, value = entries["inputs_node", kind, node]
    parts = value.split("_") if isinstance(value, str) else []
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise _invalid("inputs_node values look like '0_1'", f"{key!r}: {value!r}")
    low, high = int(parts[0]), int(parts[1])
    if not 0 <= low < high < node:
        raise _invalid(
            "inputs_node values are two distinct earlier nodes, ascending",
            f"{key!r}: {value!r} for node {node}",
        )
    return low, high


def from_nb301_config(config: Mapping[str, Any]) -> DARTSGenotype:
    """The genotype of an NB301 ConfigSpace dictionary (prefixed or bare keys).

    Every active edge must be present and no inactive one may be (an inactive
    value is how a hand-edited configuration would silently differ from what
    NB301's surrogates read).
    """
    if not isinstance(config, Mapping):
        raise _invalid("an NB301 configuration is a dict", type(config).__name__)
    entries = _architecture_entries(config)
    cells = {}
    for kind in CELL_TYPES:
        cell = []
        active = set()
        for node in NODES:
            for source in _node_inputs(entries, kind, node):
                number = edge_index(node, source)
                active.add(number)
                if ("edge", kind, number) not in entries:
                    raise _invalid(
                        "missing NB301 configuration key (an active edge)",
                        f"{NB301_PREFIX}edge_{kind}_{number}",
                    )
                key, op = entries["edge", kind, number]
                if op not in OPS:
                    raise _invalid("unknown operation", f"{key!r}: {op!r}; allowed: {', '.join(OPS)}")
                cell.append((op, source))
        for field, cell_kind, number in entries:
            if field == "edge" and cell_kind == kind and number not in active:
                raise _invalid(
                    "NB301 configuration sets an inactive edge (its source is not an input of its node)",
                    repr(entries[field, cell_kind, number][0]),
                )
        cells[kind] = tuple(cell)
    return DARTSGenotype(**cells)


# -- DARTS genotype notation -------------------------------------------------


def to_genotype_string(genotype: DARTSGenotype) -> str:
    """DARTS's ``Genotype(...)`` repr, as ``cnn/genotypes.py`` writes it."""
    parts = []
    for kind in CELL_TYPES:
        edges = ", ".join(f"({op!r}, {source})" for op, source in genotype.cell(kind))
        parts.append(f"{kind}=[{edges}], {kind}_concat={_CONCAT}")
    return f"Genotype({', '.join(parts)})"


def _check_concat(value: Any, name: str) -> None:
    if not isinstance(value, (list, tuple, range)) or list(value) != _CONCAT:
        raise _invalid("genotype concat must be [2, 3, 4, 5]", f"{name}={value!r}")


def _concat_literal(node: ast.expr, name: str) -> Any:
    """A concat's value; ``range(a, b)`` is the one call allowed."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "range"
        and not node.keywords
    ):
        bounds = [_literal(a, name) for a in node.args]
        if len(bounds) == 2 and all(isinstance(b, int) for b in bounds):
            return range(*bounds)
    return _literal(node, name)


def _literal(node: ast.expr, name: str) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError):
        raise _invalid("genotype fields must be literals", f"{name}: {ast.unparse(node)}") from None


def parse_genotype_string(text: str) -> DARTSGenotype:
    """Parse ``Genotype(normal=[...], normal_concat=[...], reduce=[...], reduce_concat=[...])``.

    Fields may be keywords or positional in that order; the callee may be
    qualified (``genotypes.Genotype``). Nothing is evaluated.
    """
    if not isinstance(text, str):
        raise _invalid("a genotype string is one Genotype(...) expression", type(text).__name__)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise _invalid(
            "a genotype string is one Genotype(...) expression", f"syntax error: {exc.msg}"
        ) from None
    call = tree.body
    callee = getattr(call, "func", None)
    name = callee.id if isinstance(callee, ast.Name) else getattr(callee, "attr", None)
    if not isinstance(call, ast.Call) or name != "Genotype":
        raise _invalid("a genotype string is one Genotype(...) expression", text[:60])
    if len(call.args) > len(_GENOTYPE_FIELDS):
        raise _invalid("Genotype takes 4 fields", f"{len(call.args)} positional arguments")
    fields = dict(zip(_GENOTYPE_FIELDS, call.args))
    for keyword in call.keywords:
        if keyword.arg not in _GENOTYPE_FIELDS:
            raise _invalid("unknown Genotype field", repr(keyword.arg))
        if keyword.arg in fields:
            raise _invalid("Genotype field given twice", keyword.arg)
        fields[keyword.arg] = keyword.value
    missing = [f for f in _GENOTYPE_FIELDS if f not in fields]
    if missing:
        raise _invalid("missing Genotype field", ", ".join(missing))
    for kind in CELL_TYPES:
        _check_concat(_concat_literal(fields[f"{kind}_concat"], f"{kind}_concat"), f"{kind}_concat")
    return DARTSGenotype(**{kind: _literal(fields[kind], kind) for kind in CELL_TYPES})


def from_darts_genotype(genotype: Any) -> DARTSGenotype:
    """The genotype of a DARTS ``Genotype`` namedtuple (or anything with its four fields)."""
    missing = [f for f in _GENOTYPE_FIELDS if not hasattr(genotype, f)]
    if missing:
        raise _invalid("missing Genotype field", ", ".join(missing))
    for kind in CELL_TYPES:
        _check_concat(getattr(genotype, f"{kind}_concat"), f"{kind}_concat")
    return DARTSGenotype(**{kind: getattr(genotype, kind) for kind in CELL_TYPES})


# -- NASLib compact form -------------------------------------------------------


def to_naslib_compact(genotype: DARTSGenotype) -> tuple[tuple[tuple[int, int], ...], ...]:
    """``((input, op index) x 8 normal, (...) x 8 reduce)`` as NASLib builds it."""
    return tuple(
        tuple((source, OPS.index(op)) for op, source in genotype.cell(kind)) for kind in CELL_TYPES
    )


def from_naslib_compact(compact: str | Sequence[Sequence[Sequence[int]]]) -> DARTSGenotype:
    """The genotype of NASLib's compact form, given as nested sequences or as its string."""
    if isinstance(compact, str):
        try:
            compact = ast.literal_eval(compact.strip())
        except (ValueError, SyntaxError):
            raise _invalid(
                "a NASLib compact string is a literal [[(input, op)...], [...]]", compact[:60]
            ) from None
    if not isinstance(compact, Sequence) or isinstance(compact, str) or len(compact) != len(CELL_TYPES):
        raise _invalid("a NASLib compact architecture has two cells (normal, reduce)", repr(compact)[:60])
    cells = {}
    for kind, edges in zip(CELL_TYPES, compact):
        if not isinstance(edges, Sequence) or len(edges) != EDGES_PER_CELL:
            raise _invalid(
                f"a NASLib compact cell has {EDGES_PER_CELL} (input, op) pairs", f"{kind}: {edges!r}"
            )
        cell = []
        for position, edge in enumerate(edges):
            if not isinstance(edge, Sequence) or len(edge) != 2:
                raise _invalid(
                    "a NASLib compact edge is an (input, op) pair", f"{kind}[{position}]: {edge!r}"
                )
            source, op = edge
            if isinstance(op, bool) or not isinstance(op, numbers.Integral) or not 0 <= op < len(OPS):
                raise _invalid(
                    f"a NASLib op index is an integer in 0..{len(OPS) - 1}", f"{kind}[{position}]: {op!r}"
                )
            cell.append((OPS[int(op)], source))
        cells[kind] = tuple(cell)
    return DARTSGenotype(**cells)


__all__ = [
    "NB301_PREFIX",
    "from_darts_genotype",
    "from_naslib_compact",
    "from_nb301_config",
    "parse_genotype_string",
    "to_genotype_string",
    "to_naslib_compact",
    "to_nb301_config",
]
