"""The environment variables gridhub reads, each named once here.

Code in ``gridhub/``, ``dags/`` and ``plugins/`` takes the names from this module (it imports nothing, so DAG
files may use it at parse time).
"""

from __future__ import annotations

#: The workspace folder (``gridhub.yaml`` and every zone); ``--workspace`` on the command line wins over it.
WORKSPACE = "GRIDHUB_WORKSPACE"
#: Secret key of the warehouse's privacy layer (keyed hashes); the sample's ``gridhub.yaml`` names this one.
HMAC_KEY = "GRIDHUB_HMAC_KEY"
#: Key that signs the upload portal's session cookies (default of ``portal.session_secret_env``).
PORTAL_SECRET = "GRIDHUB_PORTAL_SECRET"
#: How often (seconds, default 5) the triggerer lists the landing flag folder.
LANDING_POKE_SECONDS = "GRIDHUB_LANDING_POKE_SECONDS"
#: First retry delay (seconds, default 30) of every gridhub DAG task; tests set it low.
RETRY_DELAY_SECONDS = "GRIDHUB_RETRY_DELAY_SECONDS"
#: The DAG folder ``make demo`` runs (default: the project's ``dags/``).
DAGS_FOLDER = "GRIDHUB_DAGS_FOLDER"
#: Link (URL or ``mailto:``) shown for the ``gridhub`` owner on the Airflow DAG list (a feed's owner link is
#: its ``contact`` in gridhub.yaml).
OWNER_LINK = "GRIDHUB_OWNER_LINK"
#: Port of the Airflow UI that ``make airflow`` starts (default 8080).
AIRFLOW_PORT = "GRIDHUB_AIRFLOW_PORT"
#: Login of the Airflow UI that ``make airflow`` starts (default admin / admin).
AIRFLOW_USER = "GRIDHUB_AIRFLOW_USER"
AIRFLOW_PASSWORD = "GRIDHUB_AIRFLOW_PASSWORD"
#: How many entity types ``resolve_entities`` resolves side by side (default: the cores, at most 2; 1 = one
#: after another in one process, as before issue #19): gridhub/resolve_workers.py.
ER_WORKERS = "GRIDHUB_ER_WORKERS"
#: The log level ``resolve_entities`` hands to its child process (set by it, not by people).
ER_LOG_LEVEL = "GRIDHUB_ER_LOG_LEVEL"
