"""Bad command-line input: one line ``error: ...`` naming the problem, exit status 2, no traceback.

Every case is refused before the command's expensive work: several name a
data file that does not exist, so a command that loaded or trained before
checking its options would fail on the file instead of the option asserted
here. Bugs (any other exception) keep their traceback; ``--debug`` shows one
for user errors too.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from nasframe.cli import main
from tests.conftest import shared_file

MISSING = "/nonexistent/results.json"
NB101_RAGGED = json.dumps({"space": "nb101", "matrix": [[0, 1, 1], [0, 0], [0, 0, 0]],
                           "ops": ["input", "conv1x1-bn-relu", "output"]})
QUICK = ["--task", "digits", "--recipe", "epochs=1"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Broken inputs: a plain file where a folder is expected, a truncated .xlsx, an empty tfrecord,
    a 0-byte checkpoint and a corrupt NB101 index."""
    root = tmp_path_factory.mktemp("bad-inputs")
    (root / "a-file").write_text("not a folder")
    (root / "truncated.xlsx").write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    (root / "empty.tfrecord").write_bytes(b"")
    (root / "checkpoint").mkdir()
    (root / "checkpoint" / "trainer-state.pt").write_bytes(b"")
    (root / "cache").mkdir()
    (root / "cache" / "nb101_index.npz").write_bytes(b"garbage" * 100)
    return root


def cases(root):
    """(id, argv, words the error line must contain); ``{root}`` is the fixture folder."""
    under_file = f"{root}/a-file/out"
    return [
        ("sample-negative", ["space", "sample", "nb101", "-n", "-3"], "'-n'"),
        ("hash-ragged", ["space", "hash", "nb101", "--arch", NB101_RAGGED], "not a nb101 architecture"),
        ("hash-not-json", ["space", "hash", "nb101", "--arch", "{"], "not JSON"),
        ("unknown-space", ["space", "sample", "nope"], "unknown search space 'nope'"),
        ("unknown-command", ["nope"], "No such command"),
        ("search-batch-0", ["search", "--batch-size", "0"], "'--batch-size'"),
        ("search-budget-negative", ["search", "--budget", "-1"], "'--budget'"),
        ("search-unknown-searcher", ["search", "--searcher", "nope"], "unknown searcher 'nope'"),
        ("search-unknown-benchmark", ["search", "--benchmark", "nope"], "unknown benchmark 'nope'"),
        ("search-budget-over-space", ["search", "--benchmark", "nbgraph-cora", "--budget", "30000",
                                      "--out", f"{root}/s"], "more than the 26,206 architectures"),
        ("search-out-under-file", ["search", "--benchmark", "nbgraph-cora", "--budget", "5", "--out", under_file],
         "is not a folder"),
        ("train-mnas", ["train", "--space", "mnas", *QUICK], "no network to train"),
        ("train-nbgraph", ["train", "--space", "nbgraph", *QUICK], "no network to train"),
        ("train-darts-one-layer", ["train", "--space", "darts", *QUICK], "'layers'=1"),
        ("train-lr-inf", ["train", "--recipe", "lr=inf", *QUICK], "'lr'=inf"),
        ("train-lr-nan", ["train", "--recipe", "lr=nan", *QUICK], "'lr'=nan"),
        ("train-augment-maybe", ["train", "--recipe", "augment=maybe", *QUICK], "'maybe' is not true or false"),
        ("train-unknown-field", ["train", "--recipe", "epoch=3", *QUICK], "epoch=3"),
        ("train-image-size-memory", ["train", "--recipe", "image_size=100000", *QUICK], "GiB to train"),
        ("train-ragged-arch", ["train", "--arch", NB101_RAGGED, *QUICK], "not a nb101 architecture"),
        ("train-checkpoint-under-file", ["train", "--checkpoint", under_file, *QUICK], "--checkpoint"),
        ("train-0-byte-checkpoint", ["train", "--checkpoint", f"{root}/checkpoint", *QUICK],
         "not a readable checkpoint"),
        ("importance-truncated-xlsx", ["bpe", "importance", "--data", f"{root}/truncated.xlsx"], "truncated.xlsx"),
        ("importance-seeds-0", ["bpe", "importance", "--data", f"{root}/truncated.xlsx", "--seeds", "0"], "'--seeds'"),
        ("bpe-archs-0", ["bpe", "search", "--archs", "0", "--out", f"{root}/b"], "'--archs'"),
        ("bpe-archs-1", ["bpe", "search", "--archs", "1", "--out", f"{root}/b"], "'--archs'"),
        ("bpe-budget-negative", ["bpe", "search", "--budget", "-1", "--out", f"{root}/b"], "'--budget'"),
        ("bpe-full-fraction", ["bpe", "search", "--task", "digits", "--full", "data_fraction=0.02",
                               "--out", f"{root}/b"], "data_fraction=0.02 leaves BPE nothing cheaper"),
        ("bpe-out-under-file", ["bpe", "search", "--task", "digits", "--out", under_file], "is not a folder"),
        ("bpe-apply-unknown-searcher", ["bpe", "apply", "--out", str(root), "--searcher", "nope"],
         "unknown searcher 'nope'"),
        ("query-seed-without-noise", ["benchmark", "query", "nbgraph-cora", "--arch", "{}", "--seed", "3"],
         "--seed only applies"),
        ("query-unknown-fidelity", ["benchmark", "query", "nbgraph-cora", "--arch", "{}", "--fidelity", "7"],
         "Invalid value for --fidelity"),
        ("query-bad-arch", ["benchmark", "query", "nbgraph-cora", "--arch", '{"link": [0], "ops": []}'],
         "architecture 1"),
        ("build-unknown-surrogate", ["benchmark", "build", "--data", MISSING, "--format", "nb101-json",
                                     "--surrogate", "foo", "--out", f"{root}/m"], "unknown surrogate family 'foo'"),
        ("build-members-0", ["benchmark", "build", "--data", MISSING, "--format", "nb101-json", "--members", "0",
                             "--out", f"{root}/m"], "'--members'"),
        ("build-unknown-format", ["benchmark", "build", "--data", MISSING, "--format", "nope", "--out", f"{root}/m"],
         "unknown format 'nope'"),
        ("build-out-under-file", ["benchmark", "build", "--data", MISSING, "--format", "nb101-json",
                                  "--out", under_file], "is not a folder"),
        ("build-empty-tfrecord", ["benchmark", "build", "--data", f"{root}/empty.tfrecord",
                                  "--format", "nb101-tfrecord", "--out", f"{root}/m"], "holds no records"),
        ("embed-out-under-file", ["embed", "train", "--archs", "10", "--out", under_file], "is not a folder"),
    ]


def assert_one_line_error(result, words: str) -> None:
    """Exit status 2, exactly one ``error:`` line containing ``words``, no traceback, no quoted KeyError repr."""
    output = result.output
    errors = [line for line in output.splitlines() if line.startswith("error: ")]
    assert result.exit_code == 2, output
    assert len(errors) == 1 and words in errors[0], output
    assert output.rstrip().splitlines()[-1] == errors[0], output
    assert "Traceback" not in output and "error: \"" not in output and "'unknown" not in output, output


def test_bad_inputs_are_one_line_errors(files, monkeypatch):
    monkeypatch.setenv("NASFRAME_CACHE", str(files / "cache"))
    runner = CliRunner()
    failed = []
    for name, argv, words in cases(files):
        result = runner.invoke(main, argv)
        try:
            assert_one_line_error(result, words)
        except AssertionError as exc:
            failed.append(f"{name}: {exc}")
    assert not failed, "\n".join(failed)
    assert not (files / "m").exists() and not (files / "s").exists()  # refused before anything was written


def test_data_files_too_small_for_a_benchmark(tmp_path):
    """A result file with too few architectures, or without the fidelity asked for, is refused before fitting."""
    records = json.loads(shared_file("nb101/nb101_1k_with_specs.json").read_text())
    few = tmp_path / "three.json"
    few.write_text(json.dumps(records[:3] if isinstance(records, list) else
                              {k: v[:3] for k, v in records.items()}))
    runner = CliRunner()
    for argv, words in ((["--epochs", "7"], "no results at 7 epochs"), ([], "too few to split")):
        result = runner.invoke(main, ["benchmark", "build", "--data", str(few), "--format", "nb101-json",
                                      "--out", str(tmp_path / "out"), *argv])
        assert_one_line_error(result, words)


def test_corrupt_index_is_an_error_to_readers(files, monkeypatch):
    """A command that reads the NB101 index names the corrupt file and how to rebuild it."""
    monkeypatch.setenv("NASFRAME_CACHE", str(files / "cache"))
    result = CliRunner().invoke(main, ["embed", "train", "--all", "--out", str(files / "e")])
    assert_one_line_error(result, "nasframe space enumerate nb101")


def test_debug_shows_the_traceback_of_a_user_error():
    result = CliRunner().invoke(main, ["--debug", "train", "--recipe", "lr=inf", "--task", "digits"])
    assert result.exit_code == 1 and type(result.exception).__name__ == "RecipeError"


def test_a_bug_keeps_its_traceback(monkeypatch):
    def broken(name):
        raise RuntimeError("a bug")

    monkeypatch.setattr("nasframe.cli.spaces.load_space", broken)
    result = CliRunner().invoke(main, ["spaces"])
    assert result.exit_code == 1 and isinstance(result.exception, RuntimeError)


def test_space_sample_lines_are_query_input_and_summary_is_strict_json(tmp_path):
    runner = CliRunner()
    sampled = runner.invoke(main, ["space", "sample", "nbgraph", "-n", "3", "--seed", "1"])
    assert sampled.exit_code == 0, sampled.output
    (tmp_path / "archs.jsonl").write_text(sampled.output)
    queried = runner.invoke(main, ["benchmark", "query", "nbgraph-cora", "--archs", str(tmp_path / "archs.jsonl")])
    assert queried.exit_code == 0, queried.output
    hashes = [json.loads(line)["hash"] for line in queried.output.splitlines() if line.startswith("{")]
    assert hashes == [json.loads(line)["hash"] for line in sampled.output.splitlines()]

    searched = runner.invoke(main, ["search", "--benchmark", "nbgraph-cora", "--searcher", "random", "--budget", "5",
                                    "--out", str(tmp_path / "run")])
    assert searched.exit_code == 0, searched.output

    def no_constants(name):
        raise AssertionError(f"summary.json holds {name}")

    json.loads((tmp_path / "run" / "summary.json").read_text(), parse_constant=no_constants)
    listed = runner.invoke(main, ["searchers"])
    assert listed.exit_code == 0 and "evolution" in listed.output.split()
