"""What a `dvx queue start` stopped by Ctrl-C (SIGTERM, SIGHUP) says: the state it leaves each
entry it had taken up in, and the command that goes on from there. Runs it started go on in
their own process groups; an entry it was readying to run (fetching the data its run needs,
making its worktree and starting its run there) had not started and stays queued. A stop that
leaves neither says only that nothing was left half-written."""

from __future__ import annotations

from dataclasses import dataclass

from dvx.errors import NOTHING_HALF_WRITTEN, STOPPED_BY, Interrupted, stop_status

FETCHING = "fetching the data its run needs into the cache"
# from making the worktree to the run launched, waiting on the queue's lock between the two
LAUNCHING = "making the worktree it runs in and starting its run there"


@dataclass
class Readying:
    """The entry `queue start` readies to run, from taking it up to launching its run, and
    the step it is at (FETCHING, LAUNCHING); `name` None between entries."""
    name: str | None = None
    step: str = ""


def stopped_start(stop: KeyboardInterrupt | Interrupted, going_on: list[str],
                  queued: Readying | None) -> Interrupted:
    """The error of a `queue start` that `stop` ended while the runs `going_on` went on, and
    the entry `queued` (None: none), still queued, was being readied to run. What an
    Interrupted `stop` said (a fetch's: how many objects came) is said first. Its hint says
    what running the command again does; `dvx queue start` going on with the entry says that
    instead, so it is kept only when no entry was being readied. That start fetches the rest
    only when the fetch stopped before every object came."""
    said = [stop.message if isinstance(stop, Interrupted) else f"{STOPPED_BY[stop_status(stop)]}."]
    hints = []
    name = queued.name if queued is not None else None  # of the entry being readied
    if (isinstance(stop, Interrupted) and stop.hint and stop.hint != NOTHING_HALF_WRITTEN
            and name is None):
        hints.append(stop.hint)
    if queued is not None and name is not None:
        fetching = queued.step == FETCHING
        all_came = isinstance(stop, Interrupted) and stop.every_object_moved
        said.append(f"'{name}' had not started: `dvx queue start` was {queued.step} when "
                    f"it stopped. It is still queued, with its snapshot" +
                    ("." if not fetching else ", and the data it fetched stays in the cache."
                     if all_came else ", and the data fetched so far stays in the cache."))
        hints.append("`dvx queue start` " + ("fetches the rest and " if fetching and not all_came
                                             else "") +
                     f"runs it, with the other experiments still queued (`dvx queue remove "
                     f"{name}` drops it).")
    if going_on:
        one = len(going_on) == 1
        them = "it" if one else "them"
        said.append(("The experiment it started goes on running, in its" if one else
                     "The experiments it started go on running, each in its")
                    + f" own process group: {', '.join(going_on)}.")
        hints.append(f"`dvx queue status` follows {them}: the first queue command after a run "
                     "ends records it (done if it recorded its experiment, else failed) and "
                     f"removes its worktree. `dvx queue stop` ends {them}" +
                     ("." if name is not None else
                      ", and `dvx queue start` runs the experiments still queued."))
    stopped = Interrupted(" ".join(said), " ".join(hints))
    stopped.exit_code = stop_status(stop)
    return stopped
