"""`python -m plugin worker --burst` with what its command line cannot choose, for `bench/worker_throughput.py`.

    .venv/bin/python -m bench._worker --simple       RQ's SimpleWorker: every job in the worker process itself
    .venv/bin/python -m bench._worker --preload      RQ's Worker (a forked work horse per job), with the job module
                                                     imported before the first fork

(The environment as for `python -m plugin worker`.) This mirrors `plugin.__main__.work` apart from these two choices,
so that the rows of the benchmark differ in nothing else. RQ's Worker imports a job's module by its import path in
the work horse; when the worker process never imported `worker.jobs` itself, every forked horse imports it afresh.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from rq import SimpleWorker, Worker
from rq.serializers import JSONSerializer

from plugin import logs
from plugin.config import Settings
from plugin.connection import connect
from plugin.intake import QUEUES


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--simple", action="store_true", help="RQ's SimpleWorker (no fork per job)")
    parser.add_argument("--preload", action="store_true", help="import worker.jobs before the first job")
    args = parser.parse_args()
    if args.preload:
        importlib.import_module("worker.jobs")
    logs.configure()
    connection = connect(Settings.from_env(), health_check_interval=30)
    worker_class = SimpleWorker if args.simple else Worker
    worker = worker_class(list(QUEUES), connection=connection, serializer=JSONSerializer)
    worker.work(with_scheduler=True, burst=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
