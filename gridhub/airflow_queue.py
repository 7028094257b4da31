"""Asset events queued for a DAG in Airflow's metadata DB, and clearing the ones a run already covered.

``make demo`` runs every ingest DAG and then ``gridhub_resolve_publish`` with ``airflow dags test``. Each ingest
run updates its feed's staging asset, and Airflow queues that event for ``gridhub_resolve_publish`` (its
schedule is ``AssetAny`` of the staging assets). No scheduler runs during the demo, so the queue outlives it:
the first scheduler that starts (``make airflow``) would turn it into one more resolve run, on inputs the demo's
own resolve run has already published. The demo clears the events queued before its resolve run started —
what ``DELETE /api/v2/dags/{dag_id}/assets/queuedEvents?before=…`` does on a running API server.

Run it inside the workspace's Airflow environment (``python -m gridhub.airflow_queue DAG_ID --before TIME``);
Airflow is imported only inside :func:`clear_queued_events`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys


def clear_queued_events(dag_id: str, before: dt.datetime) -> int:
    """Delete the asset events queued for ``dag_id`` at or before ``before``; return how many there were."""
    from airflow.models.asset import AssetDagRunQueue
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    with create_session() as session:
        result = session.execute(
            delete(AssetDagRunQueue).where(
                AssetDagRunQueue.target_dag_id == dag_id, AssetDagRunQueue.created_at <= before
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dag_id", help="the DAG whose queued asset events are cleared")
    p.add_argument("--before", required=True, help="ISO time with a zone: events queued after it are kept")
    args = p.parse_args(argv)
    n = clear_queued_events(args.dag_id, dt.datetime.fromisoformat(args.before))
    print(f"{n} queued asset event(s) of {args.dag_id} cleared")
    return 0


if __name__ == "__main__":
    sys.exit(main())
