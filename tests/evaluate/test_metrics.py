import io

from rich.console import Console

from bertclf.evaluate.metrics import evaluate_predictions
from bertclf.render.console import print_report
from bertclf.render.figures import plot_confusion


def test_report_numbers():
    report = evaluate_predictions(["a", "a", "b", "b"], ["a", "b", "b", "b"], ["a", "b"])
    assert report["accuracy"] == 0.75
    per_class = {row["label"]: row for row in report["per_class"]}
    assert per_class["a"]["recall"] == 0.5 and per_class["b"]["precision"] == 2 / 3
    assert report["confusion_matrix"] == {"labels": ["a", "b"], "matrix": [[1, 1], [0, 2]]}
    assert abs(report["macro_f1"] - (2 / 3 + 0.8) / 2) < 1e-12


def test_unseen_test_labels_are_reported_not_fatal():
    report = evaluate_predictions(["a", "b", "new", "new"], ["a", "b", "a", "b"], ["a", "b"])
    assert report["unseen_labels"] == {"new": 2}
    assert report["confusion_matrix"]["labels"] == ["a", "b", "new"]
    assert report["accuracy"] == 0.5
    out = io.StringIO()
    print_report(report, console=Console(file=out, width=120))
    assert "2 test rows have labels the model never saw: new (2)" in out.getvalue()


def test_labels_compare_by_text():
    report = evaluate_predictions(["0", "1"], [0, 1], [0, 1])  # CSV strings vs a JSON-trained model
    assert report["accuracy"] == 1.0 and not report["unseen_labels"]


def test_plot_writes_a_png(tmp_path):
    report = evaluate_predictions(["a", "b"] * 20, ["a", "b"] * 19 + ["b", "a"], ["a", "b"])
    plot_confusion(report, tmp_path / "cm.png", title="test")
    assert (tmp_path / "cm.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    many = [f"class {i}" for i in range(50)]
    plot_confusion(evaluate_predictions(many, many, many), tmp_path / "big.png")
    assert (tmp_path / "big.png").stat().st_size > 1000
