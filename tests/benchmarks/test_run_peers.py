"""The benchmark driver's bookkeeping: the median of rounds and the table it makes."""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
_env = dict(os.environ)
from peers import run_peers  # noqa: E402  (pins the benchmark's thread variables...)
os.environ.clear()
os.environ.update(_env)  # ...which the rest of the test session must not see


def test_median_round_keeps_the_whole_median_run_and_lists_every_round():
    rounds = [{"epoch_median_s": 14.0, "test_acc": 0.1}, {"epoch_median_s": 10.9, "test_acc": 0.2},
              {"epoch_median_s": 11.2, "test_acc": 0.3}]
    best = run_peers.median_round(rounds, "epoch_median_s")
    assert best["epoch_median_s"] == 11.2 and best["test_acc"] == 0.3
    assert best["rounds_epoch_median_s"] == [14.0, 10.9, 11.2]
    assert "rounds_epoch_median_s" not in rounds[2]  # the inputs are left alone


def test_median_round_skips_failed_rounds_and_returns_a_failure_when_all_failed():
    ok = {"images_per_s": 5.0}
    assert run_peers.median_round([{"error": "exit 1"}, ok], "images_per_s")["images_per_s"] == 5.0
    assert run_peers.median_round([{"error": "exit 1"}], "images_per_s") == {"error": "exit 1"}


def test_even_round_counts_report_the_lower_middle_round():
    rounds = [{"call_us": v} for v in (4.0, 1.0, 3.0, 2.0)]
    assert run_peers.median_round(rounds, "call_us")["call_us"] == 2.0


def test_the_table_shows_every_round_when_there_were_several():
    r = run_peers.median_round([{"epoch_median_s": 2.0}, {"epoch_median_s": 1.0},
                                {"epoch_median_s": 3.0}], "epoch_median_s")
    table = run_peers.make_table({"cnn": {"nnthe": r}}, ["nnthe"])
    assert "| cnn | epoch s (median step × 468) | 2.00 |" in table
    assert "each round" in table and "2.00 / 1.00 / 3.00" in table
    single = run_peers.make_table({"cnn": {"nnthe": {"epoch_median_s": 2.0}}}, ["nnthe"])
    assert "each round" not in single
