"""Reports as a person reads them in a terminal: rich tables for evaluation reports (one and
several labels), the --auto leaderboard and the comparison of approaches, and what ECE means."""

from __future__ import annotations

from typing import Any


def print_multilabel_report(report: dict[str, Any], title: str, console: Any = None) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = console or Console(highlight=False)
    auc = report["mean_roc_auc"]
    console.print(f"[bold]{escape(title)}[/]: {report['n']} texts, micro-F1 {report['micro_f1']:.4f}, "
                  f"macro-F1 {report['macro_f1']:.4f}, mean ROC-AUC "
                  f"{'n/a' if auc is None else f'{auc:.4f}'}, subset accuracy "
                  f"{report['subset_accuracy']:.4f}, Hamming loss {report['hamming_loss']:.4f}",
                  soft_wrap=True)
    table = Table(title_justify="left")
    for name in ("label", "precision", "recall", "f1", "support"):
        table.add_column(name, justify="left" if name == "label" else "right")
    for row in report["per_label"]:
        table.add_row(escape(row["label"]), f"{row['precision']:.3f}", f"{row['recall']:.3f}",
                      f"{row['f1']:.3f}", str(row["support"]))
    console.print(table)
    if report["rows_without_labels"]:
        console.print(f"[dim]{report['rows_without_labels']} rows have no true label[/]")
    if report["unseen_labels"]:
        shown = ", ".join(f"{escape(k)} ({v})" for k, v in list(report["unseen_labels"].items())[:10])
        console.print(f"[yellow]test labels the model never saw: {shown}; they are not scored[/]",
                      soft_wrap=True)


ECE_MEANING = ("ECE, the expected calibration error, is how far the top label's probability is from "
               "how often it is right, averaged over 15 confidence bins: 0 is perfect, 0.10 is 10 points "
               "off.")


def ece_hint(report: dict[str, Any]) -> str:
    """One line to print beside an ECE: how the probabilities were made and, when calibration
    would measurably lower it on these texts (``evaluate.ece.calibrated_ece``: at least 0.02 and a
    quarter lower), what to do. Calibration stays an option: measured on seven sets it lowered ECE
    on six but raised it on sst2, and cost bbc_news 0.23 accuracy points (docs/results.md)."""
    from bertclf.evaluate.ece import MIN_GAIN

    method, ece, after = report.get("calibrated"), report.get("ece"), report.get("ece_if_calibrated")
    if method:
        return f"probabilities calibrated by --calibrate {method} on out-of-fold predictions."
    if ece is not None and after is not None and ece - after >= max(MIN_GAIN, 0.25 * ece):
        return (f"probabilities as the head gives them; calibrated, they would be at about ECE {after:.2f} "
                f"on these texts: train with --calibrate sigmoid.")
    return "probabilities as the head gives them."


def print_report(report: dict[str, Any], title: str = "evaluation", console: Any = None) -> None:
    """Summary line, per-class table and (for up to 12 classes) the confusion matrix, via rich."""
    if report.get("task") == "multi-label":

        return print_multilabel_report(report, title, console)
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = console or Console(highlight=False)
    ece = f", ECE {report['ece']:.4f}" if "ece" in report else ""
    console.print(f"[bold]{escape(title)}[/]: {report['n']} texts, accuracy {report['accuracy']:.4f}, "
                  f"macro-F1 {report['macro_f1']:.4f}{ece}", soft_wrap=True)
    table = Table(title_justify="left")
    for name in ("label", "precision", "recall", "f1", "support"):
        table.add_column(name, justify="left" if name == "label" else "right")
    for row in report["per_class"]:
        unseen = row["label"] in report["unseen_labels"]
        table.add_row(escape(row["label"]) + (" [dim](unseen)[/]" if unseen else ""),
                      f"{row['precision']:.3f}", f"{row['recall']:.3f}", f"{row['f1']:.3f}",
                      str(row["support"]))
    if "ece" in report:

        console.print(f"[dim]{ECE_MEANING}\nECE {report['ece']:.4f}: "
                      f"{ece_hint(report)}[/]", soft_wrap=True)
    console.print(table)
    labels, matrix = report["confusion_matrix"]["labels"], report["confusion_matrix"]["matrix"]
    if len(labels) <= 12:
        # the title is a line of its own: as a table title it would wrap at the narrow table's width
        console.print("confusion matrix (rows: true, columns: predicted)", soft_wrap=True)
        cm = Table()
        cm.add_column("")
        for label in labels:
            cm.add_column(escape(label[:12]), justify="right")
        for i, (label, row) in enumerate(zip(labels, matrix, strict=True)):
            cells = [f"[bold]{v}[/]" if i == j and v else str(v) if v else "[dim]0[/]"
                     for j, v in enumerate(row)]
            cm.add_row(escape(label[:20]), *cells)
        console.print(cm)
    else:
        console.print(f"[dim]confusion matrix: {len(labels)} classes; see --json or --plot[/]")
    if report["unseen_labels"]:
        shown = ", ".join(f"{escape(k)} ({v})" for k, v in list(report["unseen_labels"].items())[:10])
        total = sum(report["unseen_labels"].values())
        console.print(f"[yellow]{total} test rows have labels the model never saw: {shown}; "
                      f"they count as errors[/]", soft_wrap=True)


def print_holdout(holdout: Any, to_stderr: bool = False) -> None:
    """The report of ``search.training.report_holdout`` (on stderr when stdout is kept for --json),
    then the TF-IDF baseline's line."""
    from rich.console import Console

    print_report(holdout.report, title=holdout.title,
                 console=Console(stderr=True, highlight=False) if to_stderr else None)
    scores = holdout.baseline
    if scores is None:
        return
    if "micro_f1" in scores:
        summary = (f"micro-F1 {scores['micro_f1']:.4f}, macro-F1 {scores['macro_f1']:.4f} at a 0.5 "
                   f"cut-off, mean ROC-AUC {scores['mean_roc_auc'] or float('nan'):.4f}")
    else:
        summary = f"accuracy {scores['accuracy']:.4f}, macro-F1 {scores['macro_f1']:.4f}"
    Console(stderr=to_stderr, highlight=False).print(
        f"TF-IDF + logistic regression on the same split: {summary} (trained in "
        f"{scores['train_seconds']:.1f} s)", soft_wrap=True, markup=False)


def saved_line(trained: Any, out: str) -> str:
    """The last line of `train` and `finetune`: what was saved where, and what training took."""
    model, t = trained.model, getattr(trained.model, "training_", None) or {}
    kind = "multi-label " if model.task == "multi-label" else ""
    if "best_epoch" in t and trained.search is None:  # `finetune` (an --auto winner says its name)
        return (f"saved fine-tuned model ({len(model.classes_)} labels, best epoch {t['best_epoch']} of "
                f"{t['epochs_run']}) to {out}; trained on {t['texts']} texts in {trained.seconds:.1f} s")
    return (f"saved {kind}{trained.name} model ({len(model.classes_)} labels, {trained.reads()}) to {out}; "
            f"trained on {trained.texts} texts in {trained.seconds:.1f} s")


def print_leaderboard(result: Any) -> None:
    """The --auto leaderboard of a ``search.space.SearchResult``."""
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True)
    rows = result.leaderboard()
    skipped = [r for r in rows if r["cv_score"] is None]
    if len(skipped) == len(rows):  # the budget fitted no candidate: the warning said so, no empty table
        console.print(f"--auto scored none of its {len(rows)} candidates within its "
                      f"{result.budget_seconds:.0f} s budget "
                      f"({skipped[0]['status'] if skipped else 'no candidates'})", soft_wrap=True)
        return
    spent = (f"{result.seconds:.0f} s of a {result.budget_seconds:.0f} s budget"
             if result.seconds <= result.budget_seconds * 1.05
             else f"{result.seconds:.0f} s, over its {result.budget_seconds:.0f} s budget")
    table = Table(title=f"--auto: {result.folds}-fold cross-validation on TRAIN, {spent}")
    checked = any(r["check_score"] is not None for r in result.leaderboard())
    names = ["#", "candidate", f"CV {result.metric}", "± spread", "folds"] + ["check"] * checked + ["fit s"]
    for name in names:
        table.add_column(name, justify="left" if name == "candidate" else "right")
    for rank, r in enumerate(result.leaderboard(), 1):
        if r["cv_score"] is None:
            continue
        chosen = result.winner is not None and r["candidate"] == result.winner.name
        name = f"[bold]{r['candidate']}[/] (chosen)" if chosen else r["candidate"]
        tuned = r["features"] == "finetune"
        cells = [str(rank), name, "–" if tuned else f"{r['cv_score']:.4f}",
                 f"{r['spread']:.4f}" if r["spread"] is not None else "–", "–" if tuned else str(r["folds"])]
        if checked:
            cells.append(f"{r['check_score']:.4f}" if r["check_score"] is not None else "")
        table.add_row(*cells, f"{r['fit_seconds']:.1f}")
    console.print(table)
    note = _screening_note(rows, result.folds, result.finalists, result.baselines)
    if note:
        console.print(note, soft_wrap=True)
    if result.guarded:
        console.print(result.guarded, soft_wrap=True)
    if skipped:
        many = "s" * (len(skipped) > 1)
        console.print(f"not scored: {len(skipped)} candidate{many} ({skipped[0]['status']})", soft_wrap=True)
    estimate = result.estimate
    if estimate:
        low, high = estimate["interval"]
        why = (f"its CV {estimate['metric']}, {estimate['cv_score']:.4f}, chose it among the others, so "
               f"that one runs high" if result.winner.features != "finetune" else "fine-tuned on the rest")
        if estimate.get("chosen_on_check_rows"):
            why += ("; fine-tuning and the best CV candidate were compared on these texts, so it may run "
                    "a little high")
        console.print(f"Expected {estimate['metric']} on new texts like TRAIN's: "
                      f"[bold]{estimate['score']:.4f}[/] "
                      f"(95% interval {low:.4f}-{high:.4f}), measured on {estimate['texts']} texts set "
                      f"aside before the search ({why}).", soft_wrap=True)


def _screening_note(rows: list[dict[str, Any]], folds: int, finalists: int,
                    baselines: tuple[str, ...]) -> str | None:
    """What the folds column means, true to the folds that ran: a short budget may score every
    candidate, the baselines included, on the first fold alone."""
    scored = [r for r in rows if r["cv_score"] is not None and r["features"] != "finetune"]
    if folds < 2 or not any(r["folds"] == 1 for r in scored):
        return None
    if all(r["folds"] == 1 for r in scored):
        return (f"Every candidate was scored on the first of {folds} folds alone (no budget for the rest); "
                f"the winner is the best there, unless it beats the better baseline by no more than noise.")
    base = [r for r in scored if r["candidate"] in baselines]
    every = all(r["folds"] == folds for r in base) and base
    return (f"Rows with 1 fold were screened on the first fold and did not reach the final {finalists}; the "
            f"winner is the best of those scored on all {folds}, unless it beats the better baseline "
            f"({' or '.join(baselines)}{', scored on every fold' if every else ''}) by no more than noise.")


def print_comparison(rows: list[dict[str, Any]], title: str = "") -> None:
    from rich.console import Console
    from rich.table import Table


    table = Table()
    for name in ("approach", "accuracy", "macro-F1", "train s", "predict/s", "size"):
        table.add_column(name, justify="left" if name == "approach" else "right", no_wrap=True)
    best = max(r["accuracy"] for r in rows)
    shared = max(r["shared_encoder_bytes"] for r in rows)
    for r in rows:
        size = human_bytes(r["size_bytes"]) + ("*" if r["shared_encoder_bytes"] else "")
        accuracy = f"{r['accuracy']:.4f}"
        table.add_row(r["description"], f"[bold]{accuracy}[/]" if r["accuracy"] == best else accuracy,
                      f"{r['macro_f1']:.4f}", f"{r['train_seconds']:,.1f}",
                      f"{r['predict_texts_per_second']:,.0f}", size)
    console = Console()
    if title:
        console.print(title, soft_wrap=True)
    console.print(table)
    if shared:
        console.print(f"* plus the shared encoder it reads ({human_bytes(shared)}), which its folder "
                      f"names rather than copies", soft_wrap=True)


def print_tokens(view: Any, is_pair: bool) -> None:
    """`bertclf tokens`: one row per token, specials and ## pieces coloured, and what was cut."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(highlight=False)
    real = sum(view.attention_mask)
    table = Table(title=f"{real} tokens (max {view.max_length})", title_justify="left")
    for name in ("pos", "token", "id", "segment", "mask"):
        table.add_column(name, justify="right" if name != "token" else "left")
    rows = zip(view.positions, view.tokens, view.ids, view.segment_ids, view.attention_mask,
               view.special, strict=True)
    for pos, tok, tid, seg, mask, special in rows:
        style = "dim" if not mask else "bold cyan" if special else "yellow" if tok.startswith("##") else ""
        shown = f"[{style}]{escape(tok)}[/]" if style else escape(tok)
        table.add_row(str(pos), shown, str(tid), str(seg), str(mask))
    console.print(table)
    if console.is_terminal:
        console.print("[bold cyan]special tokens[/]  [yellow]##continuation pieces[/]  "
                      "[dim]padding (mask 0)[/]")
    for segment, pieces in enumerate(view.cut):
        if pieces:
            name = ("first", "second")[segment] + " segment" if is_pair else "text"
            shown = " ".join(pieces[:20]) + (" ..." if len(pieces) > 20 else "")
            count = f"{len(pieces)} token{'s' if len(pieces) != 1 else ''}"
            console.print(f"cut off by --max-length {view.max_length} from the {name}: "
                          f"{count}: {escape(shown)}")


def print_clusters(described: dict[str, Any], input_path: str) -> None:
    """`bertclf cluster`: size, keywords and typical texts of each cluster, and the agreement
    with known labels."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(highlight=False)
    how = described["algorithm"]
    if described["silhouette_by_k"]:
        best = described["silhouette_by_k"][str(described["k"])]
        how += f", k chosen by silhouette ({best:.3f})"
    table = Table(title=f"{described['k']} clusters of {escape(input_path)} ({how})", title_justify="left")
    for name in ("cluster", "size", "keywords", "nearest the centre"):
        table.add_column(name, justify="right" if name in ("cluster", "size") else "left")
    for c in described["clusters"]:
        table.add_row(str(c["cluster"]), str(c["size"]), escape(", ".join(c["keywords"])),
                      escape("\n".join(c["nearest_texts"])))
    console.print(table)
    scores = described["agreement_with_labels"]
    if scores:
        console.print(f"against the labels: V-measure {scores['v_measure']:.4f}, adjusted Rand "
                      f"{scores['adjusted_rand']:.4f}, NMI {scores['nmi']:.4f}")


def print_audit(found: Any, train_path: str, top: int) -> None:
    """`bertclf audit`: how many rows look mislabelled, and the ``top`` suspects as a table."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    flagged = int(found["issue"].sum())
    console = Console(highlight=False)
    console.print(f"[bold]{flagged} of {len(found)} rows[/] of {escape(train_path)} look mislabelled "
                  f"(another label predicted at least as confidently as that label usually is)",
                  soft_wrap=True)
    if top:
        table = Table(title_justify="left")
        for name in ("row", "given", "suggested", "p(given)", "confidence", "text"):
            table.add_column(name, justify="right" if name in ("row", "p(given)", "confidence") else "left",
                             overflow="fold" if name == "text" else "ellipsis")
        for r in found.head(top).itertuples():
            text = r.text if len(r.text) <= 90 else r.text[:87] + "..."
            mark = "" if r.issue else "[dim]"
            table.add_row(str(r.row), escape(str(r.given)), f"{mark}{escape(str(r.suggested))}",
                          f"{r.p_given:.3f}", f"{r.p_suggested:.3f}", escape(text))
        console.print(table)


def human_bytes(n: int) -> str:
    """1234567 -> '1.2 MB' (decimal units, as disk sizes are quoted)."""
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError  # unreachable
