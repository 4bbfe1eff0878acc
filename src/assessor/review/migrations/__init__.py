"""Alembic migrations of the review database, shipped inside the package.

``ReviewStore`` runs ``upgrade head`` each time it opens a database, so users never run
Alembic themselves. Developers create a revision with
``alembic.command.revision(assessor.review.store.alembic_config(), "message")``.
"""
