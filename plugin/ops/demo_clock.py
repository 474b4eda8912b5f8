"""`python -m plugin.ops.demo_clock SECONDS MODULE [ARGS…]`: run `python -m MODULE ARGS…` with its clock moved.

The demo plays a community's week in about a minute, then posts that week's digest — which the service rightly
refuses for a week that is not over. So every process of the story (the forum simulator, the receiver, the
workers) runs on a clock moved back into last week by the same number of seconds: the forum stamps posts, drafts
and decisions in that week, and the workers count likes in it, as they would have a week ago. Only the demo does
this; the digest itself is asked for on the real clock, once the week is over.

The wall clock is moved with time-machine (it patches the C functions behind `time.time` and `datetime.now`, so
code that imported them early and processes forked later — gunicorn's, RQ's — see the same moved clock, and it
ticks on). Monotonic clocks are left alone: timeouts and rate limits keep real seconds.
"""

from __future__ import annotations

import runpy
import sys
import time
from datetime import UTC, datetime

import time_machine

USAGE = "usage: python -m plugin.ops.demo_clock SECONDS MODULE [ARGS...]"


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(USAGE, file=sys.stderr)
        return 2
    try:
        seconds = float(argv[0])
    except ValueError:
        print(f"{USAGE}\nSECONDS must be a number, not {argv[0]!r}", file=sys.stderr)
        return 2
    module, args = argv[1], argv[2:]
    moved_to = datetime.fromtimestamp(time.time() + seconds, UTC)
    with time_machine.travel(moved_to, tick=True):
        sys.argv = [module, *args]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
