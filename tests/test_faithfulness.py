"""The shipped référentiels are faithful to their seed texts.

* Every text of a YAML file (block titles and descriptions, activities and their tasks,
  modality texts and expected productions, competency statements and knowledge, group
  headings and criteria) is found in its seed: normalised, in up to three in-order pieces
  where the PDF extraction interleaved columns, fuzzy for the OCR'd seed 004
  (``seedmatch.missing_texts``).
* The criteria of each block match, one to one, an independent count of the seed kept in
  tests/data/seed_anchors/ (for every criterion printed in the seed, the line where it
  begins and its first words): ``seedmatch.count_problems``.

The mutation tests at the end show that both checks fail when the transcription is wrong.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from assessor.library import load_referential, shipped_referentials_dir
from assessor.referential import CriterionText, Referential
from seedmatch import Anchors, Seed, count_problems, missing_texts

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT.parent / "shared" / "seeds"
ANCHORS = Path(__file__).resolve().parent / "data" / "seed_anchors"
OCR_SEEDS = {"004_a0a639b3372759cd.txt"}

REFERENTIAL_FILES = sorted(shipped_referentials_dir().glob("*.yaml"))


def _seed(ref: Referential) -> tuple[str, Seed]:
    path = SEEDS / ref.source.file
    if not path.exists():
        pytest.skip(f"seed text {path} is absent (../shared/seeds/ is needed for this test)")
    raw = path.read_text(encoding="utf-8")
    return raw, Seed.from_text(raw)


def _anchors(ref: Referential) -> Anchors:
    data = yaml.safe_load((ANCHORS / f"{Path(ref.source.file).stem}.yaml").read_text(encoding="utf-8"))
    blocks: Anchors = data["blocks"]
    return blocks


@pytest.fixture(scope="module", params=REFERENTIAL_FILES, ids=lambda p: p.stem)
def referential(request: pytest.FixtureRequest) -> Referential:
    return load_referential(request.param)


def test_five_seeds_are_transcribed() -> None:
    sources = {load_referential(p).source.file for p in REFERENTIAL_FILES}
    assert len(sources) == 5
    if SEEDS.exists():
        assert sources == {p.name for p in SEEDS.glob("*.txt")}


def test_every_text_is_found_in_the_seed(referential: Referential) -> None:
    _, seed = _seed(referential)
    missing = missing_texts(referential, seed, fuzzy=referential.source.file in OCR_SEEDS)
    assert not missing, f"{len(missing)} texts of {referential.id} not found in its seed:\n" + "\n".join(missing)


def test_criteria_match_the_independent_count(referential: Referential) -> None:
    raw, seed = _seed(referential)
    problems = count_problems(referential, raw, seed, _anchors(referential), fuzzy=referential.source.file in OCR_SEEDS)
    assert not problems, f"{referential.id}:\n" + "\n".join(problems)


# The checks above must be able to fail: each mutation of a faithful transcription is caught.


def _mutated(ref: Referential, block: int, edit: str) -> Referential:
    data = copy.deepcopy(ref.model_dump(mode="json", exclude_none=True))
    group = data["blocks"][block]["criteria"][0]["groups"][0]
    if edit == "drop":
        if len(group["criteria"]) == 1:
            data["blocks"][block]["criteria"][0]["groups"].pop(0)
        else:
            group["criteria"].pop(0)
    elif edit == "duplicate":
        group["criteria"].append(group["criteria"][0])
    elif edit == "reword":
        words = group["criteria"][0]["text"].split()
        words[len(words) // 2] = "inventé"
        group["criteria"][0]["text"] = " ".join(words)
    elif edit == "foreign":
        group["criteria"][0] = CriterionText(
            text="Le candidat présente une recette de cuisine détaillée avec ses ingrédients et ses étapes."
        ).model_dump()
    return Referential.model_validate(data)


@pytest.mark.parametrize("edit", ["drop", "duplicate", "reword", "foreign"])
def test_a_wrong_transcription_is_caught(referential: Referential, edit: str) -> None:
    raw, seed = _seed(referential)
    fuzzy = referential.source.file in OCR_SEEDS
    if edit == "reword" and fuzzy:
        pytest.skip("one changed word can stay within the fuzzy tolerance of the OCR'd seed; see 'foreign'")
    mutated = _mutated(referential, 0, edit)
    problems = count_problems(mutated, raw, seed, _anchors(referential), fuzzy=fuzzy)
    if edit in ("reword", "foreign"):
        problems += missing_texts(mutated, seed, fuzzy=fuzzy)
    assert problems, f"the {edit!r} mutation of {referential.id} went unnoticed"
