"""Tests for the UCI and CSV regression loaders, on ../shared/data/uci and small files."""

import dataclasses

import numpy as np
import pytest

from tfp_nfvi import data
from tfp_nfvi.data import uci

# ../shared/data/README.md: rows in the file, and the target means it gives.
_README = {
    "fish": (908, 6, {"LC50": 4.0644}),
    "concrete": (1030, 8, {"compressive_strength": 35.818}),
    "energy": (768, 8, {"Y1": 22.307, "Y2": 24.588}),
    "skillcraft": (3395, 15, {}),
}


@pytest.mark.parametrize("name", sorted(_README))
def test_shared_files_rows_and_target_means(uci_dir, name):
    rows, num_inputs, means = _README[name]
    d = data.load_uci(name, data_dir=uci_dir)
    assert d.x.dtype == np.float64 and d.y.dtype == np.float64
    assert d.x.shape == (rows - d.dropped_rows, num_inputs)
    assert d.y.shape == (len(d.x), len(d.y_names)) and len(d.x_names) == num_inputs
    assert np.isfinite(d.x).all() and np.isfinite(d.y).all()
    for column, mean in means.items():
        # The README rounds to 5 significant digits.
        np.testing.assert_allclose(d.y[:, d.y_names.index(column)].mean(), mean, rtol=2e-5)


def test_skillcraft_drops_the_rows_with_missing_values(uci_dir):
    d = data.load_uci("skillcraft", data_dir=uci_dir)
    assert d.dropped_rows == 57 and len(d.x) == 3338
    assert d.y_names == ("NumberOfPACs", "GapBetweenPACs", "ActionLatency", "ActionsInPAC")
    assert "GameID" not in d.x_names and d.x_names[:2] == ("LeagueIndex", "Age")
    text = (uci_dir / "skillcraft.csv").read_text().splitlines()[1:]
    complete = [line for line in text if "?" not in line]
    assert len(complete) == 3338
    # The kept rows are the complete ones, in file order: compare the first and last.
    first, last = (np.array(line.split(","), float) for line in (complete[0], complete[-1]))
    np.testing.assert_array_equal(d.x[0], first[1:11].tolist() + first[15:].tolist())
    np.testing.assert_array_equal(d.y[-1], last[11:15])


def test_uci_layout_without_header_and_semicolons(uci_dir, tmp_path):
    # The UCI repository's fish file: semicolons, no header row.
    shared = data.load_uci("fish", data_dir=uci_dir)
    table = np.concatenate([shared.x, shared.y], axis=1)
    (tmp_path / "qsar.csv").write_text(
        "\n".join(";".join(repr(float(v)) for v in row) for row in table) + "\n")
    d = data.load_uci("fish", path=tmp_path / "qsar.csv")
    np.testing.assert_array_equal(d.x, shared.x)
    np.testing.assert_array_equal(d.y, shared.y)
    assert d.x_names == shared.x_names and d.y_names == ("LC50",)


def test_spreadsheet_headers_are_read_by_position(uci_dir, tmp_path):
    lines = (uci_dir / "concrete.csv").read_text().splitlines()
    header = ",".join(f'"Component {i} (kg in a m^3 mixture)"' for i in range(8))
    (tmp_path / "c.csv").write_text(
        header + ',"Concrete compressive strength(MPa, megapascals)"\n'
        + "\n".join(lines[1:]) + "\n\n")
    d = data.load_uci("concrete", path=tmp_path / "c.csv")
    shared = data.load_uci("concrete", data_dir=uci_dir)
    np.testing.assert_array_equal(d.y, shared.y)
    assert d.y_names == ("compressive_strength",)


def test_generic_csv_with_named_targets(uci_dir):
    d = data.load_csv(uci_dir / "energy.csv", targets="Y2,Y1")
    energy = data.load_uci("energy", data_dir=uci_dir)
    assert d.y_names == ("Y2", "Y1") and d.x_names == energy.x_names
    np.testing.assert_array_equal(d.y, energy.y[:, ::-1])
    np.testing.assert_array_equal(d.x, energy.x)
    subset = data.load_csv(uci_dir / "energy.csv", targets=["Y1"], inputs=["X5", "X1"])
    np.testing.assert_array_equal(subset.x, energy.x[:, [4, 0]])


def test_generic_csv_drops_only_rows_missing_a_used_column(tmp_path):
    (tmp_path / "m.csv").write_text("a,b,y,unused\n1,2,3,?\n?,2,3,4\n1,,3,4\n4,5,NA,1\n7,8,9,\n")
    d = data.load_csv(tmp_path / "m.csv", targets=["y"], inputs=["a", "b"])
    np.testing.assert_array_equal(d.x, [[1, 2], [7, 8]])
    np.testing.assert_array_equal(d.y, [[3], [9]])
    assert d.dropped_rows == 3


@pytest.mark.parametrize("text, kwargs, pattern", [
    ("a,b\n1,2\n", dict(targets="c"), r"`targets` names columns \['c'\] that .* does not have; "
                                      r"its columns are \['a', 'b'\]"),
    ("1,2\n3,4\n", dict(targets="a"), r"must start with a header row"),
    ("a,b\n1,2\n3\n", dict(targets="b"), r"row 3: expected 2 fields; got 1.*corrupt or truncated"),
    ("a,b\n1,x\n", dict(targets="b"), r"data row 1 holds 'x', neither a number nor a missing"),
    ("a,b\n1,2\n", dict(targets=""), r"`targets` must name at least one column"),
    ("a,b\n1,2\n", dict(targets="a,b"), r"no input columns besides the targets"),
], ids=["unknown_target", "no_header", "ragged", "text_value", "no_targets", "no_inputs"])
def test_csv_errors(tmp_path, text, kwargs, pattern):
    (tmp_path / "t.csv").write_text(text)
    with pytest.raises(ValueError, match=pattern):
        data.load_csv(tmp_path / "t.csv", **kwargs)


def test_uci_errors(tmp_path, uci_dir, monkeypatch):
    with pytest.raises(ValueError, match=r"`name` must be one of \('fish', 'concrete', "
                       r"'energy', 'skillcraft'\); got 'boston'"):
        data.load_uci("boston")
    with pytest.raises(ValueError, match=r"energy\.csv must have the 7 columns of the fish data "
                       r"set.*got 10 columns"):
        data.load_uci("fish", path=uci_dir / "energy.csv")
    with pytest.raises(FileNotFoundError, match=r"`data_dir` .* holds no fish\.csv"):
        data.load_uci("fish", data_dir=tmp_path)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"published by UCI only as a spreadsheet.*"
                       r"Concrete_Data\.xls.*Save its sheet as CSV.*datasets/uci/concrete\.csv"):
        data.load_uci("concrete")


def test_keras_cache_and_download(tmp_path, uci_dir, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    # A download (from a file:// copy; the tests never use the network).
    spec = dataclasses.replace(uci._UCI["skillcraft"],  # pylint: disable=protected-access
                               url=f"file://{uci_dir}/skillcraft.csv")
    monkeypatch.setitem(uci._UCI, "skillcraft", spec)  # pylint: disable=protected-access
    d = data.load_uci("skillcraft")
    assert d.source == str(tmp_path / "home" / "datasets" / "uci" / "skillcraft.csv")
    assert len(d.x) == 3338
    # A copy placed by hand in the cache under the data set's name.
    (tmp_path / "home" / "datasets" / "uci" / "energy.csv").write_text(
        (uci_dir / "energy.csv").read_text())
    assert data.load_uci("energy").y.shape == (768, 2)
    spec = dataclasses.replace(spec, url=f"file://{tmp_path}/gone.csv")
    monkeypatch.setitem(uci._UCI, "fish", spec)  # pylint: disable=protected-access
    with pytest.raises(FileNotFoundError, match=r"Could not download the UCI fish data set"):
        data.load_uci("fish")
