"""The verifier without a registry: ``celery -A verifier.standalone worker``.

Uploads are read from a directory (one sub-directory per upload id: the manifest, the component,
the bundle and ``publishers.json``, see :class:`~verifier.storage.DirectoryUploadSource`) and
verdicts written to a SQLite file (:class:`~verifier.storage.SqliteVerdictStore`), both named by
``CLAWFT_UPLOADS_DIR`` and ``CLAWFT_VERDICTS_DB``; every other setting is a ``CLAWFT_*`` variable
of :class:`~verifier.celery_app.WorkerSettings`. The app is built when this module is imported,
which is what ``celery -A`` does, so a bad setting stops the worker before its first task, with
one line naming it (exit status 2).
A registry runs ``clawft-registry worker`` instead.
"""

from __future__ import annotations

import sys

from client.signing import TrustConfigError
from verifier.celery_app import WorkerSettings, create_celery
from verifier.settings_source import SettingsError

try:
    app = create_celery(WorkerSettings.from_env(), warm_processes=True)
except (SettingsError, TrustConfigError) as exc:
    # One line an operator can act on, exit status 2, as every command of the registry does:
    # not the traceback Celery would print for a module that failed to import.
    print(f"error: {exc}", file=sys.stderr)
    raise SystemExit(2) from None
