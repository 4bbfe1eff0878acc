"""Alembic migrations of the review database, shipped inside the package.

``ReviewStore`` runs ``upgrade head`` each time it opens a database, so users never run
Alembic themselves. Developers create a revision with
``alembic.command.revision(assessor.review.store.alembic_config(), "message")``, then set
``HEAD`` below to its revision id (``tests/test_review_store.py`` checks they agree).
"""

# The newest revision shipped: a database already there opens without importing Alembic,
# which the review app would otherwise pay for at every start (about 0.2 s).
HEAD = "0003_sessions"
