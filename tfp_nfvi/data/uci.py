"""Tabular regression data for conditional density estimation p(y | x): UCI sets and CSVs.

`load_uci(name, path=None, data_dir=None)` reads one of four UCI benchmarks:

| name         | rows  | x                         | y                                          |
|--------------|-------|---------------------------|--------------------------------------------|
| `fish`       | 908   | 6 molecular descriptors   | `LC50` (1-D)                               |
| `concrete`   | 1,030 | 8 mixture components, age | `compressive_strength` (1-D, MPa)          |
| `energy`     | 768   | `X1`-`X8`                 | `Y1` heating, `Y2` cooling load (2-D)      |
| `skillcraft` | 3,338 | 15 player statistics      | `NumberOfPACs`, `GapBetweenPACs`,          |
|              |       |                           | `ActionLatency`, `ActionsInPAC` (4-D)      |

(QSAR fish toxicity, Cassotti et al. 2015; concrete compressive strength, Yeh 1998; energy
efficiency, Tsanas & Xifara 2012; SkillCraft1, Thompson et al. 2013.) SkillCraft's 3,395
rows include 57 with missing values (`?`, in `Age`, `HoursPerWeek`, `TotalHours`); they
are dropped, as usual, leaving 3,338. `GameID` is an identifier, not an input; every other
column (`LeagueIndex` included) is.

Where the data comes from, in this order:

1. `path`: a CSV file (comma or semicolon separated, with or without a header row), its
   columns in UCI's order; a header with other names than ours (e.g. a spreadsheet's
   "Concrete compressive strength(MPa, megapascals)") is read by position.
2. `data_dir`: a directory holding `fish.csv`, `concrete.csv`, `energy.csv`,
   `skillcraft.csv` (comma separated, with a header row).
3. keras's data set cache, `<keras home>/datasets/uci/<name>.csv` (a copy placed by hand),
   or the UCI repository's own file for `fish` and `skillcraft` (text files, downloaded once
   with `keras.utils.get_file` to `<keras home>/datasets/uci/<name>.csv`, so that folder
   serves as a `data_dir`). The UCI repository
   publishes no checksums, and none of its files could be fetched where this was written,
   so these downloads are not hash-checked. `concrete` and `energy` are published only as
   Excel spreadsheets (.xls, .xlsx); reading them needs a library this package does not
   depend on (xlrd, openpyxl), so for those two save the sheet as CSV and pass `path` or
   `data_dir`.

`load_csv(path, targets, inputs=None)` reads any CSV with a header row the same way, with y
the named target columns (the `cde` command's `--dataset=PATH --targets=col1,col2`).

Both return a `TabularData`: float64 arrays x [N, D_x] and y [N, D_y] with their column
names, in file order. Rows holding a missing value (`?`, `NA`, `NaN` or an empty field) in a
used column are dropped and counted.
"""

import csv
import dataclasses
import io
import math
import os
from typing import Optional, Tuple

import numpy as np

from tfp_nfvi.data import cache

MISSING = ("?", "", "na", "nan", "n/a", "null")


@dataclasses.dataclass(frozen=True, eq=False)  # Arrays have no single truth value.
class TabularData:
    """Inputs and targets of a regression data set.

    Attributes:
        x: float64 [N, D_x] inputs.
        y: float64 [N, D_y] targets.
        x_names, y_names: the column names of x and y.
        source: the file read.
        dropped_rows: rows left out because a used column held a missing value.
    """

    x: np.ndarray
    y: np.ndarray
    x_names: Tuple[str, ...]
    y_names: Tuple[str, ...]
    source: str
    dropped_rows: int = 0


@dataclasses.dataclass(frozen=True)
class _UciSet:
    columns: Tuple[str, ...]  # The file's columns, in order (used when it has no header).
    targets: Tuple[str, ...]
    excluded: Tuple[str, ...] = ()  # Neither input nor target.
    url: Optional[str] = None  # A text file of the UCI repository, if it has one.
    spreadsheet: Optional[str] = None  # What UCI publishes instead, when no text file.


_UCI = {
    "fish": _UciSet(
        columns=("CIC0", "SM1_Dz", "GATS1i", "NdsCH", "NdssC", "MLOGP", "LC50"),
        targets=("LC50",),
        url="https://archive.ics.uci.edu/ml/machine-learning-databases/00504/"
            "qsar_fish_toxicity.csv"),  # Semicolons, no header.
    "concrete": _UciSet(
        columns=("cement", "blast_furnace_slag", "fly_ash", "water", "superplasticizer",
                 "coarse_aggregate", "fine_aggregate", "age_days", "compressive_strength"),
        targets=("compressive_strength",),
        spreadsheet="https://archive.ics.uci.edu/ml/machine-learning-databases/concrete/"
                    "compressive/Concrete_Data.xls"),
    "energy": _UciSet(
        columns=tuple(f"X{i}" for i in range(1, 9)) + ("Y1", "Y2"),
        targets=("Y1", "Y2"),
        spreadsheet="https://archive.ics.uci.edu/ml/machine-learning-databases/00242/"
                    "ENB2012_data.xlsx"),
    "skillcraft": _UciSet(
        columns=("GameID", "LeagueIndex", "Age", "HoursPerWeek", "TotalHours", "APM",
                 "SelectByHotkeys", "AssignToHotkeys", "UniqueHotkeys", "MinimapAttacks",
                 "MinimapRightClicks", "NumberOfPACs", "GapBetweenPACs", "ActionLatency",
                 "ActionsInPAC", "TotalMapExplored", "WorkersMade", "UniqueUnitsMade",
                 "ComplexUnitsMade", "ComplexAbilitiesUsed"),
        targets=("NumberOfPACs", "GapBetweenPACs", "ActionLatency", "ActionsInPAC"),
        excluded=("GameID",),
        url="https://archive.ics.uci.edu/ml/machine-learning-databases/00272/"
            "SkillCraft1_Dataset.csv"),
}
UCI_DATASETS = tuple(_UCI)
CACHE_SUBDIR = "uci"


def load_uci(name, path=None, data_dir=None):
    """Loads a UCI benchmark (see the module docstring) as `TabularData`.

    Args:
        name: "fish", "concrete", "energy" or "skillcraft".
        path: a CSV file of that data set (header row optional; the columns in UCI's order).
        data_dir: a directory holding `<name>.csv`; used when `path` is None.

    Raises:
        ValueError: an unknown name, or a file with other columns than the data set's.
        FileNotFoundError: the file named is missing, or no copy is found and none can be
            downloaded (the message says where to put one).
    """
    if name not in _UCI:
        raise ValueError(f"`name` must be one of {UCI_DATASETS}; got {name!r}.")
    spec = _UCI[name]
    if path is None and data_dir is not None:
        path = os.path.join(os.fspath(data_dir), f"{name}.csv")
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"`data_dir` {os.fspath(data_dir)!r} holds no {name}.csv; it must hold the "
                f"files {[f'{n}.csv' for n in UCI_DATASETS]} (comma separated, header row).")
    if path is None:
        path = _cached_or_downloaded(name, spec)
    header, rows = _read_table(path)
    if len(rows[0]) != len(spec.columns):
        raise ValueError(
            f"{path} must have the {len(spec.columns)} columns of the {name} data set "
            f"{list(spec.columns)}; got {len(rows[0])} columns"
            f"{' ' + str(list(header)) if header else ''}.")
    if header is None or set(h.strip() for h in header) != set(spec.columns):
        header = spec.columns  # By position (see the module docstring).
    header = tuple(h.strip() for h in header)
    inputs = [c for c in header if c not in spec.targets and c not in spec.excluded]
    return _select(path, header, rows, inputs, spec.targets)


def load_csv(path, targets, inputs=None):
    """Loads a CSV file with a header row as `TabularData`.

    Args:
        path: the file; comma, semicolon or tab separated; the first row names the columns.
        targets: the names of the y columns (a sequence, or a comma-separated string).
        inputs: the names of the x columns; default every column that is not a target.

    Raises:
        ValueError: no header row, unknown column names, non-numeric values.
    """
    path = os.fspath(path)
    targets = _names(targets, "targets")
    header, rows = _read_table(path)
    if header is None:
        raise ValueError(
            f"{path} must start with a header row naming its columns (to pick the targets "
            f"{list(targets)}); its first row is all numbers.")
    inputs = [c for c in header if c not in targets] if inputs is None else _names(
        inputs, "inputs")
    for arg, names in (("targets", targets), ("inputs", inputs)):
        unknown = [c for c in names if c not in header]
        if unknown:
            raise ValueError(
                f"`{arg}` names columns {unknown} that {path} does not have; its columns are "
                f"{list(header)}.")
    if not inputs:
        raise ValueError(f"{path} has no input columns besides the targets {list(targets)}.")
    return _select(path, header, rows, inputs, targets)


def _names(value, arg):
    names = tuple(n.strip() for n in value.split(",")) if isinstance(value, str) else tuple(value)
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"`{arg}` must name at least one column; got {value!r}.")
    return names


def _cached_or_downloaded(name, spec):
    cached = cache.find_cached(CACHE_SUBDIR, f"{name}.csv")
    if cached is not None:
        return cached
    if spec.url is None:
        raise FileNotFoundError(
            f"The {name} data set is published by UCI only as a spreadsheet "
            f"({spec.spreadsheet}), which needs a library this package does not depend on "
            f"to read. Save its sheet as CSV (header row, comma separated) and pass "
            f"`path=`, or `data_dir=` a directory holding {name}.csv, or put it at "
            f"{cache.cached_paths(CACHE_SUBDIR, name + '.csv')[0]}.")
    # No file_hash: the UCI repository publishes none (see the module docstring).
    return cache.download(f"{name}.csv", spec.url, subdir=CACHE_SUBDIR,
                          what=f"the UCI {name} data set")


def _read_table(path):
    """(header or None, rows of strings) of a delimited text file; blank rows skipped."""
    path = os.fspath(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            text = f.read()
    except UnicodeDecodeError as e:
        raise ValueError(f"{path} is not a text (CSV) file; it may be corrupt: {e}") from e
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count)
    rows = [r for r in csv.reader(io.StringIO(text), delimiter=delimiter)
            if any(field.strip() for field in r)]
    if not rows:
        raise ValueError(f"{path} holds no rows.")
    header = None if all(_is_number(f) for f in rows[0]) else tuple(f.strip() for f in rows[0])
    rows = rows[1:] if header is not None else rows
    width = len(header) if header is not None else len(rows[0])
    for number, row in enumerate(rows, start=2 if header is not None else 1):
        if len(row) != width:
            raise ValueError(
                f"{path}, row {number}: expected {width} fields; got {len(row)}. The file is "
                f"corrupt or truncated, or not a table.")
    return header, rows


def _is_number(field):
    try:
        return math.isfinite(float(field))
    except ValueError:
        return False


def _select(path, header, rows, inputs, targets):
    """x, y as float64 from `rows` (string fields), dropping rows with a missing value."""
    used = [header.index(c) for c in tuple(inputs) + tuple(targets)]
    table, dropped = [], 0
    for number, row in enumerate(rows):
        fields = [row[i].strip() for i in used]
        if any(f.lower() in MISSING for f in fields):
            dropped += 1
            continue
        try:
            table.append([float(f) for f in fields])
        except ValueError:
            bad = next(f for f in fields if not _is_number(f))
            raise ValueError(
                f"{path}: data row {number + 1} holds {bad!r}, neither a number nor a missing "
                f"value {list(MISSING)}.") from None
    if not table:
        raise ValueError(f"{path}: no row is complete in the columns {used}.")
    table = np.asarray(table, np.float64)
    if not np.isfinite(table).all():
        raise ValueError(f"{path} holds infinite values.")
    return TabularData(x=table[:, :len(inputs)], y=table[:, len(inputs):],
                       x_names=tuple(inputs), y_names=tuple(targets), source=str(path),
                       dropped_rows=dropped)
