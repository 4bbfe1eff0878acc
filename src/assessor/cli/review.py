"""``assessor review``: the jury's reviews from the command line, for administrators and auditors.

The same store, permissions and audit log as the review app: each acting command logs in as
``--as USERNAME`` (password from ``ASSESSOR_PASSWORD`` or asked, hidden), and what it does is
recorded under that name. ``verify`` needs no account: it reads the database and the audit key.
Refusals are one French message and exit code 1.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from assessor.cli.common import console, err_console, fail, output_format, settings, write_output
from assessor.cli.french import ask_password, confirm
from assessor.review.domain import BLOCK_VERDICT_LABELS, BlockVerdict
from assessor.timefmt import local_time
from assessor.wording import counted

if TYPE_CHECKING:
    from assessor.review.domain import ReviewState, User
    from assessor.review.store import ReviewStore

review_app = typer.Typer(
    help="Revues du jury en ligne de commande : importer un rapport, décider, signer, exporter la grille, "
    "vérifier le journal d'audit. Mêmes droits que dans l'application de revue.",
    no_args_is_help=True,
)

PASSWORD_VARIABLE = "ASSESSOR_PASSWORD"

AsUser = Annotated[
    str,
    typer.Option(
        "--as",
        help=f"Votre identifiant dans l'application de revue ; mot de passe : variable {PASSWORD_VARIABLE} "
        "ou demandé sans s'afficher.",
        show_default=False,
    ),
]
ReviewId = Annotated[str, typer.Argument(metavar="REVUE", help="Identifiant de la revue (« assessor review list »).")]


def _store() -> ReviewStore:
    from assessor.review.store import ReviewStore

    return ReviewStore.from_settings(settings())


def _login(store: ReviewStore, username: str) -> User:
    """The account, once its password is checked; a failed attempt is logged like the app's."""
    from assessor.review.auth import UsersFile

    users = settings().resolved_users_file
    if not users.exists():  # no account can match: say so before asking a password
        fail(
            f"aucun compte : le fichier {users} n'existe pas. Créez-en un avec « assessor users add NOM --role jury »."
        )
    password = os.environ.get(PASSWORD_VARIABLE)
    if password is None:
        password = ask_password(
            f"Mot de passe de {username}", otherwise=f"donnez-le par la variable {PASSWORD_VARIABLE}"
        )
    user = UsersFile(users).authenticate(username, password)
    store.record(
        username if user else f"inconnu:{username[:40]}",
        "login" if user else "login_failed",
        details={"channel": "cli"},
    )
    if user is None:
        fail(f"identifiant ou mot de passe incorrect pour « {username} ».")
    return user


def _session(review_id: str, username: str) -> tuple[ReviewStore, User, ReviewState]:
    """The store, the logged-in user and the review as it stands (refused if they may not see it)."""
    store = _store()
    user = _login(store, username)
    return store, user, store.get(review_id, user)


def _criterion_id(state: ReviewState, given: str) -> str:
    """A criterion's full id, or the end of one when it names a single criterion (« B1/C.1.1/2 »)."""
    ids = [c.criterion_id for c in state.report.criteria]
    if given in ids:
        return given
    matches = [cid for cid in ids if cid.endswith("/" + given.strip("/"))]
    if len(matches) == 1:
        return matches[0]
    if matches:
        fail(f"« {given} » désigne plusieurs critères : {', '.join(matches[:5])} ; donnez l'identifiant complet.")
    return fail(f"le critère « {given} » ne fait pas partie de la revue {state.summary.id} (« assessor review show »).")


@review_app.command("import")
def import_report(
    report_file: Annotated[
        Path, typer.Argument(metavar="RAPPORT", help="Rapport JSON écrit par « assessor assess -o rapport.json ».")
    ],
    as_user: AsUser,
    candidate: Annotated[
        str | None,
        typer.Option("--candidate", help="Nom ou référence du candidat (défaut : l'identifiant du dossier)."),
    ] = None,
    candidate_account: Annotated[
        str | None, typer.Option("--candidate-account", help="Compte du candidat, s'il en a un.")
    ] = None,
    jury: Annotated[
        list[str] | None, typer.Option("--jury", help="Autre membre du jury qui verra la revue (option répétable).")
    ] = None,
) -> None:
    """Crée une revue à partir d'un rapport de pré-lecture ; affiche son identifiant en dernière ligne."""
    from assessor.results import ContractError, NewerContract, read_report

    try:
        report = read_report(report_file.read_bytes())
    except NewerContract as exc:
        fail(f"{report_file} : {exc}")
    except ContractError as exc:
        fail(
            f"{report_file} n'est pas un rapport JSON d'Assessor ({exc}) : produisez-le avec "
            "« assessor assess … -o rapport.json »."
        )
    store = _store()
    user = _login(store, as_user)
    state = store.create_review(
        report,
        user=user,
        candidate=candidate if candidate is not None else report.dossier.id,
        candidate_username=candidate_account,
        assigned_jury=jury or (),
    )
    err_console.print(
        f"Revue créée : {len(report.criteria)} propositions de la machine, blocs {', '.join(state.summary.blocks)}."
    )
    typer.echo(state.summary.id)


@review_app.command("import-run")
def import_run(
    run: Annotated[
        Path,
        typer.Argument(metavar="LANCEMENT", help="Dossier d'un lancement « assessor batch » (ou son results.jsonl)."),
    ],
    as_user: AsUser,
    jury: Annotated[
        list[str] | None, typer.Option("--jury", help="Autre membre du jury qui verra les revues (option répétable).")
    ] = None,
) -> None:
    """Crée une revue par dossier évalué d'un lancement en lot ; un dossier déjà importé (même candidat,
    référentiel, blocs et modèle) est laissé tel quel : relancer la commande n'ajoute que les nouveaux."""
    from assessor.evaluation.runs import load_run

    records = load_run(run).records
    store = _store()
    user = _login(store, as_user)
    existing = {(r.candidate, r.referential_id, tuple(r.blocks), r.model) for r in store.list_reviews(user)}
    created = skipped = 0
    for record in records:
        report = record.report
        candidate = record.candidate_id or record.dossier_key
        key = (candidate, report.referential.id, tuple(report.referential.blocks), report.model)
        if key in existing:
            skipped += 1
            continue
        state = store.create_review(report, user=user, candidate=candidate, assigned_jury=jury or ())
        existing.add(key)
        created += 1
        typer.echo(f"{state.summary.id}\t{candidate}")
    err_console.print(
        f"{counted(created, 'revue créée', 'revues créées')}, {counted(skipped, 'déjà importée', 'déjà importées')} "
        f"sur {counted(len(records), 'dossier évalué', 'dossiers évalués')} du lancement."
    )


@review_app.command("list")
def list_reviews(as_user: AsUser) -> None:
    """Liste les revues que vous pouvez voir, les plus récentes d'abord."""
    from assessor.review.domain import REVIEW_STATUS_LABELS

    store = _store()
    user = _login(store, as_user)
    table = Table("Revue", "Candidat", "Référentiel", "Blocs", "Révision", "Statut", "Modifiée le")
    for summary in store.list_reviews(user):
        table.add_row(
            summary.id,
            escape(summary.candidate),
            escape(summary.referential_id),
            ", ".join(summary.blocks),
            str(summary.revision),
            REVIEW_STATUS_LABELS[summary.status],
            local_time(summary.updated_at, zone=False),
        )
    console.print(table)


@review_app.command("show")
def show(
    review_id: ReviewId,
    as_user: AsUser,
    as_json: Annotated[bool, typer.Option("--json", help="Chaque critère en JSON : proposition et décision.")] = False,
) -> None:
    """Affiche la grille d'une revue : proposition de la machine et décision du jury, critère par critère."""
    _, _, state = _session(review_id, as_user)
    labels = state.report.outcome_labels
    rows: list[dict[str, Any]] = []
    for result in state.report.criteria:
        decision = state.decisions.get(result.criterion_id)
        rows.append(
            {
                "criterion_id": result.criterion_id,
                "block": result.block,
                "proposal": result.outcome,
                "decision": decision.action.value if decision and decision.action else None,
                "outcome": decision.outcome if decision and decision.action else None,
                "reason": decision.reason if decision else "",
            }
        )
    if as_json:
        typer.echo(json.dumps({"review": state.summary.model_dump(mode="json"), "criteria": rows}, ensure_ascii=False))
        return
    table = Table("Critère", "Proposition de la machine", "Décision du jury", "Motif")
    for row in rows:
        decided = labels.get(row["outcome"], row["outcome"]) if row["outcome"] else "— à décider —"
        table.add_row(row["criterion_id"], labels.get(row["proposal"], row["proposal"]), decided, escape(row["reason"]))
    console.print(table)
    for code in state.summary.blocks:
        block = state.block_decisions.get(code)
        console.print(f"Bloc {code} : {BLOCK_VERDICT_LABELS[block.verdict] if block else 'sans décision'}")


@review_app.command("decide")
def decide(
    review_id: ReviewId,
    criterion: Annotated[
        str, typer.Argument(metavar="CRITÈRE", help="Identifiant du critère, complet ou sa fin (« B1/C.1.1/2 »).")
    ],
    as_user: AsUser,
    accept: Annotated[
        bool, typer.Option("--accept", help="Accepter la proposition de la machine telle quelle.")
    ] = False,
    outcome: Annotated[
        str | None,
        typer.Option("--outcome", help="Issue retenue par le jury (code : acquis, partiellement_acquis, non_acquis…)."),
    ] = None,
    reason: Annotated[
        str, typer.Option("--reason", help="Motif, obligatoire quand l'issue diffère de la proposition.")
    ] = "",
    comment: Annotated[str | None, typer.Option("--comment", help="Commentaire sur le critère.")] = None,
) -> None:
    """Décide d'un critère : accepter la proposition (--accept) ou retenir une autre issue (--outcome, --reason)."""
    store, user, state = _session(review_id, as_user)
    criterion_id = _criterion_id(state, criterion)
    proposal = next(c for c in state.report.criteria if c.criterion_id == criterion_id)
    if accept and outcome not in (None, proposal.outcome):
        fail("--accept retient la proposition : n'indiquez pas une autre issue (--outcome), ou retirez --accept.")
    if not accept and outcome is None:
        fail("indiquez --accept (retenir la proposition) ou --outcome CODE --reason TEXTE.")
    taking = accept or (outcome == proposal.outcome and not reason.strip())
    state = store.decide_criterion(
        review_id,
        user,
        criterion_id,
        expected_version=state.version,
        accept=taking,
        outcome=None if taking else outcome,
        reason=reason,
        comment=comment,
    )
    decided = state.decisions[criterion_id]
    label = state.report.outcome_labels.get(decided.outcome or "", decided.outcome)
    what = "proposition acceptée" if taking else "décision modifiée"
    console.print(f"{criterion_id} : {what} — {label}.")


@review_app.command("accept-remaining")
def accept_remaining(
    review_id: ReviewId,
    block: Annotated[str, typer.Argument(metavar="BLOC", help="Code du bloc (B1…).")],
    as_user: AsUser,
    yes: Annotated[bool, typer.Option("--yes", help="Ne pas demander de confirmation.")] = False,
) -> None:
    """Accepte les propositions restantes du bloc : celles des critères sans décision acceptables telles quelles."""
    store, user, state = _session(review_id, as_user)
    accepted, left = store.remaining_proposals(state, block)
    labels = state.report.outcome_labels
    proposals = {c.criterion_id: c.outcome for c in state.report.criteria}
    for criterion_id in accepted:
        console.print(f"  accepter  {criterion_id} : {labels.get(proposals[criterion_id], proposals[criterion_id])}")
    for criterion_id, why in left:
        console.print(f"  laisser   {criterion_id} : {why}")
    if not accepted:
        fail(f"aucune proposition du bloc {block} ne peut être acceptée telle quelle.")
    if not yes and not confirm(f"Accepter ces {len(accepted)} propositions ?"):
        fail("rien n'a été accepté.")
    state, accepted, left = store.accept_remaining(
        review_id, user, block, expected_version=state.version, expected=accepted
    )
    console.print(
        f"{len(accepted)} propositions acceptées dans le bloc {block}"
        + (f" ; {len(left)} critères restent à décider un par un." if left else ".")
    )


@review_app.command("decide-block")
def decide_block(
    review_id: ReviewId,
    block: Annotated[str, typer.Argument(metavar="BLOC", help="Code du bloc (B1…).")],
    as_user: AsUser,
    verdict: Annotated[BlockVerdict, typer.Option("--verdict", help="valide ou non_valide.", show_default=False)],
    reason: Annotated[str, typer.Option("--reason", help="Justification de la décision sur le bloc.")],
) -> None:
    """Statue sur un bloc (validé ou non validé) ; chacun de ses critères doit avoir une décision du jury."""
    store, user, state = _session(review_id, as_user)
    store.decide_block(review_id, user, block, expected_version=state.version, verdict=verdict, justification=reason)
    console.print(f"Bloc {block} : {BLOCK_VERDICT_LABELS[verdict]}.")


@review_app.command("sign")
def sign(
    review_id: ReviewId,
    as_user: AsUser,
    name: Annotated[str, typer.Option("--name", help="Vos prénom et nom, tels qu'ils figureront sur la grille.")],
) -> None:
    """Signe la revue : chaque bloc doit être décidé ; la revue devient en lecture seule."""
    store, user, state = _session(review_id, as_user)
    state = store.sign(review_id, user, expected_version=state.version, signer_name=name)
    when = local_time(state.summary.signed_at)
    console.print(f"Revue {review_id} signée par {escape(name.strip())} le {when} : elle est en lecture seule.")


@review_app.command("export")
def export(
    review_id: ReviewId,
    as_user: AsUser,
    output: Annotated[
        Path,
        typer.Option(
            "-o", "--output", help="Fichier à écrire ; son extension choisit le format : .pdf, .docx, .csv ou .json."
        ),
    ],
) -> None:
    """Exporte la grille (proposition de la machine, décision du jury, signature, sceau du journal d'audit)."""
    from assessor.library import Library
    from assessor.review.exports import ExportFormat, export_review

    fmt = ExportFormat(output_format(output, ExportFormat))
    store, user, state = _session(review_id, as_user)
    anchor = store.anchor(review_id, user)
    referential = Library.from_settings(settings()).get(state.summary.referential_id)
    write_output(export_review(state, referential, fmt, anchor=anchor), output)
    store.record(user.username, "export", review_id=review_id, details={"format": fmt.value, "channel": "cli"})


@review_app.command("verify")
def verify(
    against: Annotated[
        Path | None,
        typer.Option(
            "--against",
            help="Grille exportée (JSON, CSV, PDF ou DOCX) dont le sceau doit être retrouvé dans le journal : "
            "révèle aussi une fin de journal supprimée.",
        ),
    ] = None,
    review: Annotated[str | None, typer.Option("--review", help="Ne vérifier que les lignes de cette revue.")] = None,
) -> None:
    """Vérifie le journal d'audit : chaînage scellé par la clé, et chaque décision, bloc et signature expliqués par le
    journal. Code de sortie 0 : intact ; 1 : la liste des ruptures."""
    from assessor.review.exports import grid_anchor, read_anchor, read_grid

    store = _store()
    grid, anchor = None, None
    if against is not None and against.suffix.lower() == ".json":
        grid = read_grid(against)  # read once: its seal, then its decisions
        anchor = grid_anchor(grid, against.name)
    elif against is not None:
        anchor = read_anchor(against)
    problems = store.verify(review_id=review, against=anchor)
    if grid is not None:
        problems += store.differences_from_export(grid)
    entries = len(store.audit_log())
    if problems:
        err_console.print(f"[bold red]Journal d'audit : {counted(len(problems), 'rupture')}[/]")
        for problem in problems:
            err_console.print(f"  - {escape(problem)}", soft_wrap=True)
        raise typer.Exit(1)
    scope = f"revue {review}" if review else "toutes les revues"
    key = store.audit_key
    console.print(f"Journal d'audit intact : {entries} entrées ({scope}), clé {key.key_id} ({key.source}).")
    if anchor is not None:
        console.print(
            f"La grille {against.name if against else ''} est scellée à l'entrée {anchor.entry_id} : la base en garde "
            f"les {anchor.review_entries} entrées de la revue {anchor.review_id}."
        )


__all__ = ["review_app"]
