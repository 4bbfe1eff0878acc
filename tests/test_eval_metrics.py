"""Evaluation metrics against hand-computed examples, and the bootstrap comparison.

Also the builders of synthetic reports and runs that the other ``test_eval_*`` modules use.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score  # type: ignore[import-untyped]

from assessor.evaluation.compare import BootstrapUnit, compare
from assessor.evaluation.datasets import CriterionLabel, Dataset, DossierLabels, GoldEvidence
from assessor.evaluation.metrics import (
    COMPARED,
    REVIEW,
    EvaluationError,
    Item,
    ItemArrays,
    citation_matches,
    compute,
    evaluate,
    kappa_from_matrix,
    length_bucket,
    make_item,
    quotes_overlap,
    weighted_metrics,
)
from assessor.evaluation.runs import Run, RunRecord
from assessor.results import (
    Citation,
    CriterionResult,
    DossierFileRef,
    DossierRef,
    Mode,
    ReferentialRef,
    Report,
    Status,
    Usage,
)

LEVELS3 = ("acquis", "partiellement_acquis", "non_acquis")
LABELS = {
    "acquis": "Acquis",
    "partiellement_acquis": "Partiellement acquis",
    "non_acquis": "Non acquis",
    "preuves_insuffisantes": "Preuves insuffisantes",
    "non_evaluable_ecrit": "Non évaluable sur pièces écrites",
    "a_examiner": "À examiner",
}
SHA = "ab" * 32


# --- Builders (used by the other test_eval_* modules) ------------------------------------------


def citation(quote: str, page: int = 3, *, verified: bool = True, locator: str | None = None) -> Citation:
    return Citation(
        chunk_id=f"{SHA[:12]}-p{page:03d}-000000",
        file="dossier.pdf",
        page=page,
        locator=locator or f"page {page}",
        quote=quote,
        verified=verified,
        verification="test",
    )


def result(
    criterion_id: str,
    outcome: str,
    *,
    status: Status = Status.PROPOSED,
    citations: list[Citation] | None = None,
    evidence_pages: list[int] | None = None,
    block: str = "B1",
) -> CriterionResult:
    return CriterionResult(
        criterion_id=criterion_id,
        criterion_text=f"Texte du critère {criterion_id}",
        block=block,
        outcome=outcome,
        rationale="test",
        citations=citations or [],
        evidence_ids=[f"{SHA[:12]}-p{p:03d}-000000" for p in evidence_pages or []],
        status=status,
        model="test",
    )


def report(
    dossier_id: str,
    results: list[CriterionResult],
    *,
    pages: int = 15,
    cost: float = 0.0,
    calls: int = 0,
    referential: str = "ref",
    seconds: float = 1.0,
) -> Report:
    return Report(
        dossier=DossierRef(id=dossier_id, files=[DossierFileRef(name="dossier.pdf", sha256=SHA, pages=pages)]),
        referential=ReferentialRef(
            id=referential, version="1", title="Référentiel", blocks=sorted({r.block for r in results})
        ),
        mode=Mode.JURY,
        model="test",
        evidence_only=False,
        prompt_version="p1",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        outcome_labels=LABELS,
        criteria=results,
        usage=Usage(input_tokens=100 * calls, output_tokens=10 * calls, cost_eur=cost, model_calls=calls),
        timings={"total_s": seconds},
        notice="test",
    )


def labels(
    dossier: str, outcomes: dict[str, str], evidence: dict[str, list[GoldEvidence]] | None = None
) -> DossierLabels:
    return DossierLabels(
        dossier=dossier,
        criteria=[
            CriterionLabel(criterion_id=cid, outcome=o, evidence=(evidence or {}).get(cid, []))
            for cid, o in outcomes.items()
        ],
    )


def run_of(name: str, reports: list[Report], seconds: list[float] | None = None) -> Run:
    records = [
        RunRecord(dossier_key=r.dossier.id, report=r, seconds=(seconds[i] if seconds else None))
        for i, r in enumerate(reports)
    ]
    return Run(name=name, path=Path(name), records=records)


def items_from_table(table: list[list[int]], levels: tuple[str, ...]) -> list[Item]:
    """Items whose (jury, machine) counts are the confusion table (rows: jury, columns: machine)."""
    items = []
    for i, row in enumerate(table):
        for j, count in enumerate(row):
            for n in range(count):
                items.append(
                    Item(
                        dossier="d",
                        criterion_id=f"c{i}{j}{n}",
                        block="ref/B1",
                        pages=10,
                        gold=levels[i],
                        machine=levels[j],
                    )
                )
    return items


# --- Agreement on hand-computed tables ------------------------------------------------------------


def test_kappa_on_a_two_by_two_table() -> None:
    # jury \ machine   acquis  non_acquis
    # acquis              4        1        row 5
    # non_acquis          2        3        row 5
    # columns:            6        4        n = 10
    # po = 7/10 = 0.7 ; pe = (5*6 + 5*4) / 100 = 0.5 ; κ = (0.7 - 0.5) / (1 - 0.5) = 0.4
    # With two levels every disagreement is one step apart: the quadratic κ is the same 0.4.
    levels = ("acquis", "non_acquis")
    m = compute(items_from_table([[4, 1], [2, 3]], levels), levels)
    assert m.accuracy == pytest.approx(0.7)
    assert m.kappa == pytest.approx(0.4)
    assert m.weighted_kappa == pytest.approx(0.4)
    assert m.adjacent == pytest.approx(1.0)
    assert m.confusion == [[4, 1], [2, 3]]
    assert m.coverage == 1.0 and m.paired == 10


def test_kappas_and_adjacent_agreement_on_a_three_by_three_table() -> None:
    # jury \ machine   acquis  partiel  non     rows
    # acquis              5       1       1       7
    # partiellement       1       3       1       5
    # non_acquis          0       1       2       3
    # columns             6       5       4      n = 15
    # accuracy = 10/15. pe = (7*6 + 5*5 + 3*4) / 225 = 79/225
    # κ = (10/15 - 79/225) / (1 - 79/225) = (71/225) / (146/225) = 71/146 ≈ 0.4863
    # Quadratic weights (i - j)²: observed = 1 + 4 + 1 + 1 + 1 = 8 (counts);
    # expected cells r_i c_j / n off the diagonal: (0,1) 35/15·1, (0,2) 28/15·4, (1,0) 30/15·1,
    # (1,2) 20/15·1, (2,0) 18/15·4, (2,1) 15/15·1 -> 284/15. κw = 1 - 8 / (284/15) = 41/71 ≈ 0.5775
    # Adjacent: only the (acquis, non_acquis) cell is two levels apart -> 14/15.
    m = compute(items_from_table([[5, 1, 1], [1, 3, 1], [0, 1, 2]], LEVELS3), LEVELS3)
    assert m.accuracy == pytest.approx(10 / 15)
    assert m.kappa == pytest.approx(71 / 146)
    assert m.weighted_kappa == pytest.approx(41 / 71)
    assert m.adjacent == pytest.approx(14 / 15)
    assert m.confusion == [[5, 1, 1], [1, 3, 1], [0, 1, 2]]


def test_a_single_class_makes_kappa_undefined_not_nan() -> None:
    m = compute(items_from_table([[6, 0, 0], [0, 0, 0], [0, 0, 0]], LEVELS3), LEVELS3)
    assert m.accuracy == 1.0
    assert m.kappa is None and m.weighted_kappa is None
    # The machine always says « acquis » while the jury does not: κ is 0, defined.
    m = compute(items_from_table([[4, 0, 0], [3, 0, 0], [1, 0, 0]], LEVELS3), LEVELS3)
    assert m.kappa == pytest.approx(0.0) and m.accuracy == pytest.approx(0.5)
    assert m.adjacent == pytest.approx(7 / 8)


def test_nothing_paired_leaves_verdict_metrics_undefined() -> None:
    items = [
        Item("d", "c1", "ref/B1", 10, "acquis", "a_examiner"),
        Item("d", "c2", "ref/B1", 10, "non_acquis", "preuves_insuffisantes"),
    ]
    m = compute(items, LEVELS3)
    assert m.coverage == 0.0 and m.paired == 0
    assert m.accuracy is None and m.kappa is None and m.weighted_kappa is None and m.adjacent is None
    assert m.confusion == [[0, 0, 0]] * 3
    assert m.exact_agreement == 0.0
    assert m.abstention_rate == 1.0
    assert compute([], LEVELS3).exact_agreement is None


def test_abstentions_non_verdicts_and_needs_review() -> None:
    items = [
        Item("d", "c1", "ref/B1", 10, "acquis", "acquis"),
        Item("d", "c2", "ref/B1", 10, "acquis", REVIEW),  # needs_review: an abstention, never an agreement
        Item("d", "c3", "ref/B1", 10, "preuves_insuffisantes", "preuves_insuffisantes"),
        Item("d", "c4", "ref/B1", 10, "non_evaluable_ecrit", "non_evaluable_ecrit"),
        Item("d", "c5", "ref/B1", 10, "non_evaluable_ecrit", "acquis"),
        Item("d", "c6", "ref/B1", 10, "partiellement_acquis", "preuves_insuffisantes", gold_passages=2),
        Item("d", "c7", "ref/B1", 10, "non_acquis", "a_examiner"),
    ]
    m = compute(items, LEVELS3)
    assert m.criteria == 7
    assert m.exact_agreement == pytest.approx(3 / 7)  # c1, c3, c4
    assert m.gold_verdicts == 4 and m.paired == 1 and m.coverage == pytest.approx(1 / 4)
    # Assessable: every criterion the jury did not mark non_evaluable_ecrit (5); abstained: c2, c3, c6, c7.
    assert m.assessable == 5 and m.abstention_rate == pytest.approx(4 / 5)
    assert m.abstentions == {REVIEW: 1, "preuves_insuffisantes": 2, "a_examiner": 1}
    assert m.insufficient_agreement == 1.0 and m.gold_insufficient == 1
    assert m.missed_evidence == 1.0 and m.with_evidence == 1
    assert m.not_assessable_agreement == 0.5 and m.verdicts_on_not_assessable == 1


# --- Matching citations with gold evidence ---------------------------------------------------------


def test_quotes_overlap_by_containment_typography_and_half_overlap() -> None:
    gold = "Nous avons croisé trois sources internes (CRM, ventes par canal, enquête clients) et deux externes."
    assert quotes_overlap("trois sources internes (CRM, ventes par canal", gold)  # contained
    assert quotes_overlap(gold, "Avant tout : " + gold + " Puis autre chose.")  # contains the gold quote
    assert quotes_overlap("nous avons  croisé trois\nsources internes", gold)  # case and whitespace
    assert quotes_overlap("l’entreprise « Lumen » a croisé", 'l\'entreprise "Lumen" a croisé des sources')
    # Straddling: the last 60 % of the gold quote, then text that is not in it.
    straddle = gold[40:] + " Cette phrase n'est pas dans la citation de référence."
    assert quotes_overlap(straddle, gold)
    assert not quotes_overlap("Le chiffre d'affaires a augmenté de 12 % en 2025.", gold)
    assert not quotes_overlap("", gold)


def test_a_citation_matches_gold_on_same_file_overlapping_pages_and_quote() -> None:
    gold = GoldEvidence(quote="le plan prévoit trois actions de prospection", file="dossier.pdf", page=5)
    assert citation_matches(citation("le plan prévoit trois actions de prospection", page=5), gold)
    assert not citation_matches(citation("le plan prévoit trois actions de prospection", page=6), gold)
    # A passage that starts on page 4 and runs onto page 5 says so in its locator.
    spanning = citation("le plan prévoit trois actions de prospection", page=4, locator="pages 4–5")
    assert citation_matches(spanning, gold)
    other_file = citation("le plan prévoit trois actions de prospection", page=5).model_copy(
        update={"file": "annexe.docx"}
    )
    assert not citation_matches(other_file, gold)
    assert citation_matches(other_file, gold.model_copy(update={"file": None, "page": None}))


def test_recall_at_k_retrieval_recall_and_precision_of_one_criterion() -> None:
    golds = [
        GoldEvidence(quote="première preuve écrite par la candidate", file="dossier.pdf", page=3),
        GoldEvidence(quote="deuxième preuve écrite par la candidate", file="dossier.pdf", page=7),
    ]
    cited = [
        citation("première preuve écrite par la candidate", page=3, verified=False),  # unverified: never counts
        citation("deuxième preuve écrite par la candidate", page=7),
        citation("un passage sans rapport avec le critère", page=2),
        citation("première preuve écrite par la candidate", page=3),
    ]
    r = result("ref/B1/C1/1", "acquis", citations=cited, evidence_pages=[2, 9, 7, 3])
    rep = report("d", [r])
    # k = 2: the first two verified citations are « deuxième » and « sans rapport » -> 1 gold found.
    two = make_item("d", "acquis", golds, r, rep, 2)
    assert two.found_at_k == 1 and two.gold_passages == 2
    assert two.retrieved_at_k == 0  # passages on pages 2 and 9
    five = make_item("d", "acquis", golds, r, rep, 5)
    assert five.found_at_k == 2 and five.retrieved_at_k == 2
    # Precision counts every verified citation (3), two of which point at gold evidence.
    assert five.verified == 3 and five.precise == 2
    m = compute([two], LEVELS3)
    assert m.recall_at_k == 0.5 and m.evidence_hit_at_k == 1.0 and m.citation_precision == pytest.approx(2 / 3)
    # Without gold evidence, citations are not counted for precision.
    bare = make_item("d", "non_acquis", [], r, rep, 5)
    assert bare.verified == 0 and compute([bare], LEVELS3).citation_precision is None


# --- The numpy metrics of the bootstrap agree with scikit-learn and compute() ------------------------


def test_kappa_from_matrix_agrees_with_scikit_learn() -> None:
    rng = np.random.default_rng(7)
    for _ in range(30):
        n = int(rng.integers(5, 60))
        y1 = rng.integers(0, 3, n)
        y2 = np.where(rng.random(n) < 0.6, y1, rng.integers(0, 3, n))
        matrix = np.zeros((3, 3))
        np.add.at(matrix, (y1, y2), 1)
        for weights in (None, "quadratic"):
            expected = cohen_kappa_score(y1, y2, labels=[0, 1, 2], weights=weights, replace_undefined_by=np.nan)
            got = kappa_from_matrix(matrix, weights)
            assert (got is None and np.isnan(expected)) or got == pytest.approx(expected)
    assert kappa_from_matrix(np.zeros((3, 3))) is None
    assert kappa_from_matrix(np.array([[3.0, 0, 0], [0, 0, 0], [0, 0, 0]])) is None


def test_weighted_metrics_with_unit_weights_equal_compute() -> None:
    rng = np.random.default_rng(11)
    codes = [*LEVELS3, "preuves_insuffisantes", "non_evaluable_ecrit", "a_examiner", REVIEW]
    items = []
    for i in range(80):
        gold = str(rng.choice(codes[:5]))
        machine = gold if rng.random() < 0.5 else str(rng.choice(codes))
        passages = int(rng.integers(0, 3))
        found = int(rng.integers(0, passages + 1))
        verified = int(rng.integers(0, 3)) if passages else 0
        items.append(
            Item("d", f"c{i}", "ref/B1", 10, gold, machine, passages, found, 0, verified, min(found, verified))
        )
    full = compute(items, LEVELS3).model_dump()
    fast = weighted_metrics(ItemArrays.of(items, LEVELS3), np.ones(len(items)))
    for name in COMPARED:
        assert fast[name] == pytest.approx(full[name]), name
    # Weight 2 on an item is the same as the item twice.
    doubled = compute([*items, items[0]], LEVELS3).model_dump()
    w = np.ones(len(items))
    w[0] = 2
    fast = weighted_metrics(ItemArrays.of(items, LEVELS3), w)
    for name in COMPARED:
        assert fast[name] == pytest.approx(doubled[name]), name


# --- A whole evaluation --------------------------------------------------------------------------------


def two_dossier_case() -> tuple[Dataset, list[Report]]:
    gold = [GoldEvidence(quote="trois actions de prospection chiffrées", file="dossier.pdf", page=3)]
    dataset = Dataset(
        name="cas",
        entries=[
            labels(
                "court",
                {"ref/B1/1": "acquis", "ref/B1/2": "non_acquis", "ref/B1/3": "non_evaluable_ecrit"},
                {"ref/B1/1": gold},
            ),
            labels("long", {"ref/B2/1": "partiellement_acquis", "ref/B2/2": "acquis", "ref/B2/9": "acquis"}),
            labels("absent", {"ref/B1/1": "acquis"}),
        ],
    )
    reports = [
        report(
            "court",
            [
                result("ref/B1/1", "acquis", citations=[citation("trois actions de prospection chiffrées")]),
                result("ref/B1/2", "partiellement_acquis"),
                result("ref/B1/3", "non_evaluable_ecrit", status=Status.NOT_ASSESSED),
            ],
            pages=12,
            cost=0.02,
            calls=2,
        ),
        report(
            "long",
            [
                result("ref/B2/1", "partiellement_acquis", block="B2"),
                result("ref/B2/2", "a_examiner", block="B2"),
            ],
            pages=80,
            cost=0.06,
            calls=1,
        ),
        report("inconnu", [result("ref/B1/1", "acquis")]),
    ]
    return dataset, reports


def test_evaluate_breaks_down_by_block_length_dossier_and_criterion() -> None:
    dataset, reports = two_dossier_case()
    e = evaluate(run_of("r", reports, seconds=[3.0, 5.0, 1.0]), dataset, k=5)
    assert len(e.items) == 5  # ref/B2/9 is not in the report
    assert e.overall.exact_agreement == pytest.approx(3 / 5)
    assert e.overall.paired == 3 and e.overall.coverage == pytest.approx(3 / 4)
    assert set(e.by_block) == {"ref/B1", "ref/B2"}
    assert e.by_block["ref/B2"].criteria == 2 and e.by_block["ref/B2"].abstention_rate == 0.5
    assert list(e.by_length) == [length_bucket(12), length_bucket(80)] == ["1 à 20 pages", "51 à 100 pages"]
    assert [d.dossier for d in e.dossiers] == ["court", "long"]
    assert [d.cost_eur for d in e.dossiers] == [0.02, 0.06] and [d.seconds for d in e.dossiers] == [3.0, 5.0]
    assert e.mean_cost_eur == pytest.approx(0.04) and e.mean_seconds == pytest.approx(4.0)
    assert e.overall.recall_at_k == 1.0 and e.overall.citation_precision == 1.0
    assert e.confusion.rows == [*LEVELS3, "preuves_insuffisantes", "non_evaluable_ecrit"]
    assert e.confusion.columns[-1] == "a_examiner"
    assert sum(map(sum, e.confusion.counts)) == 5
    joined = " ".join(e.warnings)
    assert "inconnu" in joined and "absent" in joined and "1 critère étiqueté absent des rapports" in joined
    assert [c.criterion_id for c in e.criteria][:2] == ["ref/B1/1", "ref/B1/2"]


def test_matching_by_candidate_id_then_dossier_key_then_report_id() -> None:
    dataset = Dataset(
        name="cas",
        entries=[
            labels("k1", {"ref/B1/1": "acquis"}).model_copy(update={"candidate_id": "cand-7"}),
            labels("k2", {"ref/B1/1": "non_acquis"}),
            labels("k3", {"ref/B1/1": "acquis"}),
        ],
    )
    records = [
        RunRecord(dossier_key="x", candidate_id="cand-7", report=report("y", [result("ref/B1/1", "acquis")])),
        RunRecord(dossier_key="k2", report=report("z", [result("ref/B1/1", "acquis")])),
        RunRecord(dossier_key="w", report=report("k3", [result("ref/B1/1", "acquis")])),
    ]
    e = evaluate(Run(name="r", path=Path("r"), records=records), dataset)
    assert [(it.dossier, it.gold) for it in e.items] == [("k1", "acquis"), ("k2", "non_acquis"), ("k3", "acquis")]
    with pytest.raises(EvaluationError, match="aucun rapport"):
        evaluate(run_of("r", [report("nul", [result("ref/B1/1", "acquis")])]), dataset)


# --- Comparing two runs -----------------------------------------------------------------------------------


def _runs_for_comparison() -> tuple[Dataset, Run, Run]:
    rng = np.random.default_rng(3)
    entries, good, bad = [], [], []
    for d in range(6):
        outcomes = {f"ref/B1/{c}": str(rng.choice(LEVELS3)) for c in range(12)}
        entries.append(labels(f"d{d}", outcomes))
        good.append(report(f"d{d}", [result(cid, o) for cid, o in outcomes.items()], cost=0.05))
        bad.append(
            report(f"d{d}", [result(cid, "acquis" if i % 2 else o) for i, (cid, o) in enumerate(outcomes.items())])
        )
    return Dataset(name="cas", entries=entries), run_of("mauvais", bad), run_of("bon", good)


def test_comparison_is_paired_reproducible_and_its_interval_contains_the_difference() -> None:
    dataset, bad, good = _runs_for_comparison()
    a, b = evaluate(bad, dataset), evaluate(good, dataset)
    first = compare(a, b, resamples=500)
    assert first == compare(a, b, resamples=500)  # fixed seed
    rows = {r.metric: r for r in first.rows}
    exact = rows["exact_agreement"]
    assert exact.b == 1.0 and exact.a is not None and exact.a < 1.0
    assert exact.difference == pytest.approx(exact.b - exact.a)
    assert exact.low is not None and exact.high is not None
    assert exact.low <= exact.difference <= exact.high and exact.low > 0 and exact.excludes_zero
    assert rows["mean_cost_eur"].difference == pytest.approx(0.05)
    assert first.criteria == 72 and first.dossiers == 6 and first.only_a == first.only_b == 0
    by_dossier = compare(a, b, resamples=500, unit=BootstrapUnit.DOSSIER)
    assert by_dossier.unit is BootstrapUnit.DOSSIER
    assert {r.metric: r for r in by_dossier.rows}["exact_agreement"].difference == exact.difference


def test_the_interval_has_the_width_of_a_95_percent_interval() -> None:
    # B is right on every criterion, A on exactly half of them (paired draws): B − A = 1 − accuracy of A on
    # the resample, whose spread is the binomial one. A 95 % interval spans about 2 × 1.96 × sqrt(p(1 − p) / n).
    n = 200
    entries = [labels("d", {f"ref/B1/{i}": "acquis" for i in range(n)})]
    right = report("d", [result(f"ref/B1/{i}", "acquis") for i in range(n)])
    half = report("d", [result(f"ref/B1/{i}", "acquis" if i % 2 else "non_acquis") for i in range(n)])
    dataset = Dataset(name="cas", entries=entries)
    row = next(r for r in compare(evaluate(run_of("a", [half]), dataset), evaluate(run_of("b", [right]), dataset)).rows)
    assert row.metric == "exact_agreement" and row.difference == pytest.approx(0.5)
    assert row.low is not None and row.high is not None
    expected = 2 * 1.96 * (0.25 / n) ** 0.5
    assert row.high - row.low == pytest.approx(expected, rel=0.15)
    assert row.low < 0.5 < row.high


def test_a_run_compared_with_itself_differs_by_zero() -> None:
    dataset, bad, _ = _runs_for_comparison()
    a = evaluate(bad, dataset)
    for row in compare(a, a, resamples=200).rows:
        if row.difference is not None:
            assert row.difference == 0 and row.low == 0 and row.high == 0 and not row.excludes_zero


def test_comparison_refuses_different_labels() -> None:
    dataset, bad, good = _runs_for_comparison()
    changed = Dataset(
        name="autre",
        entries=[
            e.model_copy(update={"criteria": [c.model_copy(update={"outcome": "non_acquis"}) for c in e.criteria]})
            for e in dataset.entries
        ],
    )
    with pytest.raises(EvaluationError, match="mêmes étiquettes"):
        compare(evaluate(bad, dataset), evaluate(good, changed), resamples=100)
