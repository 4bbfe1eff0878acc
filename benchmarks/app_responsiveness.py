"""Review app responsiveness, measured in a real browser (Debian's chromium through Playwright).

    python benchmarks/app_responsiveness.py [--rounds 20]

For each review size, a review already computed (evidence-only pre-assessment of the
omnicanal sample dossier) is stored, ``python app.py`` is started, and a logged-in jury
member:

- opens the review from the list: time from the click to the whole grid rendered with every
  criterion clickable (target: within 1 s);
- selects criteria one after the other: time from the click to the criterion's evidence
  (text, rationale, highlighted passages) shown (target: within 300 ms), and, separately, to
  the rendered PDF page with the quote highlighted.

Sizes: the largest real référentiel (dev-commercial-omnicanal, all four blocks: 119
criteria), and synthetic référentiels made from it by repeating its criteria (120 and 240
criteria) — the same texts, so the same evidence work per criterion.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from appserver import browser, chromium_missing, login, running_app  # noqa: E402
from assessor.dossiers import DossierStore  # noqa: E402
from assessor.library import Library  # noqa: E402
from assessor.pipeline import assess_dossier  # noqa: E402
from assessor.review.auth import UsersFile  # noqa: E402
from assessor.review.store import ReviewStore  # noqa: E402
from assessor.settings import Settings  # noqa: E402

SAMPLE = ROOT / "sample_dossiers" / "omnicanal-b1" / "dossier.pdf"
USER, PASSWORD = "bench", "mot-de-passe-bench"


def synthetic_referential(folder: Path, size: int) -> str:
    """dev-commercial-omnicanal with its criteria repeated (in their own groups) up to ``size`` criteria."""
    source = (
        Library.from_settings(Settings()).get("dev-commercial-omnicanal").model_dump(mode="json", exclude_none=True)
    )
    total = sum(len(g["criteria"]) for b in source["blocks"] for s in b["criteria"] for g in s["groups"])
    missing = size - total
    groups = [g for b in source["blocks"] for s in b["criteria"] for g in s["groups"]]
    originals = [list(g["criteria"]) for g in groups]
    while missing > 0:  # one more copy of each group's criteria, until the size is reached
        for group, criteria in zip(groups, originals, strict=True):
            extra = criteria[: max(0, missing)]
            group["criteria"] = group["criteria"] + [dict(c) for c in extra]
            missing -= len(extra)
    assert missing <= 0, "not enough criteria to repeat"
    source["id"] = f"omnicanal-synthetique-{size}"
    source["title"] = f"{source['title']} (synthétique, {size} critères)"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{source['id']}.yaml").write_text(yaml.safe_dump(source, allow_unicode=True, sort_keys=False))
    return str(source["id"])


def measure(size_label: str, referential_id: str, settings: Settings, rounds: int) -> dict[str, object]:
    library = Library.from_settings(settings)
    ref = library.get(referential_id)
    store = DossierStore(settings)
    if "bench" not in {d.id for d in store.all()}:
        store.ingest("bench", [SAMPLE])
    report = assess_dossier(store, "bench", ref)
    reviews = ReviewStore.from_settings(settings)
    users = {u.username: u for u in UsersFile(settings.resolved_users_file).users()}
    candidate = f"Banc {size_label}"
    reviews.create_review(report, user=users[USER], candidate=candidate)
    reviews.dispose()
    count = len(report.criteria)

    extra = {"ASSESSOR_REFERENTIALS_DIRS": json.dumps([str(d) for d in settings.referentials_dirs])}
    with running_app(settings.data_dir, env=extra) as url, browser() as chromium:
        page = chromium.new_page(viewport={"width": 1440, "height": 1000})
        login(page, url, USER, PASSWORD)
        row = page.locator("#as-sessions [role=gridcell]", has_text=candidate).first
        row.wait_for(timeout=20000)
        # Times are taken in the page: from the click event (captured before anything handles it) to
        # the moment the result is on screen, polled on every animation frame.
        mark_click = (
            "() => document.addEventListener('click', () => { window.__clicked = performance.now(); },"
            " {capture: true, once: true})"
        )
        page.evaluate(mark_click)
        row.click()
        opened = (
            page.wait_for_function(
                "n => document.querySelectorAll('#as-grid .as-row[data-cid]').length === n"
                " && performance.now() - window.__clicked",
                arg=count,
                timeout=30000,
                polling="raf",
            ).json_value()
            / 1000
        )
        rows = page.locator("#as-grid .as-row")
        evidence: list[float] = []
        pages: list[float] = []
        step = max(1, count // rounds)
        for index in list(range(1, count, step))[:rounds]:
            target = rows.nth(index)
            cid = target.get_attribute("data-cid")
            target.scroll_into_view_if_needed()
            image = page.locator("#as-page img")
            previous = image.get_attribute("src") if image.count() else None
            page.evaluate(mark_click)
            target.click()
            evidence.append(
                page.wait_for_function(
                    "cid => (document.querySelector('#as-detail')?.innerText || '').includes(cid)"
                    " && performance.now() - window.__clicked",
                    arg=cid,
                    timeout=10000,
                    polling="raf",
                ).json_value()
                / 1000
            )
            with contextlib.suppress(Exception):  # a criterion without a cited page shows none
                pages.append(
                    page.wait_for_function(
                        "prev => { const i = document.querySelector('#as-page img'); "
                        "return i && i.src !== prev && performance.now() - window.__clicked; }",
                        arg=previous,
                        timeout=5000,
                        polling="raf",
                    ).json_value()
                    / 1000
                )
    return {"size": size_label, "criteria": count, "open": opened, "evidence": evidence, "pages": pages}


def _ms(value: float) -> str:
    return f"{value * 1000:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20, help="criteria selected per review (default 20)")
    args = parser.parse_args()
    reason = chromium_missing()
    if reason:
        sys.exit(f"cannot run the browser benchmark: {reason}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        extra = Path(tmp) / "referentials"
        UsersFile(data / "users.yaml").add(USER, "Banc d'essai", "jury", PASSWORD)
        cases = [("119 (réel)", "dev-commercial-omnicanal")]
        cases += [(f"{n} (synthétique)", synthetic_referential(extra, n)) for n in (120, 240)]
        settings = Settings(data_dir=data, referentials_dirs=[extra])
        for label, referential_id in cases:
            rows.append(measure(label, referential_id, settings, args.rounds))
    print("\nReview app responsiveness (Debian chromium, headless, through Playwright;")
    print("measured in the page, from the click event to the result on screen)\n")
    print(
        "| criteria | open review → grid interactive | select → evidence shown: median / p95 / max | "
        "select → page image: median / max |"
    )
    print("|---|---:|---:|---:|")
    for row in rows:
        evidence = sorted(row["evidence"])  # type: ignore[arg-type]
        pages = sorted(row["pages"])  # type: ignore[arg-type]
        p95 = evidence[min(len(evidence) - 1, int(0.95 * len(evidence)))]
        page_cell = f"{_ms(statistics.median(pages))} / {_ms(pages[-1])}" if pages else "—"
        print(
            f"| {row['size']} | {_ms(row['open'])} | {_ms(statistics.median(evidence))} / {_ms(p95)} / "
            f"{_ms(evidence[-1])} | {page_cell} |"
        )
    print("\nTargets: grid interactive within 1 s of opening; evidence within 300 ms of selecting a criterion.")


if __name__ == "__main__":
    main()
